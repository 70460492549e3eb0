"""The Casdoor sync: what webhooks missed reaches Storehouse one run later; Casdoor down signs nobody out.

No webhook is configured here, so every change made in Casdoor is "lost" until
the sync reads it (through ``flask casdoor sync`` or the periodic job).
"""
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from tests.support.casdoor import sso_sign_in
from tests.support.webhooks import admin_deletes_user
from webapp.audit.models import AuditEvent
from webapp.core.clock import utcnow
from webapp.extensions import db as _db
from webapp.identity.models import FAILED, SUCCEEDED, SyncRun
from webapp.identity.sync import SYNC_JOB
from webapp.jobs import enqueue
from webapp.jobs.models import Job
from webapp.users.models import User


@pytest.fixture
def sync_overrides():
    """Parametrize to change the sync's settings: ``{"CASDOOR_SYNC_PAGE_SIZE": 2}``."""
    return {}


@pytest.fixture
def app_config(sso_app_config, sync_overrides):
    return {**sso_app_config, "CASDOOR_SYNC_MINUTES": 10.0, **sync_overrides}


@pytest.fixture
def stores(create_store):
    return create_store("research"), create_store("general")


def status_of(client, path):
    _db.session.expire_all()  # as a new request would: nothing loaded yet
    response = client.get(path)
    response.close()
    return response.status_code


def sync_now(app):
    result = app.test_cli_runner().invoke(args=["casdoor", "sync"])
    _db.session.expire_all()
    return result


def runs():
    return _db.session.execute(sa.select(SyncRun).order_by(SyncRun.id)).scalars().all()


def test_a_change_whose_webhook_was_lost_is_applied_by_the_sync(app, client, db, casdoor, stores):
    sso_sign_in(client, "alice")
    assert status_of(client, "/api/v1/s/research/") == 200
    casdoor.controls.patch_user("storehouse", "alice", homepage="general")  # records nothing: no webhook
    assert status_of(client, "/api/v1/s/research/") == 200

    result = sync_now(app)
    assert result.exit_code == 0, result.output
    assert "5 user(s) read, 1 changed" in result.output
    assert status_of(client, "/api/v1/s/research/") == 404
    assert status_of(client, "/api/v1/s/general/") == 200
    [run] = runs()
    assert (run.state, run.source, run.users_read, run.users_changed) == (SUCCEEDED, "command", 5, 1)
    [moved] = db.session.execute(sa.select(AuditEvent).filter_by(kind="binding-changed")).scalars().all()
    assert (moved.username, moved.source, moved.detail) == ("alice", "sync", {"old": "research", "new": "general"})
    # and the next periodic run is queued, CASDOOR_SYNC_MINUTES from now
    job = db.session.execute(sa.select(Job).filter_by(kind=SYNC_JOB)).scalar_one()
    assert timedelta(minutes=9) < job.run_after - utcnow() <= timedelta(minutes=10)

    again = sync_now(app)
    assert "0 changed" in again.output


def test_a_person_deleted_in_casdoor_loses_access_at_the_next_sync(app, client, db, casdoor, stores):
    sso_sign_in(client, "bob")
    admin_deletes_user(casdoor, "bob")
    assert status_of(client, "/api/v1/me/") == 200
    assert sync_now(app).exit_code == 0
    assert status_of(client, "/api/v1/me/") == 401
    bob = db.session.execute(sa.select(User).filter_by(casdoor_name="bob")).scalar_one()
    assert bob.casdoor_blocked_reason == "deleted"


def test_a_forbidden_person_loses_access_at_the_next_sync(app, client, db, casdoor, stores):
    sso_sign_in(client, "alice")
    casdoor.controls.patch_user("storehouse", "alice", isForbidden=True)
    sync_now(app)
    assert status_of(client, "/api/v1/me/") == 401


@pytest.mark.parametrize("kind", ["http500", "timeout", "envelope"])
def test_casdoor_down_during_the_sync_signs_nobody_out_and_the_run_is_retried(app, client, db, casdoor, stores,
                                                                             run_jobs, kind):
    sso_sign_in(client, "alice")
    casdoor.controls.patch_user("storehouse", "alice", homepage="general")
    casdoor.controls.inject_fault("/api/get-users", kind, count=50, seconds=5)
    job_id = enqueue(SYNC_JOB, {"source": "job"}).id
    db.session.commit()
    run_jobs()
    assert status_of(client, "/api/v1/me/") == 200
    assert status_of(client, "/api/v1/s/research/") == 200       # nothing concluded from silence
    [run] = runs()
    assert run.state == FAILED and run.error and "client_secret" not in run.error
    job = db.session.get(Job, job_id)
    assert job.state == "queued" and job.attempts == 1 and "Casdoor could not be read" in job.last_error

    result = sync_now(app)
    assert result.exit_code != 0 and "nobody was signed out" in result.output
    assert status_of(client, "/api/v1/me/") == 200
    casdoor.controls.clear_faults()
    assert sync_now(app).exit_code == 0
    assert status_of(client, "/api/v1/s/research/") == 404


@pytest.mark.parametrize("sync_overrides", [{"CASDOOR_SYNC_PAGE_SIZE": 2}], ids=["pages-of-2"])
def test_the_sync_pages_through_casdoor(app, client, db, casdoor, stores):
    sso_sign_in(client, "dave")
    casdoor.controls.patch_user("storehouse", "dave", homepage="general")
    sync_now(app)
    [run] = runs()
    assert (run.users_read, run.users_changed) == (5, 1)


@pytest.mark.parametrize("sync_overrides", [{"CASDOOR_SYNC_PAGE_SIZE": 2, "CASDOOR_SYNC_MAX_USERS": 3}],
                         ids=["bounded"])
def test_a_run_is_bounded_and_concludes_no_deletion_from_an_incomplete_listing(app, client, db, casdoor, stores):
    sso_sign_in(client, "dave")
    result = sync_now(app)
    assert result.exit_code == 0 and "CASDOOR_SYNC_MAX_USERS" in result.output
    [run] = runs()
    assert run.users_read == 3
    assert status_of(client, "/api/v1/me/") == 200


def test_the_periodic_job_runs_and_queues_the_next(app, db, casdoor, run_jobs, stores):
    enqueue(SYNC_JOB, {"source": "job"})
    db.session.commit()
    run_jobs()
    [run] = runs()
    assert run.state == SUCCEEDED and run.source == "job"
    queued = db.session.execute(sa.select(Job).filter_by(kind=SYNC_JOB, state="queued")).scalar_one()
    assert queued.run_after > utcnow() + timedelta(minutes=9)


def test_sync_reads_with_application_credentials_only(casdoor):
    """Application-credential calls produce no webhook (Casdoor drops records of 'app' callers)."""
    before = len(casdoor.controls.webhook_deliveries())
    requests.get(f"{casdoor.url}/api/get-users", params={"owner": "storehouse", "p": 1, "pageSize": 2},
                 timeout=5)
    assert len(casdoor.controls.webhook_deliveries()) == before


def test_a_worker_queues_the_next_sync_without_any_web_request(app, db):
    # A deployment whose web processes have seen no request yet (or that runs workers
    # first) still syncs: every `flask jobs worker` queues the periodic jobs when it starts.
    assert db.session.execute(sa.select(Job).filter_by(kind=SYNC_JOB)).first() is None
    for _ in range(2):  # a second worker adds nothing: one run per time slot
        result = app.test_cli_runner().invoke(args=["jobs", "worker", "--once"])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    [job] = db.session.execute(sa.select(Job).filter_by(kind=SYNC_JOB)).scalars().all()
    assert timedelta(minutes=9) < job.run_after - utcnow() <= timedelta(minutes=10)
    assert job.state == "queued"
