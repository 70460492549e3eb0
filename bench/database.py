"""The benchmark's own database: PostgreSQL ``storehouse_bench`` or a SQLite file.

PostgreSQL is used when ``pg_isready -h 127.0.0.1 -p 5432`` answers (user
``postgres``, trust authentication, as in development). When the database
cannot be created there, a schema ``storehouse_bench`` of the ``test``
database stands in. SQLite lives in ``instance/bench/storehouse_bench.db``.
"""
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from config import database_url

ROOT = Path(__file__).resolve().parent.parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
NAME = "storehouse_bench"
#: Where the fallback schema goes when CREATE DATABASE is refused.
FALLBACK_DATABASE = "test"
SQLITE_PATH = ROOT / "instance" / "bench" / f"{NAME}.db"


def postgres_answers():
    """True when ``pg_isready`` reports a server accepting connections on 127.0.0.1:5432."""
    if shutil.which("pg_isready") is None:
        return False
    result = subprocess.run(["pg_isready", "-q", "-h", PG_HOST, "-p", str(PG_PORT)], check=False)
    return result.returncode == 0


@dataclass
class BenchDatabase:
    """Where the bench data lives and how to make it, reuse it and throw it away."""

    kind: str  # "postgresql" or "sqlite"
    #: What the app gets as DATABASE_URL.
    url: str
    #: A schema used instead of a database of its own (PostgreSQL fallback), else None.
    schema: str = None

    @property
    def sqlalchemy_url(self):
        return database_url(self.url)

    def engine(self):
        return sa.create_engine(self.sqlalchemy_url, poolclass=sa.pool.NullPool)

    def describe(self):
        if self.kind == "sqlite":
            return f"SQLite {_sqlite_version()} ({self.url})"
        with self.engine().connect() as connection:
            version = connection.execute(sa.text("SHOW server_version")).scalar_one()
        where = f"schema {self.schema} of {self.url.split('?')[0]}" if self.schema else self.url
        return f"PostgreSQL {version} ({where})"

    def exists(self):
        if self.kind == "sqlite":
            return SQLITE_PATH.exists()
        if self.schema:
            with _admin_engine(FALLBACK_DATABASE).connect() as connection:
                return connection.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :n"),
                                          {"n": self.schema}).first() is not None
        with _admin_engine("postgres").connect() as connection:
            return connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": NAME}).first() is not None

    def create(self):
        """An empty database (or schema); an existing one is dropped first."""
        self.drop()
        if self.kind == "sqlite":
            SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
            return
        if self.schema:
            with _admin_engine(FALLBACK_DATABASE).begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            return
        with _admin_engine("postgres", autocommit=True).connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{NAME}"'))

    def drop(self):
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
            return
        if self.schema:
            with _admin_engine(FALLBACK_DATABASE).begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            return
        with _admin_engine("postgres", autocommit=True).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))


def _sqlite_version():
    import sqlite3

    return sqlite3.sqlite_version


def _pg_url(database):
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _admin_engine(database, autocommit=False):
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    return sa.create_engine(database_url(_pg_url(database)), poolclass=sa.pool.NullPool, **options)


def choose(kind=None):
    """The bench database for ``kind`` ("postgresql", "sqlite", or None: PostgreSQL when it answers).

    :raises RuntimeError: PostgreSQL was asked for and does not answer.
    """
    if kind is None:
        kind = "postgresql" if postgres_answers() else "sqlite"
    if kind == "sqlite":
        return BenchDatabase("sqlite", f"sqlite:///{SQLITE_PATH}")
    if not postgres_answers():
        raise RuntimeError(f"--db postgresql: no PostgreSQL answers on {PG_HOST}:{PG_PORT} (pg_isready); "
                           "start it or use --db sqlite.")
    if _may_create_databases():
        return BenchDatabase("postgresql", _pg_url(NAME))
    return BenchDatabase("postgresql", f"{_pg_url(FALLBACK_DATABASE)}?options=-csearch_path%3D{NAME}", schema=NAME)


def _may_create_databases():
    with _admin_engine("postgres").connect() as connection:
        return bool(connection.execute(sa.text(
            "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one())
