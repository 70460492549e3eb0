"""Users by id for the request hot path: one cache hit instead of a SELECT.

The cached value is the row's column values; a hit becomes a persistent
``User`` in the request's session without a query (``merge(load=False)``), so
views use it like any loaded user and their changes are written as usual.
Committed changes to a user drop its entry at once (``after_commit``); a
change made by another process is seen within AUTH_CACHE_SECONDS.
"""
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import make_transient_to_detached

from webapp.cache import make_cache
from webapp.database import on_commit
from webapp.extensions import db
from webapp.users.models import User

_COLUMNS = [column.key for column in User.__table__.columns]
_DATETIMES = {column.key for column in User.__table__.columns if isinstance(column.type, sa.DateTime)}


def _cache():
    extensions = current_app.extensions
    if "users_cache" not in extensions:
        extensions["users_cache"] = make_cache(current_app, "users", current_app.config["AUTH_CACHE_SECONDS"])
    return extensions["users_cache"]


def _dump(user):
    values = {}
    for name in _COLUMNS:
        value = getattr(user, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _load(values):
    user = User(**{name: (datetime.fromisoformat(value) if name in _DATETIMES and value else value)
                   for name, value in values.items()})
    make_transient_to_detached(user)
    return db.session.merge(user, load=False)


def get_user(user_id):
    """The user ``user_id`` (cached), or None."""
    cached = _cache().get(str(user_id))
    if cached is not None:
        return _load(cached)
    user = db.session.get(User, user_id)
    if user is not None:
        _cache().set(str(user_id), _dump(user))
    return user


def forget_user(user_id):
    _cache().delete(str(user_id))


@sa.event.listens_for(User, "after_update")
@sa.event.listens_for(User, "after_delete")
def _forget_after_commit(mapper, connection, user):
    if has_app_context():
        user_id = user.id
        on_commit(lambda: forget_user(user_id))
