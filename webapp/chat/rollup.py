"""The usage rollup (``UsageDay``): kept with every final answer, checked and repaired by ``flask usage verify``.

Every answer that is final (complete, stopped or failed; also the fixed "no matching
knowledge" answer) adds itself, once, to the row of its (store, person, provider,
currency, day): :func:`record`, one ``INSERT … ON CONFLICT DO UPDATE`` in the answer's own
transaction (flush only, never a commit of its own). An answer still "streaming" is not
in it; a hidden answer (regenerated, its question edited, its chat deleted) stays, as its
tokens were consumed all the same.

Days are calendar days in ``BILLING_TIMEZONE`` (default UTC), the same calendar the
spending limits' periods use.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from webapp.chat.models import STREAMING, Message, UsageDay
from webapp.extensions import db

KEY = ("store_id", "day", "user_id", "provider", "currency")
TOTALS = ("answers", "prompt_tokens", "completion_tokens", "cost")


@lru_cache(maxsize=16)
def _zone(name):
    return ZoneInfo(name)


def zone(app=None):
    """The ``ZoneInfo`` of ``BILLING_TIMEZONE``."""
    return _zone((app or current_app).config.get("BILLING_TIMEZONE") or "UTC")


def local_day(moment, tz=None):
    """The calendar day in ``tz`` (default ``BILLING_TIMEZONE``) of the naive-UTC ``moment``."""
    return moment.replace(tzinfo=UTC).astimezone(tz or zone()).date()


def day_start_utc(day, tz=None):
    """The naive-UTC instant at which the local ``day`` begins."""
    return datetime.combine(day, time.min, tzinfo=tz or zone()).astimezone(UTC).replace(tzinfo=None)


@cache
def upsert_statement(dialect):
    """``INSERT … ON CONFLICT (key) DO UPDATE SET total = total + excluded.total`` for ``dialect``,
    the values bound by the columns' names (:func:`usage_of`). Built once per process: building it
    cost more than running it. Billing folds it into a priced answer's settling statement.
    On the table, not the mapped class: an ``INSERT`` of a mapped class takes the ORM's bulk
    path at every run."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = UsageDay.__table__
    statement = insert(table).values({name: sa.bindparam(name, type_=table.c[name].type)
                                         for name in KEY + TOTALS})
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + statement.excluded[name] for name in TOTALS})


def usage_of(message):
    """The values :func:`upsert_statement` binds for the answer ``message``, or None for a question or
    an answer still streaming (not in the rollup)."""
    if message.role != "assistant" or message.status == STREAMING:
        return None
    return {"store_id": message.store_id, "user_id": message.user_id, "provider": message.provider_name or "",
            "currency": message.currency, "day": local_day(message.created_at),
            "answers": 1, "prompt_tokens": int(message.prompt_tokens or 0),
            "completion_tokens": int(message.completion_tokens or 0), "cost": Decimal(message.price or 0)}


def record(message, *, session=None):
    """Add the final answer ``message`` to its rollup row (flush only; the caller commits).

    Call it exactly once per answer, in the transaction that saves its final state (or let
    billing fold :func:`usage_of` into its statement). Questions and answers still streaming
    are ignored.
    """
    values = usage_of(message)
    if values is not None:
        add(values, session=session)


def add(values, *, session=None):
    """Add one answer's :func:`usage_of` values to its rollup row (flush only; the caller commits)."""
    session = session or db.session
    session.execute(upsert_statement(session.get_bind().dialect.name), values)


# -- flask usage verify ---------------------------------------------------------------


@dataclass
class Report:
    """What ``verify`` found: rows compared, and the differences (key, expected, found)."""

    groups: int = 0
    differences: list = field(default_factory=list)
    repaired: int = 0


def _totals_from_answers(since_day, tz):
    """``{key: [answers, prompt, completion, cost]}`` recomputed from the final answers (streamed in
    batches; memory grows with the groups, not the answers)."""
    query = (sa.select(Message.store_id, Message.user_id, Message.provider_name, Message.currency,
                       Message.created_at, Message.prompt_tokens, Message.completion_tokens, Message.price)
             .where(Message.role == "assistant", Message.status != STREAMING))
    if since_day is not None:
        # A day earlier in UTC: the local day may begin before the UTC one.
        query = query.where(Message.created_at >= day_start_utc(since_day, tz) - timedelta(days=1))
    found = {}
    for store_id, user_id, provider, currency, created_at, prompt, completion, price in (
            db.session.execute(query.execution_options(yield_per=5000))):
        day = local_day(created_at, tz)
        if since_day is not None and day < since_day:
            continue
        totals = found.setdefault((store_id, day, user_id, provider or "", currency), [0, 0, 0, Decimal(0)])
        totals[0] += 1
        totals[1] += int(prompt or 0)
        totals[2] += int(completion or 0)
        totals[3] += Decimal(price or 0)
    return found


def verify(since_day=None, repair=False):
    """Compare the rollup with the answers from ``since_day`` (a local date; None: all) on, and
    with ``repair`` rewrite the rows that differ (flush only; the command commits).

    :returns: a :class:`Report`.
    """
    tz = zone()
    expected = _totals_from_answers(since_day, tz)
    query = sa.select(UsageDay)
    if since_day is not None:
        query = query.where(UsageDay.day >= since_day)
    stored = {(r.store_id, r.day, r.user_id, r.provider, r.currency): r
              for r in db.session.execute(query).scalars()}
    report = Report(groups=len(set(expected) | set(stored)))
    for key in sorted(set(expected) | set(stored), key=str):
        want = expected.get(key, [0, 0, 0, Decimal(0)])
        row = stored.get(key)
        have = [row.answers, row.prompt_tokens, row.completion_tokens, Decimal(row.cost)] if row else [0, 0, 0, Decimal(0)]
        if want == have:
            continue
        report.differences.append((key, tuple(want), tuple(have)))
        if not repair:
            continue
        if row is None:
            db.session.add(UsageDay(**dict(zip(KEY, key, strict=True)), **dict(zip(TOTALS, want, strict=True))))
        elif want[0] == 0:
            db.session.delete(row)
        else:
            row.answers, row.prompt_tokens, row.completion_tokens, row.cost = want
        report.repaired += 1
    db.session.flush()
    return report
