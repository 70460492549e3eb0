"""What one pytest process keeps to itself when the suite runs in parallel (pytest-xdist).

``make test`` runs the tests in worker processes (``gw0``, ``gw1``, ...). Each worker has its
own temporary folders and SQLite files (pytest's ``tmp_path_factory`` is per worker), free
loopback ports for every server it starts (``free_port()``, port 0), and, from here, its own
PostgreSQL database, Redis database number and instance folder. A run without ``-n`` is one
process and is treated like worker ``gw0``.
"""
import os

import sqlalchemy as sa

#: Redis database numbers handed out to workers: 8 for ``gw0`` (or a run without xdist), 9 for
#: ``gw1``... up to 14. Numbers 0-7 stay for people's own use (``make run``, the benchmark).
_FIRST_REDIS_DB, _LAST_REDIS_DB = 8, 14


def worker_name():
    """``"gw0"``, ``"gw1"``... in an xdist worker; ``""`` when pytest runs alone."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index():
    """0, 1, ... in an xdist worker; 0 when pytest runs alone."""
    name = worker_name()
    return int(name.removeprefix("gw")) if name else 0


def redis_url():
    """``redis://127.0.0.1:6379/<n>``: this worker's database of the test Redis.

    Tests may flush it or fill it: no other worker of the run uses the same number (cached
    identities name users by id, and every worker's database has a user 1).

    :raises RuntimeError: more workers than numbers set aside.
    """
    number = _FIRST_REDIS_DB + worker_index()
    if number > _LAST_REDIS_DB:
        raise RuntimeError(f"worker {worker_name()} has no Redis database of its own: "
                           f"run at most {_LAST_REDIS_DB - _FIRST_REDIS_DB + 1} workers")
    return f"redis://127.0.0.1:6379/{number}"


def worker_database(url):
    """``url`` (a PostgreSQL URL) moved to this worker's database ``<database>_<worker>``,
    created on that server when missing; ``url`` itself when pytest runs alone.

    The databases are kept for the next run. Inside one, each run still works in a schema of
    its own (``tests.support.fixtures.app.database_uri``), so two runs never meet.
    """
    name = worker_name()
    if not name:
        return url
    base = sa.make_url(url)
    worker_url = base.set(database=f"{base.database}_{name}")
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            if connection.execute(exists, {"name": worker_url.database}).first() is None:
                try:
                    connection.execute(sa.text(f'CREATE DATABASE "{worker_url.database}"'))
                except sa.exc.DBAPIError:
                    # Another run's worker of the same name created it in the meantime.
                    if connection.execute(exists, {"name": worker_url.database}).first() is None:
                        raise
    finally:
        admin.dispose()
    return worker_url.render_as_string(hide_password=False)
