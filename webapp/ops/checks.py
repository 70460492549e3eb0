"""What readiness asks of each dependency, each answer ``{"ok": bool, "error"?: str}``.

* ``database``: a connection answers and the schema is at the newest migration
  (code newer than its schema must not take traffic: ``flask db upgrade`` first);
* ``redis`` (and ``rate_limit_storage`` when it is another server): when
  ``CACHE_URL`` / ``RATELIMIT_STORAGE_URI`` name one, it answers PING;
* ``object_store``: with ``KNOWLEDGE_STORAGE_URL=s3://…``, the bucket answers
  (registered by the knowledge feature in ``app.extensions["storehouse_readiness"]``).

A check never raises: what failed is said in a line that names no secret (the
exception's class and first line; URLs are never echoed, they may hold passwords).
"""
import logging

import sqlalchemy as sa
from flask import current_app

from webapp.core.errors import StorehouseError
from webapp.extensions import db

log = logging.getLogger("webapp.ops")

#: Seconds a dependency may take to answer a readiness check.
CHECK_TIMEOUT = 2.0


def _failure(exc):
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return {"ok": False, "error": f"{type(exc).__name__}: {first_line}"[:300]}


def migration_heads(app):
    """The newest migration revision(s) the code ships (read once per process)."""
    heads = app.extensions.get("storehouse_migration_heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        directory = app.extensions["migrate"].directory
        heads = app.extensions["storehouse_migration_heads"] = frozenset(ScriptDirectory(directory).get_heads())
    return heads


def check_database(app):
    try:
        with db.engine.connect() as connection:
            current = set(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    except Exception as exc:  # noqa: BLE001  (any failure means "not ready", said in the answer)
        return _failure(exc)
    expected = migration_heads(app)
    if current != expected:
        return {"ok": False, "error": f"the schema is at {', '.join(sorted(current)) or 'no revision'}, "
                                      f"this code needs {', '.join(sorted(expected))}: run flask db upgrade"}
    return {"ok": True}


def check_redis(url):
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001
        return _failure(exc)
    return {"ok": True}


def _is_redis(url):
    return url.split("://", 1)[0] in {"redis", "rediss", "unix"} if "://" in url else False


def run_all(app=None):
    """Every check that applies to this configuration, by name, in a stable order."""
    app = app or current_app._get_current_object()
    results = {"database": check_database(app)}
    cache_url = app.config.get("CACHE_URL", "")
    limits_url = app.config.get("RATELIMIT_STORAGE_URI", "")
    if _is_redis(cache_url):
        results["redis"] = check_redis(cache_url)
    if _is_redis(limits_url) and limits_url != cache_url:
        results["rate_limit_storage"] = check_redis(limits_url)
    for name, check in app.extensions.get("storehouse_readiness", {}).items():
        try:
            results[name] = check()
        except StorehouseError as exc:
            results[name] = {"ok": False, "error": getattr(exc, "detail", None) or exc.message}
        except Exception as exc:  # noqa: BLE001
            results[name] = _failure(exc)
    for name, result in results.items():
        if not result["ok"]:
            log.warning("Not ready: %s: %s", name, result["error"])
    return results
