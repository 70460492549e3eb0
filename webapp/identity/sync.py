"""The Casdoor sync: what webhooks missed, applied at the latest one run later.

Every CASDOOR_SYNC_MINUTES a job pages through the organization's users in
Casdoor (``/api/get-users``, CASDOOR_SYNC_PAGE_SIZE a page, at most
CASDOOR_SYNC_MAX_USERS a run) and applies each one's record to its local
account, as a webhook would. A linked account Casdoor's complete listing did
not contain is read by its id before anything is concluded (at most
MAX_CONFIRMATIONS a run), so a user added or removed while the pages were read
is not mistaken for a deleted one.

Casdoor unreachable or refusing: the run is recorded as failed, the job is
retried, and nobody is signed out (an unanswered question deletes no one; what
the pages already read said is kept, since it is what Casdoor said).
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.casdoor.errors import CasdoorError
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.identity import service
from webapp.identity.models import FAILED, SUCCEEDED, SyncRun
from webapp.jobs import RetryLater, enqueue, job_handler
from webapp.users.models import User

log = logging.getLogger("webapp.identity")

SYNC_JOB = "casdoor.sync"
#: Linked accounts missing from a complete listing that one run reads by id.
MAX_CONFIRMATIONS = 100


def _sync_minutes():
    return current_app.config["CASDOOR_SYNC_MINUTES"]


def schedule_next(now=None):
    """Queue the next periodic run (flushes). One job per time slot, however many processes ask."""
    minutes = _sync_minutes()
    if minutes <= 0:
        return None
    now = now or utcnow()
    period = timedelta(minutes=minutes)
    slot = int(now.timestamp() // period.total_seconds()) + 1
    return enqueue(SYNC_JOB, {"source": "job"}, dedupe_key=f"casdoor-sync:{slot}", run_after=now + period)


def _linked_accounts(subjects):
    if not subjects:
        return {}
    rows = db.session.execute(sa.select(User).where(User.casdoor_sub.in_(subjects))).scalars()
    return {user.casdoor_sub: user for user in rows}


def run_sync(casdoor, *, source):
    """One sync run (flushes; the caller commits). Returns the ``SyncRun``, state set.

    :raises CasdoorError: Casdoor could not be read; the run is recorded as failed first
        (flushed: commit it, the changes already applied are Casdoor's word too).
    """
    config = current_app.config
    page_size, budget = max(1, config["CASDOOR_SYNC_PAGE_SIZE"]), max(1, config["CASDOOR_SYNC_MAX_USERS"])
    organization = casdoor.settings.organization
    run = SyncRun(source=source, started_at=utcnow(), users_read=0, users_changed=0, error="")
    db.session.add(run)
    db.session.flush()
    seen = set()
    complete = False
    try:
        page = 1
        while run.users_read < budget:
            # Every page has the same size (page numbers count in it); the budget trims the last one.
            records, total = casdoor.api.get_users(page=page, page_size=page_size, owner=organization)
            last_page = len(records) < page_size
            records = records[:budget - run.users_read]
            subjects = [str(r.get("id")) for r in records if isinstance(r, dict) and r.get("id")]
            seen.update(subjects)
            accounts = _linked_accounts(subjects)
            for record in records:
                user = accounts.get(str(record.get("id"))) if isinstance(record, dict) else None
                if user is not None and service.apply_casdoor_user(casdoor.settings, user, record, source="sync"):
                    run.users_changed += 1
            run.users_read += len(records)
            if last_page or (total is not None and run.users_read >= total):
                complete = True
                break
            page += 1
        if complete:
            run.users_changed += _confirm_missing(casdoor, organization, seen)
    except CasdoorError as exc:
        run.state, run.finished_at, run.error = FAILED, utcnow(), exc.message[:1000]
        db.session.flush()
        log.warning("Casdoor sync %s failed after %d user(s): %s", run.id, run.users_read, exc.message)
        raise
    run.state, run.finished_at = SUCCEEDED, utcnow()
    if not complete:
        run.error = (f"Stopped at CASDOOR_SYNC_MAX_USERS ({budget}); accounts beyond it and deletions "
                     "were not checked in this run.")
    db.session.flush()
    log.info("Casdoor sync %s: %d user(s) read, %d changed", run.id, run.users_read, run.users_changed)
    return run


def _confirm_missing(casdoor, organization, seen):
    """Read by id the linked accounts of ``organization`` that the listing did not contain."""
    missing = db.session.execute(
        sa.select(User).where(User.casdoor_sub.is_not(None), User.casdoor_org == organization,
                              sa.or_(User.casdoor_blocked_reason.is_(None), User.casdoor_blocked_reason != "deleted"))
        .order_by(User.id)).scalars()
    changed = checked = 0
    for user in missing:
        if user.casdoor_sub in seen:
            continue
        if checked >= MAX_CONFIRMATIONS:
            break
        checked += 1
        record = casdoor.api.get_user(user_id=user.casdoor_sub, owner=organization)
        if service.apply_casdoor_user(casdoor.settings, user, record, source="sync"):
            changed += 1
    return changed


@job_handler(SYNC_JOB, max_attempts=5, lease_seconds=600, backoff_base=30.0, backoff_cap=600.0)
def sync_job(job):
    """The periodic run; the next one is queued when this one succeeds or gives up."""
    from webapp.casdoor import get_casdoor

    casdoor = get_casdoor()
    if casdoor is None:
        return
    try:
        run_sync(casdoor, source=job.payload.get("source", "job"))
    except CasdoorError as exc:
        if job.attempt >= job.max_attempts:
            schedule_next()
        raise RetryLater(f"Casdoor could not be read: {exc.message}") from None
    schedule_next()
