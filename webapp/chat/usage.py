"""Usage: answers, tokens and money, totalled and grouped by the database.

Scopes (decided by the caller from ``webapp.stores.access``; every scope is
inside stores the caller may use):

* ``mine``   the caller's answers in the current store;
* ``store``  everybody's answers in the current store (store administrators);
* ``all``    every store the caller may use (unbound administrators).

Groupings: ``day``, ``user``, ``provider``, ``store``. Read from the usage rollup
(``webapp.chat.rollup``, one row per store, person, provider, currency and day), so a
page costs days x groups, never the number of answers: one ``GROUP BY`` query per page
over ``uq_usage_days_store_id_day_…`` / ``ix_usage_days_user_id_day`` / ``ix_usage_days_day``
(the date range is always bounded), one for the totals. Days are calendar days in
``BILLING_TIMEZONE``. Money stays Decimal.
"""
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from webapp.chat.models import UsageDay
from webapp.chat.rollup import local_day
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.stores.models import Store
from webapp.users.models import User

GROUPS = ("day", "user", "provider", "store")
SCOPES = ("mine", "store", "all")
#: The longest range one page totals (bounded work).
MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Row:
    key: str
    answers: int
    prompt_tokens: int
    completion_tokens: int
    price: Decimal
    currency: str


def parse_range(start, end, today=None):
    """``(first day, last day)`` from ``YYYY-MM-DD`` strings (blank: the last 30 days), clamped.

    :raises ValueError: a date that does not parse, or an end before the start.
    """
    today = today or local_day(utcnow())
    last = date.fromisoformat(end) if end else today
    first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError("The start date is after the end date.")
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    return first, last


def _filtered(query, scope, store, user, accessible_store_ids, first, last):
    query = query.where(UsageDay.day >= first, UsageDay.day <= last)
    if scope == "mine":
        return query.where(UsageDay.user_id == user.id, UsageDay.store_id == store.id)
    if scope == "store":
        return query.where(UsageDay.store_id == store.id)
    return query.where(UsageDay.store_id.in_(accessible_store_ids))


def _key(group):
    if group == "day":
        return UsageDay.day
    if group == "user":
        return User.username
    if group == "provider":
        return UsageDay.provider
    return Store.name


def _sums():
    return (db.func.sum(UsageDay.answers), db.func.sum(UsageDay.prompt_tokens),
            db.func.sum(UsageDay.completion_tokens), db.func.sum(UsageDay.cost))


def grouped(group, scope, store, user, first, last, accessible_store_ids=()):
    """``[Row]`` per ``group`` value (and currency), ordered by the key."""
    key = _key(group).label("key")
    query = db.select(key, UsageDay.currency, *_sums())
    if group == "user":
        query = query.join(User, User.id == UsageDay.user_id)
    elif group == "store":
        query = query.join(Store, Store.id == UsageDay.store_id)
    query = _filtered(query, scope, store, user, accessible_store_ids, first, last)
    query = query.group_by(key, UsageDay.currency).order_by(key, UsageDay.currency)
    return [Row(str(k) if k is not None else "", int(n or 0), int(p or 0), int(c or 0), Decimal(s or 0), cur)
            for k, cur, n, p, c, s in db.session.execute(query)]


def totals(scope, store, user, first, last, accessible_store_ids=()):
    """``[Row]`` one per currency, key "total"."""
    query = db.select(UsageDay.currency, *_sums())
    query = _filtered(query, scope, store, user, accessible_store_ids, first, last).group_by(UsageDay.currency)
    return [Row("total", int(n or 0), int(p or 0), int(c or 0), Decimal(s or 0), cur)
            for cur, n, p, c, s in db.session.execute(query)]


def csv_text(rows, group):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([group, "answers", "prompt_tokens", "completion_tokens", "price", "currency"])
    for row in rows:
        # A leading = + - @ would be a formula in a spreadsheet: quote it as text.
        key = "'" + row.key if row.key[:1] in ("=", "+", "-", "@") else row.key
        writer.writerow([key, row.answers, row.prompt_tokens, row.completion_tokens,
                         f"{row.price:.8f}", row.currency])
    return out.getvalue()


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


def chart(rows, first, last, width=640, height=180, measure="tokens"):
    """Bars per day over ``first..last`` (days without answers are zero), for a server-drawn SVG."""
    values = {}
    for row in rows:
        amount = row.prompt_tokens + row.completion_tokens if measure == "tokens" else row.price
        values[row.key] = values.get(row.key, 0) + amount
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    peak = max([values.get(day, 0) for day in days] + [1])
    slot = width / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        amount = values.get(day, 0)
        h = (height - 20) * float(amount) / float(peak)
        bars.append(Bar(x=round(i * slot + slot * 0.15, 2), y=round(height - 20 - h, 2),
                        width=round(max(slot * 0.7, 1), 2), height=round(h, 2), label=day,
                        value=f"{amount:,}" if measure == "tokens" else f"{amount:.8f}"))
    return {"bars": bars, "width": width, "height": height, "peak": peak, "measure": measure,
            "first": days[0] if days else "", "last": days[-1] if days else ""}
