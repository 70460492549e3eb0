"""The security log: who got in, and what changed who may do what.

``record_event`` adds an event to the caller's transaction, so it commits (or
rolls back) with what it records; ``record_event_now`` writes one on its own
connection for attempts that change nothing else (a failed sign-in, a refused
webhook). The retention job removes events older than AUDIT_RETENTION_DAYS.
The pages and the API are ``webapp.useradmin`` (a bound administrator sees only
their store's people).
"""
import logging

from flask import has_request_context, request

from webapp.audit.models import AuditEvent
from webapp.core.clock import utcnow
from webapp.extensions import db

log = logging.getLogger("webapp.audit")

KINDS = {
    "sign-in": "Signed in",
    "sign-in-failed": "Sign-in failed",
    "sign-out": "Signed out",
    "session-revoked": "Sessions revoked",
    "binding-changed": "Store binding changed",
    "admin-gained": "Became administrator",
    "admin-lost": "No longer administrator",
    "access-revoked": "Access revoked by Casdoor",
    "account-linked": "Casdoor account linked",
    "account-unlinked": "Casdoor account unlinked",
    "account-created": "Local account created",
    "account-disabled": "Account switched off",
    "account-enabled": "Account switched on",
    "store-granted": "Store granted",
    "store-refused": "Store taken away",
    "password-changed": "Password changed",
    "api-token-issued": "API token issued",
    "webhook-received": "Casdoor webhook received",
    "webhook-refused": "Casdoor webhook refused",
}

def _values(kind, user, actor, store, source, detail):
    if kind not in KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    ip = user_agent = ""
    if has_request_context():
        ip = (request.remote_addr or "")[:64]
        user_agent = (request.user_agent.string or "")[:255]
    return dict(kind=kind, created_at=utcnow(), user_id=getattr(user, "id", None),
                username=(getattr(user, "username", "") or "")[:64], actor_id=getattr(actor, "id", None),
                actor_name=(getattr(actor, "username", "") or "")[:64], store=(store or "")[:255],
                source=(source or "")[:20], ip=ip, user_agent=user_agent, detail=dict(detail))


def record_event(kind, *, user=None, actor=None, store=None, source="", **detail):
    """Add a security event to the caller's transaction (flushes; the caller commits).

    :param user: the person concerned (flushed, so it has an id).
    :param actor: who did it, when not the person (an administrator).
    :param store: the store concerned, by name.
    :param detail: JSON facts (old/new store, method, reason); never a secret.
    """
    event = AuditEvent(**_values(kind, user, actor, store, source, detail))
    db.session.add(event)
    db.session.flush()
    return event


def record_event_now(kind, *, user=None, actor=None, store=None, source="", **detail):
    """Write a security event at once on its own connection: for attempts that change nothing
    else and whose request commits nothing (a failed sign-in, a refused webhook)."""
    try:
        with db.engine.begin() as connection:
            connection.execute(AuditEvent.__table__.insert().values(**_values(kind, user, actor, store, source,
                                                                               detail)))
    except Exception:  # the answer to the attempt must not depend on the log
        log.exception("Could not write the %s audit event", kind)


def casdoor_facts(user):
    """What ``record_casdoor_changes`` compares: take it before applying Casdoor's word."""
    return {"homepage": user.casdoor_homepage, "is_admin": bool(user.casdoor_is_admin)}


def record_casdoor_changes(user, before, *, source):
    """Log a changed binding (old store -> new store) and admin rights gained or lost (flushes).

    :param before: ``casdoor_facts(user)`` taken before the change.
    :param source: where the change came from: sign-in, webhook, sync.
    """
    after = casdoor_facts(user)
    if after["homepage"] != before["homepage"]:
        record_event("binding-changed", user=user, store=after["homepage"] or "", source=source,
                     old=before["homepage"] or "", new=after["homepage"] or "")
    if after["is_admin"] != before["is_admin"]:
        record_event("admin-gained" if after["is_admin"] else "admin-lost", user=user, source=source)


def init_app(app):
    """The retention job, queued by every process (a web process's first request, a worker's start; one per day)."""
    from webapp.audit import retention
    from webapp.jobs import schedule_periodic

    if app.config["AUDIT_RETENTION_DAYS"] <= 0 or not app.config["AUDIT_PURGE_SCHEDULED"]:
        return
    schedule_periodic(app, retention.schedule_purge, "the security log's retention job")
