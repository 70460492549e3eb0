"""The job queue: outbox semantics, outcomes, retries, leases, and no double runs."""
import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support.waiting import wait_until
from webapp.core.clock import utcnow
from webapp.jobs import PermanentFailure, RetryLater, enqueue, job_handler
from webapp.jobs import jobqueue as queue
from webapp.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from webapp.jobs.worker import Worker, execute
from webapp.stores.models import Store

RUNS = Counter()
RUNS_LOCK = threading.Lock()


def _count(job):
    with RUNS_LOCK:
        RUNS[job.payload["tag"]] += 1


@job_handler("test.record", max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
def record(job):
    _count(job)
    if job.payload.get("store"):
        # The handler's own write commits with the job's completion.
        from webapp.extensions import db
        db.session.add(Store(name=job.payload["store"]))
        db.session.flush()


@job_handler("test.retry", max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
def retry_then_note(job):
    _count(job)
    raise RetryLater(f"not yet (attempt {job.attempt})", delay=0)


@job_handler("test.permanent", max_attempts=5)
def permanent(job):
    from webapp.extensions import db
    db.session.add(Store(name=job.payload["store"]))
    db.session.flush()
    raise PermanentFailure("Casdoor has no such user; nothing to retry.")


@job_handler("test.crash", max_attempts=5, backoff_base=60, backoff_cap=120)
def crash(job):
    from webapp.extensions import db
    db.session.add(Store(name=job.payload["store"]))
    db.session.flush()
    raise RuntimeError("boom")


@job_handler("test.slow", max_attempts=3, lease_seconds=30)
def slow(job):
    _count(job)


@pytest.fixture(autouse=True)
def _reset_runs():
    RUNS.clear()


def _worker(app, **options):
    return Worker(app, poll_interval=0.01, **options)


def _job(db, job_id):
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(app, db):
    enqueue("test.record", {"tag": "ghost"})
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Job)).scalar_one() == 0
    assert _worker(app).run_until_idle() == 0
    assert RUNS["ghost"] == 0


def test_a_committed_job_runs_once_and_its_changes_commit_with_it(app, db):
    job = enqueue("test.record", {"tag": "once", "store": "from-a-job"})
    db.session.commit()
    assert _worker(app).run_until_idle() == 1
    assert RUNS["once"] == 1
    job = _job(db, job.id)
    assert (job.state, job.attempts, job.finished_at is not None, job.lease_token) == (DONE, 1, True, None)
    assert db.session.execute(sa.select(Store).filter_by(name="from-a-job")).scalar_one()
    assert _worker(app).run_until_idle() == 0


def test_unknown_kinds_are_refused_at_enqueue(app):
    with pytest.raises(ValueError, match="no handler"):
        enqueue("test.nobody-handles-this")


def test_retry_later_backs_off_then_gives_up_with_the_reason(app, db):
    job = enqueue("test.retry", {"tag": "retry"})
    db.session.commit()
    worker = _worker(app)
    for _ in range(3):
        worker.run_until_idle()
    job = _job(db, job.id)
    assert RUNS["retry"] == 3
    assert job.state == FAILED
    assert job.last_error.startswith("Gave up after 3 attempts") and "not yet (attempt 3)" in job.last_error


def test_backoff_grows_and_is_jittered(app):
    spec = queue.spec_for("test.slow")
    delays = [queue.backoff_delay(spec, attempt) for attempt in (1, 2, 3, 4) for _ in range(20)]
    first, fourth = delays[:20], delays[60:]
    assert all(0.5 <= d <= 1.0 for d in first)
    assert all(4.0 <= d <= 8.0 for d in fourth)
    assert len(set(first)) > 1, "no jitter"


def test_a_permanent_failure_keeps_the_handlers_changes_and_the_reason(app, db):
    job = enqueue("test.permanent", {"store": "kept-on-failure"})
    db.session.commit()
    _worker(app).run_until_idle()
    job = _job(db, job.id)
    assert (job.state, job.attempts) == (FAILED, 1)
    assert job.last_error == "Casdoor has no such user; nothing to retry."
    assert db.session.execute(sa.select(Store).filter_by(name="kept-on-failure")).scalar_one()


def test_an_unexpected_exception_discards_the_handlers_changes_and_retries(app, db):
    job = enqueue("test.crash", {"store": "never-saved"})
    db.session.commit()
    _worker(app).run_until_idle()
    job = _job(db, job.id)
    assert (job.state, job.attempts) == (QUEUED, 1)
    assert job.last_error == "RuntimeError: boom"
    assert job.run_after > utcnow() + timedelta(seconds=20), "retried without backoff"
    assert db.session.execute(sa.select(Store).filter_by(name="never-saved")).scalar_one_or_none() is None


def test_dedupe_key_gives_one_unfinished_job_per_key(app, db):
    first = enqueue("test.record", {"tag": "d"}, dedupe_key="index-file:1")
    second = enqueue("test.record", {"tag": "d"}, dedupe_key="index-file:1")
    db.session.commit()
    assert first.id == second.id
    _worker(app).run_until_idle()
    assert RUNS["d"] == 1
    third = enqueue("test.record", {"tag": "d"}, dedupe_key="index-file:1")
    db.session.commit()
    assert third.id != first.id, "a finished job frees its key"


def test_a_lapsed_lease_is_taken_over_and_the_old_worker_cannot_settle(app, db):
    job = enqueue("test.slow", {"tag": "lease"})
    db.session.commit()
    with app.app_context():
        stale = queue.claim("dead-worker")[0]
    assert _job(db, job.id).state == RUNNING
    # Nobody else may take it while the lease holds.
    assert _worker(app).run_until_idle() == 0
    # The dead worker's lease lapses: another worker takes the job over.
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _worker(app).run_until_idle() == 1
    assert RUNS["lease"] == 1
    job = _job(db, job.id)
    assert (job.state, job.attempts) == (DONE, 2)
    # The first worker wakes up: its settlement is refused, the job stays done.
    with app.app_context():
        assert execute(stale) is None
    assert _job(db, job.id).state == DONE


def test_heartbeat_extends_the_lease_and_reports_a_lost_one(app, db):
    enqueue("test.slow", {"tag": "hb"})
    db.session.commit()
    with app.app_context():
        claimed = queue.claim("w")[0]
        before = db.session.get(Job, claimed.id).lease_until
        assert claimed.heartbeat(600)
        db.session.expire_all()
        assert db.session.get(Job, claimed.id).lease_until > before
        claimed.token = "someone-else"
        assert not claimed.heartbeat()


@pytest.mark.serial
def test_concurrent_workers_never_run_a_job_twice(app, db):
    ids = [enqueue("test.slow", {"tag": f"c{n}"}).id for n in range(120)]
    db.session.commit()
    worker = _worker(app, threads=4, batch=5)
    thread = worker.start_in_background()

    def all_done():
        done = db.session.execute(sa.select(sa.func.count()).select_from(Job).where(Job.state == DONE)).scalar_one()
        db.session.rollback()
        return done == len(ids)

    try:
        wait_until(all_done, timeout=120, message=f"{len(ids)} jobs done")
    finally:
        worker.stop.set()
        thread.join(10)
    assert sorted(RUNS.values()) == [1] * len(ids), "a job ran twice or not at all"
    assert {job.state for job in db.session.execute(sa.select(Job)).scalars()} == {DONE}


def test_retry_failed_requeues_with_fresh_attempts(app, db):
    job = enqueue("test.permanent", {"store": "x1"})
    db.session.commit()
    _worker(app).run_until_idle()
    assert _job(db, job.id).state == FAILED
    assert queue.retry_failed([job.id]) == 1
    db.session.commit()
    job = _job(db, job.id)
    assert (job.state, job.attempts) == (QUEUED, 0)


def test_a_claim_takes_at_most_its_limit_when_the_statistics_saw_no_queued_job(app, db):
    """The queue's statistics were gathered while every job was done (the usual state of the
    table); then a burst is queued. Planned from those statistics, a claim must still take
    ``limit`` jobs, not the burst: the other workers and threads need their share."""
    now = utcnow()
    db.session.execute(sa.insert(Job), [{"kind": "test.slow", "payload": {}, "state": DONE, "attempts": 1,
                                         "max_attempts": 3, "run_after": now, "created_at": now,
                                         "updated_at": now, "finished_at": now} for _ in range(2000)])
    db.session.commit()
    db.session.execute(sa.text("ANALYZE jobs"))
    db.session.commit()
    ids = [enqueue("test.slow", {"tag": f"burst{n}"}).id for n in range(200)]
    db.session.commit()
    with app.app_context():
        claimed = queue.claim("w", limit=10)
    assert [job.id for job in claimed] == ids[:10]
    states = Counter(db.session.execute(sa.select(Job.state).where(Job.id.in_(ids))).scalars())
    assert states == {RUNNING: 10, QUEUED: 190}
