"""Revoking sessions from views and commands (flushes; the caller commits).

The cached record of a revoked session is dropped when the transaction
commits, in this process and in the shared cache, so the key stops working
at once here and within AUTH_CACHE_SECONDS in other processes without Redis.
"""
import sqlalchemy as sa
from flask import current_app

from webapp.audit import record_event
from webapp.core.clock import utcnow
from webapp.crypto import reencrypt, rotation
from webapp.database import on_commit
from webapp.extensions import db
from webapp.sessions.models import ID_TOKEN_PURPOSE, Session


def _forget_on_commit(key_hashes):
    if not key_hashes:
        return
    store = current_app.session_interface.store(current_app)
    on_commit(lambda: store.forget(key_hashes))


def revoke(query_filter):
    """Revoke the unrevoked sessions matching ``query_filter``; returns how many."""
    rows = db.session.execute(
        sa.select(Session.id, Session.key_hash).where(query_filter, Session.revoked_at.is_(None))
    ).all()
    if not rows:
        return 0
    db.session.execute(sa.update(Session).where(Session.id.in_([row.id for row in rows]))
                       .values(revoked_at=utcnow()))
    _forget_on_commit([row.key_hash for row in rows])
    return len(rows)


def revoke_user_sessions(user, *, keep_id=None, source="", actor=None, reason=""):
    """Sign ``user`` out everywhere, except the session ``keep_id`` (the one asking).

    Recorded in the security log (when any session ended) with ``source``, ``actor`` and ``reason``.
    """
    condition = Session.user_id == user.id
    if keep_id is not None:
        condition = sa.and_(condition, Session.id != keep_id)
    ended = revoke(condition)
    if ended:
        record_event("session-revoked", user=user, actor=actor, source=source, sessions=ended, reason=reason)
    return ended


@rotation("session id_tokens")
def reencrypt_session_secrets(batch=500):
    """Re-encrypt the Casdoor id_tokens kept by active sessions under the current key."""
    rotated = unreadable = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(Session).where(Session.id > last_id, Session.revoked_at.is_(None),
                                     Session.expires_at > utcnow()).order_by(Session.id).limit(batch)
        ).scalars().all()
        if not rows:
            return rotated, unreadable
        for row in rows:
            last_id = row.id
            token = (row.data or {}).get("casdoor_id_token")
            if not token:
                continue
            fresh = reencrypt(token, ID_TOKEN_PURPOSE)
            if fresh is None:
                unreadable += 1
                continue
            row.data = {**row.data, "casdoor_id_token": fresh}
            rotated += 1
        db.session.flush()
