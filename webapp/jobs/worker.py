"""Running jobs: ``flask jobs worker`` in production, a thread of the web process for ``make run``.

Each job runs in a fresh database session inside the app context. The runner is
the one owner of the commit: a handler that returns normally has its changes
committed together with the job's completion; a handler that raises
``RetryLater`` or ``PermanentFailure`` has its changes committed with the job's
new state; any other exception rolls the handler's changes back and the job is
retried with backoff. Stopping (SIGTERM, Ctrl-C) lets the running job finish;
a worker killed outright loses nothing: its lease lapses and another worker
takes the job over.
"""
import logging
import os
import socket
import threading
import time

from webapp import metrics
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


class Worker:
    """Claims and runs jobs until ``stop`` is set.

    :param threads: jobs run in parallel (each thread claims its own).
    :param batch: jobs claimed per claim statement (fewer round trips under load).
    :param kinds: only these job kinds (default: all).
    """

    def __init__(self, app, *, threads=1, batch=1, kinds=None, poll_interval=0.5, name="worker"):
        self.app = app
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
        for job in claimed:
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
