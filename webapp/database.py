"""Engine set-up per dialect, and a savepoint that behaves the same on both.

SQLite is the zero-configuration database (``make run``, the test default),
PostgreSQL the production one. On SQLite every connection gets:

* ``journal_mode=WAL``: readers never block the writer, which matters as soon
  as a job worker writes while pages are read;
* ``foreign_keys=ON``: ``ON DELETE CASCADE`` / ``SET NULL`` act as on PostgreSQL;
* a busy timeout, so a writer waits for the lock instead of failing at once.

pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so reads run
without holding a snapshot (good for concurrency), but a ``SAVEPOINT`` issued
first would open a transaction that its ``RELEASE`` commits behind the
session's back; ``savepoint()`` opens the outer transaction first.
"""
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (the Session class the commit hooks listen on)

from webapp.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_pragmas(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def pool_options(config):
    """``SQLALCHEMY_ENGINE_OPTIONS`` with the connection pool sized for this process.

    Each thread serving a request holds at most one pooled connection for the
    request's work; a second one is taken only briefly (an answer stream's stop
    check, a session row written after the view's transaction ended). So the
    pool keeps one connection per thread (``WEB_THREADS``, plus the in-process
    job threads and two spare) and may open as many again under a burst. When
    every connection is taken anyway, a request waits ``DATABASE_POOL_TIMEOUT``
    seconds and is answered 503 (``webapp.errors``), never 500.

    An explicit ``poolclass`` (the tests' NullPool) or an in-memory SQLite
    database (one shared connection) is left as configured.
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    url = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if "poolclass" in options or in_memory:
        return options
    threads = max(1, config.get("WEB_THREADS", 16))
    job_threads = config.get("JOBS_WORKER_THREADS", 0) if config.get("JOBS_IN_PROCESS") else 0
    overflow = config.get("DATABASE_MAX_OVERFLOW", -1)
    options.setdefault("pool_size", config.get("DATABASE_POOL_SIZE") or threads + job_threads + 2)
    options.setdefault("max_overflow", threads if overflow is None or overflow < 0 else overflow)
    options.setdefault("pool_timeout", config.get("DATABASE_POOL_TIMEOUT", 10))
    return options


def init_app(app):
    """Bind ``db`` to the app with a pool sized for its threads, then the dialect's set-up."""
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = pool_options(app.config)
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)


@contextmanager
def savepoint():
    """``db.session.begin_nested()`` that stays inside the session's transaction on SQLite too.

    Use it to try an INSERT that may lose a race (unique constraint) without
    losing the rest of the request's work: catch ``IntegrityError`` outside it.
    """
    if db.engine.dialect.name == "sqlite":
        raw = db.session.connection().connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute("BEGIN")
    with db.session.begin_nested():
        yield


def on_commit(callback):
    """Run ``callback()`` after the request's transaction commits (never if it rolls back).

    For work that must follow a commit and is not itself data: dropping cache
    entries of rows the transaction changed, waking a worker.
    """
    db.session.info.setdefault("on_commit", []).append(callback)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _run_on_commit(session):
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        callback()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _drop_on_commit(session):
    session.info.pop("on_commit", None)
