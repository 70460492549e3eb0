"""Retention: events older than AUDIT_RETENTION_DAYS are removed by a daily job."""
import logging
from datetime import timedelta

from flask import current_app

from webapp.audit.models import AuditEvent
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs import enqueue, job_handler

log = logging.getLogger("webapp.audit")

RETENTION_JOB = "audit.purge"
#: Rows deleted per statement; a longer backlog continues in a follow-up job.
PURGE_BATCH = 5000


def purge_expired(days, now=None):
    """Delete up to PURGE_BATCH events older than ``days`` (flushes); returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    ids = db.session.execute(db.select(AuditEvent.id).where(AuditEvent.created_at < cutoff)
                             .order_by(AuditEvent.created_at, AuditEvent.id).limit(PURGE_BATCH)).scalars().all()
    if ids:
        db.session.execute(db.delete(AuditEvent).where(AuditEvent.id.in_(ids)))
    return len(ids)


def schedule_purge(now=None):
    """Queue tomorrow's purge (flushes); one per day however many processes ask."""
    now = now or utcnow()
    day = int(now.timestamp() // 86400) + 1
    return enqueue(RETENTION_JOB, {}, dedupe_key=f"audit-purge:{day}", run_after=now + timedelta(days=1))


@job_handler(RETENTION_JOB, max_attempts=3)
def purge_job(job):
    purged = purge_expired(current_app.config["AUDIT_RETENTION_DAYS"])
    if purged:
        log.info("Security log: %d event(s) past AUDIT_RETENTION_DAYS removed", purged)
    if purged >= PURGE_BATCH:
        enqueue(RETENTION_JOB, {}, dedupe_key=f"audit-purge:more:{job.id}")
    else:
        schedule_purge()
