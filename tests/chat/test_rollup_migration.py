"""Migration 0009 fills the usage rollup from the answers a database already holds.

The database is built at revision 0008 (a SQLite file, or a PostgreSQL schema of its own
on ``TEST_DATABASE_URL``), answers are written straight into its tables, then the upgrade
runs; ``flask usage verify`` (which recomputes each local day in Python) must then find
no difference. ``BILLING_TIMEZONE`` is a zone half an hour off UTC, and the answers sit on
both sides of its midnight, so a day computed in UTC would land in the wrong row.
"""
import itertools
import os
import uuid
from datetime import date, datetime
from decimal import Decimal

import flask_migrate
import pytest
import sqlalchemy as sa

from config import database_url
from webapp.chat import rollup
from webapp.chat.models import UsageDay
from webapp.extensions import db

ZONE = "America/St_Johns"  # UTC-3:30 in December
_unique = itertools.count(1)


@pytest.fixture
def fresh_uri(tmp_path):
    """An empty database of this test's own, on the dialect the run tests."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'before-0009.db'}"
        return
    url = database_url(url)
    schema = f"rollup_migration_{os.getpid()}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _filler(column):
    """A value for a NOT NULL column the test does not care about (unique where it must be)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.Numeric):
        return Decimal(0)
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 12, 1)
    if isinstance(kind, sa.Date):
        return date(2026, 12, 1)
    if isinstance(kind, sa.JSON):
        return {}
    return f"x{next(_unique)}"


def insert(connection, table, **given):
    """Insert one row into the reflected ``table`` with ``given`` values and fillers; returns its id."""
    values = dict(given)
    for column in table.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and isinstance(column.type, sa.Integer):
            continue
        values[column.name] = _filler(column)
    return connection.execute(table.insert().values(**values).returning(table.c.id)).scalar()


def test_upgrade_fills_the_rollup_from_the_answers_before_it(make_app, fresh_uri):
    app = make_app(SQLALCHEMY_DATABASE_URI=fresh_uri, BILLING_TIMEZONE=ZONE)
    with app.app_context():
        flask_migrate.upgrade(revision="0008")
        meta = sa.MetaData()
        meta.reflect(bind=db.engine, only=["users", "stores", "chats", "messages"])
        users, stores, chats, messages = (meta.tables[name] for name in ("users", "stores", "chats", "messages"))
        with db.engine.begin() as connection:
            people = [insert(connection, users, username=f"person{i}", email=f"person{i}@storehouse.test")
                      for i in range(2)]
            places = [insert(connection, stores, name=f"store{i}") for i in range(2)]
            answer_rows = [
                # 02:59 UTC on the 10th is 23:29 on the 9th in St. John's; 03:31 is 00:01 on the 10th.
                (0, 0, "local", "USD", datetime(2026, 12, 10, 2, 59), 100, 20, "0.01000001", "assistant", "complete"),
                (0, 0, "local", "USD", datetime(2026, 12, 10, 3, 31), 110, 21, "0.02000002", "assistant", "stopped"),
                (0, 0, "local", "USD", datetime(2026, 12, 10, 3, 45), 120, 22, "0.03000003", "assistant", "failed"),
                (0, 1, "openai", "EUR", datetime(2026, 12, 10, 3, 45), 130, 23, "0.04000004", "assistant", "complete"),
                (1, 0, "", "USD", datetime(2026, 12, 31, 23, 0), 0, 0, "0", "assistant", "complete"),
                # Not in the rollup: a question, and an answer still streaming.
                (0, 0, "local", "USD", datetime(2026, 12, 10, 3, 45), 999, 0, "0", "user", "complete"),
                (0, 0, "local", "USD", datetime(2026, 12, 10, 3, 45), 999, 999, "9", "assistant", "streaming"),
            ]
            for store, person, provider, currency, at, prompt, completion, price, role, status in answer_rows:
                chat = insert(connection, chats, store_id=places[store], user_id=people[person], title="t")
                insert(connection, messages, chat_id=chat, store_id=places[store], user_id=people[person],
                       role=role, status=status, provider_name=provider, currency=currency, created_at=at,
                       prompt_tokens=prompt, completion_tokens=completion, price=Decimal(price),
                       text="", error="", model="m", sources=[], usage_estimated=False,
                       charge_key=str(uuid.uuid4()))

        flask_migrate.upgrade()

        rows = {(r.store_id, r.user_id, r.provider, r.currency, r.day):
                (r.answers, r.prompt_tokens, r.completion_tokens, Decimal(r.cost))
                for r in db.session.execute(sa.select(UsageDay)).scalars()}
        assert rows == {
            (places[0], people[0], "local", "USD", date(2026, 12, 9)): (1, 100, 20, Decimal("0.01000001")),
            (places[0], people[0], "local", "USD", date(2026, 12, 10)): (2, 230, 43, Decimal("0.05000005")),
            (places[0], people[1], "openai", "EUR", date(2026, 12, 10)): (1, 130, 23, Decimal("0.04000004")),
            (places[1], people[0], "", "USD", date(2026, 12, 31)): (1, 0, 0, Decimal("0")),
        }
        report = rollup.verify()
        assert report.differences == [] and report.groups == 4
        db.session.remove()
        db.engine.dispose()
