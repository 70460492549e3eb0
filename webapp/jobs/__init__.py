"""The one background-work mechanism: a ``jobs`` table, claimed under a lease.

Indexing uploaded files, updating Homepages at Casdoor and delivering charges all
go through it, so there is one set of rules for "must happen, exactly once in
effect, even if a process dies":

* ``enqueue(kind, payload)`` adds a job in the caller's transaction (an outbox);
  ``enqueue_new`` the same in one statement, for a hot path (no dedupe key, no ORM object);
* ``@job_handler(kind)`` declares the function that does the work;
* ``flask jobs worker`` runs jobs in production (several, on several hosts:
  claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and SQLite's single
  writer lock otherwise); with ``JOBS_IN_PROCESS`` the web process runs a
  worker thread itself (the default, so ``make run`` needs nothing else).
"""
import logging
import threading

from webapp.jobs.errors import PermanentFailure, RetryLater  # noqa: F401
from webapp.jobs.jobqueue import enqueue, enqueue_new  # noqa: F401
from webapp.jobs.registry import job_handler  # noqa: F401

log = logging.getLogger("webapp.jobs")

#: ``app.extensions`` key of the periodic jobs registered by :func:`schedule_periodic`.
PERIODIC_JOBS = "periodic_jobs"


def init_app(app):
    """``flask jobs``, and the in-process runner started by the first request when enabled."""
    from webapp.jobs.cli import jobs_cli
    from webapp.jobs.worker import Worker

    app.cli.add_command(jobs_cli)
    if not app.config["JOBS_IN_PROCESS"]:
        return
    lock = threading.Lock()
    started = []

    def start_runner():
        # Started by a request, not by create_app: `flask db upgrade` and other
        # commands build the app too and must not start working the queue.
        if started:
            return
        with lock:
            if not started:
                runner = Worker(app, threads=app.config["JOBS_WORKER_THREADS"],
                                batch=app.config["JOBS_BATCH_SIZE"],
                                poll_interval=app.config["JOBS_POLL_INTERVAL"], name="jobs-in-process")
                runner.start_in_background()
                started.append(runner)
                app.extensions["jobs_runner"] = runner

    app.before_request(start_runner)


def schedule_periodic(app, schedule, what):
    """Make sure the periodic job ``schedule`` queues is queued, by every kind of process.

    ``schedule()`` queues the next run of a periodic job (deduplicated per time slot,
    flush only; the job queues its successor when it runs); ``what`` names it in the log.
    It is called once per web process, at its first request (not in ``create_app``:
    `flask db upgrade` and other commands build the app too), and by every
    ``flask jobs worker`` when it starts (see :func:`queue_periodic_jobs`), so a
    deployment whose web processes see no traffic, or that has only workers, still
    runs its syncs and purges. When the database is down the failure is logged and
    the next process (or the job's own rescheduling) queues it.
    """
    app.extensions.setdefault(PERIODIC_JOBS, []).append((schedule, what))
    lock = threading.Lock()
    done = []

    def schedule_once():
        if done:
            return
        with lock:
            if done:
                return
            done.append(True)
        _queue(schedule, what)

    app.before_request(schedule_once)


def queue_periodic_jobs(app):
    """Queue every periodic job registered with :func:`schedule_periodic`, each committed alone.

    :returns: the names of those that could not be queued (logged), for the caller to report.
    """
    return [what for schedule, what in app.extensions.get(PERIODIC_JOBS, ()) if not _queue(schedule, what)]


def _queue(schedule, what):
    from webapp.extensions import db

    try:
        schedule()
        db.session.commit()
        return True
    except Exception:  # the database may be down: the caller answers for itself
        db.session.rollback()
        log.exception("Could not queue %s", what)
        return False
