"""Putting jobs in the queue, claiming them under a lease, and settling them.

The rules that make the queue safe with several workers on several hosts:

* a claim is one ``UPDATE … WHERE id = ANY(ARRAY(SELECT … LIMIT n FOR UPDATE SKIP
  LOCKED))`` on PostgreSQL (at most ``n`` jobs, whatever plan is chosen); on SQLite
  ``… WHERE id IN (SELECT … LIMIT n)`` runs under SQLite's single writer lock, so two
  workers can never both claim one job;
* a claim sets a fresh ``lease_token`` and ``lease_until``; settling a job
  (done, retry, failed) only happens ``WHERE lease_token = <ours>``, so a worker
  whose lease lapsed (it hung, or was killed and came back) cannot overwrite the
  work of the worker that took the job over;
* ``attempts`` is incremented by the claim, in the claim's own committed
  transaction: a handler that sees ``job.attempt > 1`` knows an earlier try may
  have done part of its work (the billing delivery looks its charge up first).
"""
import functools
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.core.clock import utcnow
from webapp.database import savepoint
from webapp.extensions import db
from webapp.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from webapp.jobs.registry import JobSpec, spec_for

log = logging.getLogger("webapp.jobs")

#: Stored errors are for people; a traceback-sized text is cut.
ERROR_MAX_LENGTH = 2000


def _spec(kind):
    """The ``JobSpec`` of ``kind``; a kind nobody handles is refused before anything is queued."""
    spec = spec_for(kind)
    if spec is None:
        raise ValueError(f"no handler is registered for job kind {kind!r}")
    return spec


def enqueue(kind, payload=None, *, dedupe_key=None, run_after=None, max_attempts=None):
    """Add a job in the caller's transaction and return it (flushes; the caller commits).

    Because the job row commits or rolls back with the caller's own changes, work
    that must follow a change (index the uploaded file, deliver the charge of an
    answer) is never lost and never runs for a change that did not happen.

    :param dedupe_key: at most one unfinished job per key: when one exists (queued
        or running), it is returned and nothing is added.
    :param run_after: not before this (naive UTC) time.
    """
    spec = _spec(kind)
    if dedupe_key is not None:
        existing = _unfinished(dedupe_key)
        if existing is not None:
            return existing
    now = utcnow()
    job = Job(kind=kind, payload=dict(payload or {}), state=QUEUED, attempts=0,
              max_attempts=max_attempts or spec.max_attempts, run_after=run_after or now,
              dedupe_key=dedupe_key, created_at=now, updated_at=now)
    if dedupe_key is None:
        db.session.add(job)
        db.session.flush()
        return job
    # Two requests may enqueue the same key at once: the unique index decides,
    # and the loser adopts the winner's job instead of failing its request.
    try:
        with savepoint():
            db.session.add(job)
    except IntegrityError:
        existing = _unfinished(dedupe_key)
        if existing is None:
            raise
        return existing
    return job


def enqueue_new(kind, payload=None, *, session=None):
    """Add a job without a dedupe key in the caller's transaction and return its id (one
    ``INSERT``; the caller commits), like :func:`enqueue` but with no ORM object to flush.

    For work queued on a hot path, once per request (a priced answer's delivery), where the
    ORM's unit of work cost more than the insert itself. Nothing about the job differs.
    """
    spec = _spec(kind)
    now = utcnow()
    return (session or db.session).execute(_insert_statement(), {
        "kind": kind, "payload": dict(payload or {}), "state": QUEUED, "attempts": 0,
        "max_attempts": spec.max_attempts, "run_after": now, "created_at": now, "updated_at": now,
    }).scalar_one()


@functools.cache
def _insert_statement():
    # Built once per process (a Core insert on the table: no ORM bulk-insert machinery).
    return sa.insert(Job.__table__).returning(Job.__table__.c.id)


def insert_from(kind, rows, **payload):
    """``INSERT INTO jobs … SELECT … FROM rows``: one queued ``kind`` job per row of ``rows`` (a CTE
    or subquery), its payload the JSON object of ``payload``'s columns of that row. For a statement
    that writes the rows the jobs are about and queues their jobs at once (PostgreSQL's
    data-modifying CTEs); the caller builds it once per process. Due at ``b_job_now`` (bound).

    The jobs are the ones :func:`enqueue` adds (no dedupe key), and so is the check: ``kind``
    must have a handler when the statement is built.
    """
    spec = _spec(kind)
    table = Job.__table__
    now = sa.bindparam("b_job_now", type_=table.c.run_after.type)
    fields = [part for key, column in payload.items() for part in (sa.cast(sa.literal(key), sa.Text), column)]
    values = {"kind": sa.literal(kind), "payload": sa.func.json_build_object(*fields, type_=table.c.payload.type),
              "state": sa.literal(QUEUED), "attempts": sa.literal(0), "max_attempts": sa.literal(spec.max_attempts),
              "run_after": now, "created_at": now, "updated_at": now}
    return (sa.insert(table).from_select(list(values), sa.select(*values.values()).select_from(rows))
            .returning(table.c.id))


def _unfinished(dedupe_key):
    return db.session.execute(db.select(Job).filter_by(dedupe_key=dedupe_key)).scalar_one_or_none()


@dataclass
class ClaimedJob:
    """A job this worker holds. Handlers receive it as their only argument."""

    id: int
    kind: str
    payload: dict
    #: 1 for the first try; more means an earlier try may have done part of the work.
    attempt: int
    max_attempts: int
    token: str
    spec: JobSpec = field(repr=False, default=None)
    #: Set when a heartbeat found the job held by another worker (our lease lapsed).
    is_lost: bool = False

    @property
    def is_retry(self):
        return self.attempt > 1

    def heartbeat(self, seconds=None):
        """Extend the lease (long handlers call this between steps).

        Runs in a short transaction of its own connection, so call it while the
        handler holds no uncommitted writes (SQLite has one writer at a time).

        :returns: False when the lease was lost to another worker; the handler
            should stop, its work will be discarded.
        """
        seconds = seconds or self.spec.lease_seconds
        with db.engine.begin() as connection:
            result = connection.execute(
                sa.update(Job).where(Job.id == self.id, Job.lease_token == self.token, Job.state == RUNNING)
                .values(lease_until=utcnow() + timedelta(seconds=seconds), updated_at=utcnow())
            )
        if result.rowcount != 1:
            self.is_lost = True
        return not self.is_lost


def _due(now):
    return sa.or_(
        sa.and_(Job.state == QUEUED, Job.run_after <= now),
        sa.and_(Job.state == RUNNING, Job.lease_until < now),
    )


def claim(worker_name, *, limit=1, kinds=None, lease_seconds=None):
    """Claim up to ``limit`` due jobs for this worker and commit the claim.

    Jobs whose lease lapsed (their worker died or hung) are due again.

    :returns: a list of ``ClaimedJob``, oldest first.
    """
    now = utcnow()
    token = uuid.uuid4().hex
    candidates = sa.select(Job.id).where(_due(now)).order_by(Job.run_after, Job.id).limit(limit)
    if kinds:
        candidates = candidates.where(Job.kind.in_(list(kinds)))
    if db.engine.dialect.name == "postgresql":
        # ``id = ANY(ARRAY(SELECT …))`` runs the locking subquery once. As ``id IN (SELECT …)``
        # the planner may make it the inner side of a nested loop (it does while the table's
        # statistics are stale, e.g. a queue that just filled up), running it again for every
        # due row: each run locks the next ``limit`` rows, and one claim took the whole queue.
        chosen = Job.id == sa.any_(sa.func.array(candidates.with_for_update(skip_locked=True).scalar_subquery()))
    else:
        chosen = Job.id.in_(candidates.scalar_subquery())
    # The lease is the longest of the claimed kinds' leases; refined per job below.
    lease = timedelta(seconds=lease_seconds or 60)
    rows = db.session.execute(
        sa.update(Job)
        .where(chosen, _due(now))
        .values(state=RUNNING, attempts=Job.attempts + 1, lease_token=token, leased_by=worker_name[:120],
                lease_until=now + lease, updated_at=now)
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    ).all()
    claimed = []
    for row in sorted(rows, key=lambda r: r.id):
        spec = spec_for(row.kind)
        if spec is not None and lease_seconds is None and spec.lease_seconds != 60:
            db.session.execute(sa.update(Job).where(Job.id == row.id, Job.lease_token == token)
                               .values(lease_until=now + timedelta(seconds=spec.lease_seconds)))
        claimed.append(ClaimedJob(row.id, row.kind, dict(row.payload or {}), row.attempts, row.max_attempts,
                                  token, spec))
    db.session.commit()
    return claimed


def _settle(job, **values):
    """Update ``job`` if we still hold its lease; True when we did (flushes, the runner commits)."""
    values.setdefault("updated_at", utcnow())
    # No session synchronisation: the runner never loads Job objects (a ClaimedJob is not one),
    # and "auto" would compare every object in the session (a batch's charges) with the WHERE.
    result = db.session.execute(
        sa.update(Job).where(Job.id == job.id, Job.lease_token == job.token, Job.state == RUNNING)
        .values(**values), execution_options={"synchronize_session": False}
    )
    return result.rowcount == 1


def _done_values(now):
    return {"state": DONE, "finished_at": now, "lease_until": None, "lease_token": None, "dedupe_key": None,
            "last_error": None, "updated_at": now}


def mark_done(job):
    """Finish ``job`` (in the runner's transaction, with the handler's changes)."""
    return _settle(job, **_done_values(utcnow()))


def mark_all_done(jobs):
    """Finish ``jobs`` in one statement per claim (one for a claimed batch), in the runner's
    transaction; flushes.

    :returns: the ids of those finished; a job missing from them was no longer ours
        (its lease lapsed and another worker holds it), and nothing was written for it.
    """
    claims = {}
    for job in jobs:
        claims.setdefault(job.token, []).append(job.id)
    values = _done_values(utcnow())
    finished = set()
    for token, ids in claims.items():
        finished.update(db.session.execute(
            sa.update(Job).where(Job.id.in_(ids), Job.lease_token == token, Job.state == RUNNING)
            .values(**values).returning(Job.id), execution_options={"synchronize_session": False}
        ).scalars())
    return finished


def backoff_delay(spec, attempt):
    """Seconds before the next try: exponential in ``attempt``, capped, with jitter
    (so that a hundred jobs failing together do not come back together)."""
    ceiling = min(spec.backoff_cap, spec.backoff_base * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def mark_retry(job, error, *, delay=None):
    """Put ``job`` back in the queue after ``delay`` (default: backoff), or fail it
    when it has used its attempts. Returns the new state, or None if the lease was lost."""
    error = (error or "")[:ERROR_MAX_LENGTH]
    if job.attempt >= job.max_attempts:
        return mark_failed(job, f"Gave up after {job.attempt} attempts. Last error: {error}")
    if delay is None:
        delay = backoff_delay(job.spec, job.attempt) if job.spec else 60
    if not _settle(job, state=QUEUED, run_after=utcnow() + timedelta(seconds=delay), lease_until=None,
                   lease_token=None, last_error=error):
        return None
    return QUEUED


def mark_failed(job, error):
    """Fail ``job`` for good; the reason stays for administrators (``flask jobs list --failed``)."""
    if not _settle(job, state=FAILED, finished_at=utcnow(), lease_until=None, lease_token=None,
                   dedupe_key=None, last_error=(error or "")[:ERROR_MAX_LENGTH]):
        return None
    log.warning("Job %s (%s) failed: %s", job.id, job.kind, error)
    return FAILED


def retry_failed(job_ids=None):
    """Queue failed jobs again (all, or ``job_ids``); returns how many. Flushes."""
    query = sa.update(Job).where(Job.state == FAILED)
    if job_ids:
        query = query.where(Job.id.in_(list(job_ids)))
    result = db.session.execute(query.values(state=QUEUED, attempts=0, run_after=utcnow(), finished_at=None,
                                             updated_at=utcnow()))
    return result.rowcount


def queue_stats():
    """``{(kind, state): (count, oldest created_at)}`` for unfinished and failed jobs (one query)."""
    rows = db.session.execute(
        sa.select(Job.kind, Job.state, sa.func.count(), sa.func.min(Job.created_at))
        .where(Job.state.in_([QUEUED, RUNNING, FAILED]))
        .group_by(Job.kind, Job.state)
    )
    return {(kind, state): (count, oldest) for kind, state, count, oldest in rows}
