"""The benchmark's data set, written in bulk straight from the models' tables.

Issue 9's scale: 10,000 stores, 100,000 users (every fifth one bound by its
Casdoor Homepage to a store), 500,000 documents spread over the stores, one of
which ("big") holds 20,000 of them. PostgreSQL is loaded with ``COPY`` (psycopg
3 ``cursor.copy``), SQLite with ``executemany`` in one transaction under
``PRAGMA synchronous=OFF``; either takes seconds.

The column lists come from the models (``webapp.models``), so the seed follows
the migrations: a column the seed does not name gets the model's default, or
NULL when it is nullable, and a new NOT NULL column without a default stops
the seed with a message naming it. Adding a table is one ``TableSeed`` in
``SEEDS``: a row count and a function from the row id to the values it cares
about. Ids are assigned here (1..n) so rows can refer to each other without
reading anything back; sequences are moved past them afterwards.

Nothing here is imported by the app; run it through ``python -m bench``.
"""
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

import webapp.models  # noqa: F401  (every table in the metadata: the seeds are ordered by its foreign keys)
from webapp.extensions import db
from webapp.stores.models import Document, Store, StoreGrant
from webapp.users.models import User

#: The password of the bench accounts below (a local, throwaway database).
BENCH_PASSWORD = "bench-password-1"
ADMIN_EMAIL = "bench-admin@bench.test"
MEMBER_EMAIL = "bench-member@bench.test"
#: Store names the cases use.
DEFAULT_STORE = "general"
BIG_STORE = "big"
SMALL_STORE = "small"
#: A fixed "now" so that two seeds of the same scale are identical.
EPOCH = datetime(2026, 1, 1)


class SeedError(Exception):
    """The seed cannot fill a table as the models now define it."""


@dataclass(frozen=True)
class Scale:
    stores: int = 10_000
    users: int = 100_000
    documents: int = 500_000
    big_store_documents: int = 20_000
    #: Every n-th user is bound to a store by its Casdoor Homepage (5: a fifth).
    bound_every: int = 5

    def __post_init__(self):
        if self.stores < 3 or self.users < 2 or self.documents < self.big_store_documents:
            raise ValueError("a scale needs 3 stores (general, big, small), 2 users and the big store's documents")


@dataclass(frozen=True)
class TableSeed:
    """How many rows a table gets and what goes in them.

    :param row: ``row(i, scale)`` for ids ``1..count(scale)``: a dict of the
        columns this seed sets (``id`` is added); every other column gets the
        model's default or NULL.
    """

    model: type
    count: Callable[[Scale], int]
    row: Callable[[int, Scale], dict]


# --- stores --------------------------------------------------------------------

def store_name(i):
    """Store 1 is the default store, 2 the big one, 3 a small one, the rest numbered."""
    return {1: DEFAULT_STORE, 2: BIG_STORE, 3: SMALL_STORE}.get(i, f"store-{i:05d}")


def store_row(i, scale):
    return {
        "name": store_name(i),
        "display_name": f"Store {i}",
        "description": f"Benchmark store number {i}.",
        "welcome_text": "Ask about the documents of this store.",
        "is_default": i == 1,
        "created_at": EPOCH + timedelta(minutes=i),
    }


# --- users -----------------------------------------------------------------------

_password_hash = None


def bench_password_hash():
    """One scrypt hash for the two accounts that sign in with a password (computed once)."""
    global _password_hash
    if _password_hash is None:
        _password_hash = generate_password_hash(BENCH_PASSWORD)
    return _password_hash


def user_row(i, scale):
    """User 1 is an unbound administrator, user 2 an unbound member; both have a password.

    Every ``bound_every``-th user came from Casdoor with a Homepage naming a store.
    """
    if i == 1:
        return {"username": "bench-admin", "email": ADMIN_EMAIL, "display_name": "Bench Admin",
                "password_hash": bench_password_hash(), "is_admin": True, "created_at": EPOCH}
    if i == 2:
        return {"username": "bench-member", "email": MEMBER_EMAIL, "display_name": "Bench Member",
                "password_hash": bench_password_hash(), "created_at": EPOCH}
    row = {"username": f"user{i:06d}", "email": f"user{i:06d}@bench.test", "display_name": f"User {i}",
           "created_at": EPOCH + timedelta(seconds=i)}
    if i % scale.bound_every == 0:
        store = (i // scale.bound_every) % scale.stores + 1
        row.update(casdoor_sub=f"bench-{i:06d}", casdoor_org="storehouse", casdoor_name=f"user{i:06d}",
                   casdoor_homepage=store_name(store), casdoor_groups=["storehouse/staff"],
                   casdoor_linked_at=EPOCH)
    return row


# --- documents --------------------------------------------------------------------

BODY = ("Storehouse keeps the knowledge of a team in stores. This paragraph stands in for a real "
        "document: a few sentences of text, about the length of a short note or an abstract, "
        "so that lists and API pages carry realistic sizes.")


def document_store(i, scale):
    """The first ``big_store_documents`` go to the big store, the rest round-robin over the others."""
    if i <= scale.big_store_documents:
        return 2
    k = (i - scale.big_store_documents - 1) % (scale.stores - 1)
    return 1 if k == 0 else k + 2  # the stores other than 2, in order


def document_row(i, scale):
    when = EPOCH + timedelta(seconds=7 * i)
    return {
        "store_id": document_store(i, scale),
        "title": f"Document {i:06d}",
        "body": f"{BODY} (#{i})",
        "created_by_id": i % scale.users + 1,
        "created_at": when,
        "updated_at": when + timedelta(hours=i % 48),
    }


# --- grants ----------------------------------------------------------------------

def grant_row(i, scale):
    """The member (a local account, user 2) may use every store: the most a store selector and
    an access check can be asked to handle, like an unbound Casdoor user."""
    return {"user_id": 2, "store_id": i, "granted_by_id": 1, "created_at": EPOCH}


#: Parents before children (foreign keys); a new feature adds its table here.
SEEDS = [
    TableSeed(Store, lambda s: s.stores, store_row),
    TableSeed(User, lambda s: s.users, user_row),
    TableSeed(Document, lambda s: s.documents, document_row),
    TableSeed(StoreGrant, lambda s: s.stores, grant_row),
]


# --- the loader -------------------------------------------------------------------

class _Missing:
    def __repr__(self):
        return "<no value>"


#: A NOT NULL column with no default: the row must set it.
MISSING = _Missing()


def column_defaults(table, first_row):
    """``[(column, default)]`` for the columns of ``table`` the seed writes, in table order.

    The default is the model's (a callable default is called once, so every
    row shares it), None for a nullable column, and ``MISSING`` for a NOT NULL
    column without a default (``id`` is always set by the seed). A column with
    only a server default is left to the database unless ``first_row`` sets it.
    """
    defaults = []
    for column in table.columns:
        if column.server_default is not None and column.default is None and column.name not in first_row:
            continue
        if column.default is not None and column.default.is_scalar:
            defaults.append((column, column.default.arg))
        elif column.default is not None and column.default.is_callable:
            defaults.append((column, column.default.arg(None)))
        elif column.nullable or column.name == "id":
            defaults.append((column, None))
        else:
            defaults.append((column, MISSING))
    return defaults


def table_rows(seed, scale, dialect):
    """``(column names, count, rows)`` of ``seed``: tuples in table order, converted for ``dialect``'s driver.

    :raises SeedError: (while iterating) a row names a column the table does not have, or
        leaves a NOT NULL column without a default unset.
    """
    table = seed.model.__table__
    count = seed.count(scale)
    defaults = column_defaults(table, seed.row(1, scale))
    known = {column.name for column, _ in defaults}
    plan = [(column.name, default, column.type.dialect_impl(dialect).bind_processor(dialect))
            for column, default in defaults]

    def rows():
        for i in range(1, count + 1):
            values = seed.row(i, scale)
            values["id"] = i
            if not values.keys() <= known:
                raise SeedError(f"{table.name} has no column {', '.join(sorted(values.keys() - known))}: "
                                f"update its row function in bench/seed.py to the current models.")
            row = []
            for name, default, process in plan:
                value = values.get(name, default)
                if value is MISSING:
                    raise SeedError(f"{table.name}.{name} is NOT NULL and has no default: give it a value "
                                    f"in the row function of its TableSeed in bench/seed.py.")
                row.append(process(value) if process is not None and value is not None else value)
            yield tuple(row)

    return [name for name, _, _ in plan], count, rows()


def ordered_seeds(seeds=SEEDS):
    """``seeds`` in the metadata's dependency order (parents first), whatever the list order."""
    order = {table.name: n for n, table in enumerate(db.metadata.sorted_tables)}
    return sorted(seeds, key=lambda seed: order[seed.model.__tablename__])


def is_seeded(engine, scale, seeds=SEEDS):
    """True when every seeded table holds its rows ``1..count`` (a kept database from an earlier run)."""
    inspector = sa.inspect(engine)
    with engine.connect() as connection:
        for seed in seeds:
            table = seed.model.__table__
            if not inspector.has_table(table.name):
                return False
            count = seed.count(scale)
            present = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.id <= count)
            ).scalar_one()
            if present != count:
                return False
    return True


def seed_database(engine, scale=Scale(), seeds=SEEDS, log=print, analyze=True):
    """Write the data set into the empty, migrated database of ``engine``.

    Commits (one transaction on SQLite, one per table on PostgreSQL), then
    moves the id sequences past the seeded ids and, with ``analyze``, gathers
    the planner's statistics as a database in use would have them.

    :returns: ``{table name: rows}``, seconds taken.
    """
    started = time.perf_counter()
    counts = {}
    loader = _copy_table if engine.dialect.name == "postgresql" else _insert_table
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.execute("PRAGMA synchronous=OFF")
        else:
            _skip_foreign_key_triggers(raw)
        for seed in ordered_seeds(seeds):
            table_started = time.perf_counter()
            columns, count, rows = table_rows(seed, scale, engine.dialect)
            loader(raw, seed.model.__tablename__, columns, rows)
            counts[seed.model.__tablename__] = count
            log(f"  {seed.model.__tablename__:<12} {count:>9,} rows  {time.perf_counter() - table_started:6.1f} s")
        raw.commit()
        if engine.dialect.name == "postgresql":
            _advance_sequences(raw, seeds)
        else:
            raw.driver_connection.execute("PRAGMA synchronous=FULL")
        if analyze:
            cursor = raw.cursor()
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        if engine.dialect.name == "postgresql":
            # A pooled connection must not go back with foreign key checks off.
            raw.rollback()
            with raw.cursor() as cursor:
                cursor.execute("RESET session_replication_role")
            raw.commit()
        raw.close()
    return counts, time.perf_counter() - started


def _copy_table(raw, table, columns, rows):
    names = ", ".join(f'"{name}"' for name in columns)
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    # One transaction per table keeps PostgreSQL's memory flat and lets a failure name its table.
    raw.commit()


def _skip_foreign_key_triggers(raw):
    """Foreign keys are checked by per-row triggers, most of a COPY's time; the seed's ids
    are consistent by construction. Needs a superuser; without one the checks just run."""
    with raw.cursor() as cursor:
        try:
            cursor.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            raw.rollback()


def _insert_table(raw, table, columns, rows):
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    raw.driver_connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def _advance_sequences(raw, seeds):
    """Explicit ids leave PostgreSQL's sequences at 1; the app's own inserts must not collide."""
    with raw.cursor() as cursor:
        for seed in seeds:
            table = seed.model.__tablename__
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                           f"(SELECT max(id) FROM \"{table}\"))")
    raw.commit()
