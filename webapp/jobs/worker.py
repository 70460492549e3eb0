"""Running jobs: ``flask jobs worker`` in production, a thread of the web process for ``make run``.

Each job runs in a fresh database session inside the app context. The runner is
the one owner of the commit: a handler that returns normally has its changes
committed together with the job's completion; a handler that raises
``RetryLater`` or ``PermanentFailure`` has its changes committed with the job's
new state; any other exception rolls the handler's changes back and the job is
retried with backoff. Kinds declared ``commit_per_batch`` run the jobs of one claim
in one transaction instead (:func:`execute_together`), a savepoint per job; the
finished ones are settled in one statement and committed once per batch (or once
per ``JOBS_BATCH_COMMIT_SECONDS`` when the batch is slow). Stopping (SIGTERM,
Ctrl-C) lets the running job finish; a worker killed outright loses nothing: its
lease lapses and another worker takes the job over.
"""
import logging
import os
import socket
import threading
import time

from webapp import metrics
from webapp.database import savepoint
from webapp.extensions import db
from webapp.jobs import jobqueue as queue
from webapp.jobs.errors import PermanentFailure, RetryLater

log = logging.getLogger("webapp.jobs")


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def execute(job):
    """Run one claimed job and settle it. Returns the job's new state (None: lease lost)."""
    spec = job.spec
    if spec is None:
        state = queue.mark_failed(job, f"No handler is registered for job kind '{job.kind}' in this version "
                                       "of Storehouse (was it renamed or removed?).")
        db.session.commit()
        return state
    started = time.monotonic()
    try:
        spec.handler(job)
    except RetryLater as outcome:
        state = queue.mark_retry(job, outcome.message, delay=outcome.delay)
    except PermanentFailure as outcome:
        state = queue.mark_failed(job, outcome.message)
    except Exception as exc:  # an unexpected failure: discard the handler's changes
        db.session.rollback()
        log.exception("Job %s (%s) raised on attempt %s", job.id, job.kind, job.attempt)
        state = queue.mark_retry(job, f"{type(exc).__name__}: {exc}")
    else:
        state = queue.DONE if queue.mark_done(job) else None
    if state in (queue.QUEUED, queue.FAILED):
        metrics.job_failures.labels(job.kind, "retry" if state == queue.QUEUED else "failed").inc()
    if state is None:
        # Another worker holds the job now (our lease lapsed): its run counts, not ours.
        db.session.rollback()
        log.warning("Job %s (%s): lease lost after %.1f s; changes discarded", job.id, job.kind,
                    time.monotonic() - started)
        return None
    db.session.commit()
    log.debug("Job %s (%s) -> %s in %.3f s", job.id, job.kind, state, time.monotonic() - started)
    return state


def batch_commit_seconds(app):
    """``JOBS_BATCH_COMMIT_SECONDS``, or by default 1 s on PostgreSQL (where a commit waits for
    the disk, and the open transaction holds only the batch's own rows) and 0 on SQLite (a commit
    after every job: in WAL mode it does not wait for the disk, and an open transaction would hold
    the one writer lock, which answers and the other worker threads wait for, across Casdoor calls)."""
    configured = app.config.get("JOBS_BATCH_COMMIT_SECONDS")
    if configured is not None:
        return float(configured)
    return 1.0 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else 0.0


class _LeaseLost(Exception):
    """Settling found another worker holding the job: its savepoint is rolled back."""


class _HandlerRaised(Exception):
    """The handler raised something unexpected: its savepoint is rolled back, the job retried."""


def _run_nested(job):
    """Run one job of a batch in a savepoint (no commit). Returns its new state: a job that
    failed or is to be retried is settled now, one that is done (``DONE``) is left for
    :func:`_commit_outcomes` to settle with the others; None: lease lost."""
    started = time.monotonic()
    try:
        with savepoint():
            try:
                job.spec.handler(job)
            except RetryLater as outcome:
                state = queue.mark_retry(job, outcome.message, delay=outcome.delay)
            except PermanentFailure as outcome:
                state = queue.mark_failed(job, outcome.message)
            except Exception as exc:
                raise _HandlerRaised(f"{type(exc).__name__}: {exc}") from exc
            else:
                # A handler that found its lease lost (heartbeat) did nothing that may count.
                state = None if job.is_lost else queue.DONE
            if state is None:
                raise _LeaseLost
    except _LeaseLost:
        log.warning("Job %s (%s): lease lost after %.1f s; changes discarded", job.id, job.kind,
                    time.monotonic() - started)
        return None
    except _HandlerRaised as raised:
        log.error("Job %s (%s) raised on attempt %s", job.id, job.kind, job.attempt, exc_info=raised.__cause__)
        state = queue.mark_retry(job, str(raised))
    if state in (queue.QUEUED, queue.FAILED):
        metrics.job_failures.labels(job.kind, "retry" if state == queue.QUEUED else "failed").inc()
    return state


def _commit_outcomes(ran, states):
    """Settle the jobs of ``ran`` (run since the last commit) that are done, in one statement,
    and commit. When one of them turns out to be another worker's now (our lease lapsed while
    we ran it: a worker stalled for longer than the lease), its changes cannot be told apart
    from the others' any more (their savepoints are released), so the whole transaction is
    rolled back: every job of ``ran`` is left to its next try, which looks up what this one did
    (``attempt > 1``), as after a worker killed before its commit."""
    done = [job for job in ran if states[job.id] == queue.DONE]
    if done:
        finished = queue.mark_all_done(done)
        if len(finished) < len(done):
            db.session.rollback()
            log.warning("Jobs %s (%s): lease lost before the commit; the outcomes of %s job(s) since the last "
                        "commit discarded, their next tries look up what was done",
                        ", ".join(str(job.id) for job in done if job.id not in finished), ran[0].kind, len(ran))
            for job in ran:
                states[job.id] = None
            ran.clear()
            return
    db.session.commit()
    ran.clear()


def execute_together(jobs, *, window=0.25, claimed_at=None):
    """Run the jobs of one claim (all of ``commit_per_batch`` kinds) and commit their outcomes together.

    Each job runs in a savepoint: one that raises is rolled back alone, and the others commit.
    The jobs that are done are settled together at the commit (one statement, not one each);
    should one of them have been taken over by another worker meanwhile (our lease lapsed),
    the outcomes since the last commit are all discarded (see :func:`_commit_outcomes`). The
    open transaction is committed before the next job once it has been open ``window``
    seconds (on SQLite it holds the one writer lock while the next handler waits on the
    network), and before any job once a third of the lease has passed since ``claimed_at``
    (``time.monotonic()``; a handler may then renew its lease in a connection of its own,
    which must not wait on our uncommitted writes). A worker killed before a commit loses the
    outcomes since the last one, never the jobs: their leases lapse and the next try
    (``attempt > 1``) checks what was done.

    :returns: ``{job.id: state}`` (None: lease lost).
    """
    states = {}
    if not jobs:
        return states
    claimed_at = claimed_at if claimed_at is not None else time.monotonic()
    prepare = jobs[0].spec.prepare
    # Held for the batch: the session keeps loaded rows only while something refers to them.
    loaded = prepare(jobs) if prepare is not None else None  # noqa: F841
    opened = None
    ran = []  # since the last commit
    # What the batch loaded stays loaded across its own commits: reading it again inside the next
    # transaction would, on SQLite, take a snapshot that another writer's commit makes stale before
    # our first write ("database is locked" at once instead of waiting for the lock).
    session = db.session()  # this thread's Session behind the scoped one
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        for job in jobs:
            now = time.monotonic()
            if opened is not None and (now - opened >= window or now - claimed_at >= job.spec.lease_seconds / 3):
                _commit_outcomes(ran, states)
                opened = None
            if opened is None:
                opened = now
            states[job.id] = _run_nested(job)
            ran.append(job)
        _commit_outcomes(ran, states)
    finally:
        session.expire_on_commit = expire_on_commit
    return states


class Worker:
    """Claims and runs jobs until ``stop`` is set.

    :param threads: jobs run in parallel (each thread claims its own).
    :param batch: jobs claimed per claim statement (fewer round trips under load).
    :param kinds: only these job kinds (default: all).
    :param commit_window: seconds a batch of ``commit_per_batch`` jobs keeps its transaction
        open before committing what it has (default ``JOBS_BATCH_COMMIT_SECONDS``).
    """

    def __init__(self, app, *, threads=1, batch=1, kinds=None, poll_interval=0.5, name="worker",
                 commit_window=None):
        self.app = app
        self.commit_window = commit_window if commit_window is not None else batch_commit_seconds(app)
        self.threads = max(1, int(threads))
        self.batch = max(1, int(batch))
        self.kinds = list(kinds) if kinds else None
        self.poll_interval = poll_interval
        self.name = name
        self.stop = threading.Event()

    def run_batch(self):
        """Claim one batch and run it; returns how many jobs ran. Needs an app context."""
        try:
            claimed = queue.claim(worker_name(), limit=self.batch, kinds=self.kinds)
        except Exception:
            db.session.rollback()
            log.exception("Could not claim jobs (database unavailable?)")
            return 0
        claimed_at = time.monotonic()
        together = [job for job in claimed if job.spec is not None and job.spec.commit_per_batch]
        together_ids = {job.id for job in together}
        for kind in dict.fromkeys(job.kind for job in together):
            jobs = [job for job in together if job.kind == kind]
            try:
                execute_together(jobs, window=self.commit_window, claimed_at=claimed_at)
            except Exception:
                # The database went away mid-batch: the leases will lapse and the jobs
                # run again (checking first); nothing is lost.
                db.session.rollback()
                log.exception("Could not settle a batch of %s %s job(s)", len(jobs), kind)
            finally:
                db.session.remove()
        for job in claimed:
            if job.id in together_ids:
                continue
            try:
                execute(job)
            except Exception:
                # Settling failed (the database went away mid-job): the lease will
                # lapse and the job run again; nothing is lost.
                db.session.rollback()
                log.exception("Could not settle job %s (%s)", job.id, job.kind)
            finally:
                db.session.remove()
        return len(claimed)

    def _loop(self):
        with self.app.app_context():
            while not self.stop.is_set():
                ran = self.run_batch()
                db.session.remove()
                if not ran:
                    self.stop.wait(self.poll_interval)

    def run(self):
        """Run in this thread (and ``threads - 1`` more) until ``stop`` is set."""
        helpers = [threading.Thread(target=self._loop, name=f"{self.name}-{n}", daemon=True)
                   for n in range(1, self.threads)]
        for thread in helpers:
            thread.start()
        self._loop()
        for thread in helpers:
            thread.join()

    def start_in_background(self):
        """Run in a daemon thread (the in-process runner of ``make run``)."""
        thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        thread.start()
        return thread

    def run_until_idle(self, *, timeout=60):
        """Run due jobs until none is left (tests, ``flask jobs worker --once``). Returns the count.

        Jobs retried with a delay are left for later; this does not wait for them.
        """
        deadline = time.monotonic() + timeout
        total = 0
        with self.app.app_context():
            while time.monotonic() < deadline:
                ran = self.run_batch()
                db.session.remove()
                if not ran:
                    break
                total += ran
        return total
