"""Reading and writing session rows; writes on connections of their own.

The session store never writes through the request's ORM session: a session row is
written in a short transaction of its own, so saving a session can never
commit (or wait on) whatever the view left uncommitted. Only the view commits
the view's work.

Who a key belongs to (``SessionRecord``) is read on every request, so it is
cached for ``AUTH_CACHE_SECONDS`` (see ``webapp.cache``); the session's data is
loaded only when the request reads it, which API calls authenticated by a
``Token`` header never do.
"""
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from webapp.cache import make_cache
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.sessions.models import Session, hash_key

log = logging.getLogger("webapp.sessions")

_TABLE = Session.__table__


@dataclass
class SessionRecord:
    """Who a session key belongs to; cacheable (no session data in it)."""

    id: int
    key_hash: str
    user_id: int | None
    auth_method: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def to_cache(self):
        return {**asdict(self), **{name: getattr(self, name).isoformat()
                                   for name in ("created_at", "last_seen_at", "expires_at")}}

    @classmethod
    def from_cache(cls, data):
        return cls(**{**data, **{name: datetime.fromisoformat(data[name])
                                 for name in ("created_at", "last_seen_at", "expires_at")}})

    @property
    def is_active(self):
        return self.expires_at > utcnow()


class SessionStore:
    def __init__(self, app):
        self.idle = timedelta(days=app.config["SESSION_LIFETIME_DAYS"])
        self.absolute = timedelta(days=app.config["SESSION_ABSOLUTE_LIFETIME_DAYS"])
        self.touch_interval = timedelta(seconds=app.config["SESSION_TOUCH_INTERVAL"])
        self.cache = make_cache(app, "sessions", app.config["AUTH_CACHE_SECONDS"])

    def expiry(self, created_at, now):
        """Idle expiry, never past the absolute lifetime counted from sign-in."""
        return min(now + self.idle, created_at + self.absolute)

    # -- reading ------------------------------------------------------------

    def load_record(self, key):
        """The active ``SessionRecord`` of ``key``, or None (unknown, revoked or expired)."""
        key_hash = hash_key(key)
        cached = self.cache.get(key_hash)
        if cached is not None:
            record = SessionRecord.from_cache(cached)
            return record if record.is_active else None
        with db.engine.connect() as connection:
            row = connection.execute(
                sa.select(_TABLE.c.id, _TABLE.c.user_id, _TABLE.c.auth_method, _TABLE.c.created_at,
                          _TABLE.c.last_seen_at, _TABLE.c.expires_at, _TABLE.c.revoked_at)
                .where(_TABLE.c.key_hash == key_hash)
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        record = SessionRecord(row.id, key_hash, row.user_id, row.auth_method, row.created_at,
                               row.last_seen_at, row.expires_at)
        if not record.is_active:
            return None
        self.cache.set(key_hash, record.to_cache())
        return record

    def load_data(self, record):
        """The session's data, read on the request's own connection.

        The data is read while the view runs, when the request already holds a
        pooled connection: a connection of its own here would make every page
        take two at once, and a pool sized for one per thread would run dry
        (threads waiting on each other until the pool timeout). Reading commits
        nothing, so the view's transaction is not disturbed; writes still go
        through connections of their own, after the view's transaction ended.
        """
        data = db.session.execute(sa.select(_TABLE.c.data).where(_TABLE.c.id == record.id)).scalar()
        return dict(data or {})

    # -- writing ------------------------------------------------------------

    def create(self, key, *, user_id, auth_method, data, ip, user_agent):
        now = utcnow()
        values = dict(key_hash=hash_key(key), user_id=user_id, auth_method=auth_method, data=data,
                      created_at=now, last_seen_at=now, expires_at=self.expiry(now, now),
                      ip=(ip or "")[:64], user_agent=(user_agent or "")[:255])
        with db.engine.begin() as connection:
            record_id = connection.execute(sa.insert(_TABLE).values(**values).returning(_TABLE.c.id)).scalar_one()
        return SessionRecord(record_id, values["key_hash"], user_id, auth_method, now, now, values["expires_at"])

    def save_changes(self, record, changed, removed, *, touch=False):
        """Merge this request's changes into the stored data: only the keys it set or
        removed are written, so two tabs of one browser do not erase each other's state."""
        now = utcnow()
        with db.engine.begin() as connection:
            query = sa.select(_TABLE.c.data).where(_TABLE.c.id == record.id)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            stored = connection.execute(query).scalar()
            data = dict(stored or {})
            for key in removed:
                data.pop(key, None)
            data.update(changed)
            values = {"data": data}
            if touch:
                values.update(last_seen_at=now, expires_at=self.expiry(record.created_at, now))
            connection.execute(sa.update(_TABLE).where(_TABLE.c.id == record.id).values(**values))
        if touch:
            record.last_seen_at, record.expires_at = values["last_seen_at"], values["expires_at"]
            self.cache.delete(record.key_hash)

    def touch(self, record):
        """Record activity (at most every SESSION_TOUCH_INTERVAL): the idle expiry moves on."""
        now = utcnow()
        record.last_seen_at, record.expires_at = now, self.expiry(record.created_at, now)
        with db.engine.begin() as connection:
            connection.execute(sa.update(_TABLE).where(_TABLE.c.id == record.id).values(
                last_seen_at=record.last_seen_at, expires_at=record.expires_at))
        self.cache.delete(record.key_hash)

    def needs_touch(self, record):
        return utcnow() - record.last_seen_at > self.touch_interval

    def revoke(self, key_hashes):
        """Revoke sessions by key hash, now, in this process's cache and the shared one."""
        if not key_hashes:
            return 0
        with db.engine.begin() as connection:
            result = connection.execute(
                sa.update(_TABLE).where(_TABLE.c.key_hash.in_(list(key_hashes)), _TABLE.c.revoked_at.is_(None))
                .values(revoked_at=utcnow()))
        for key_hash in key_hashes:
            self.cache.delete(key_hash)
        return result.rowcount

    def forget(self, key_hashes):
        """Drop cached records whose rows a view changed (revoked) in its own transaction."""
        for key_hash in key_hashes:
            self.cache.delete(key_hash)
