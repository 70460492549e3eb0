"""Spending limits: which apply to an answer, what their period has spent, what is left.

Kinds (``webapp.billing.models``):

* the **store limit** (``StoreLimit`` subject "store"): everyone in the store together;
* the **per-person limit**: one person's ``PersonLimit`` override in the store, or else the
  store's default per person (``StoreLimit`` subject "per_person").

Each has a period (``day``, ``week`` from Monday, ``month``) in ``BILLING_TIMEZONE``, an
exact amount and its currency, and an alert threshold in percent.

A period's spend is the usage rollup's cost over the period's days (every final answer:
charges delivered, pending, local-only, refused; ``webapp.chat.rollup``) plus the
reservations of the answers in flight, in the limit's currency. ``read_round`` reads all of
it, and the versions that serialise reservations, in ONE statement; ``refusal`` says
whether an answer's upper bound fits. ``webapp.billing.service.reserve`` applies both.
"""
import functools
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from webapp.billing.models import (
    PENDING,
    PER_PERSON,
    STORE,
    BillingAccount,
    Charge,
    LimitAlert,
    PersonLimit,
    Reservation,
    StoreAccount,
    StoreLimit,
)
from webapp.chat.models import UsageDay
from webapp.chat.rollup import day_start_utc, local_day, zone
from webapp.core.clock import utcnow
from webapp.core.money import display
from webapp.extensions import db
from webapp.stores.models import Store

PERIOD_WORDS = {"day": "daily", "week": "weekly", "month": "monthly"}


@dataclass(frozen=True)
class Limit:
    """One limit that applies to a person in a store.

    ``subject`` is "store" or "per_person"; ``source`` says where a per-person limit
    comes from: "default" (the store's default) or "override" (set for this person).
    """

    subject: str
    source: str
    store_id: int
    user_id: int | None
    period: str
    amount: Decimal
    currency: str
    alert_at: int

    @property
    def alert_amount(self):
        return (self.amount * self.alert_at / 100).quantize(Decimal("0.00000001"))


@dataclass(frozen=True)
class Period:
    """A limit's current period: local days ``first`` to ``end`` (exclusive), reset at ``resets_at`` (naive UTC)."""

    name: str
    first: date
    end: date
    resets_at: object


def period_of(name, now=None, tz=None):
    """The period ``name`` ("day", "week", "month") that holds ``now`` (naive UTC), in ``tz``."""
    tz = tz or zone()
    today = local_day(now or utcnow(), tz)
    if name == "day":
        first, end = today, today + timedelta(days=1)
    elif name == "week":
        first = today - timedelta(days=today.weekday())
        end = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        end = (first + timedelta(days=32)).replace(day=1)
    return Period(name, first, end, day_start_utc(end, tz))


def _limit(row, subject, source, user_id):
    return Limit(subject, source, row.store_id, user_id, row.period, row.amount, row.currency, row.alert_at)


@dataclass(frozen=True)
class State:
    """What one round of a reservation reads (one statement)."""

    user_version: int | None
    in_flight: Decimal
    store_version: int | None
    #: ``[(Limit, Period, spent)]`` in the order of the limits given.
    spends: list


def read_round(user_id, store_id, now=None, session=None, *, balance=True):
    """``(State, [Limit])``: one round of a reservation in ONE statement: the limits that apply to
    ``user_id`` in ``store_id`` (store first, then the person's override, else the store's default
    per person) joined to each one's period spend, with the user's version and in-flight sum (only
    with ``balance``) and the store's version (None unless a store limit applies).

    The one place a period's spend is computed: reserving, settling and every page showing a
    limit read it here. ``store_id`` None: no limits, the user's version and in-flight sum only.

    Each limit's spend is a correlated subquery chosen by a ``CASE`` on its subject and period
    (the store's rows, or the person's; the period's first and last day), so no limit means no
    sum at all, and a store without limits costs the one indexed read of its limit rows.
    """
    session = session or db.session
    now = now or utcnow()
    tz = zone()
    periods = {name: period_of(name, now, tz) for name in PERIOD_WORDS}
    params = {"user_id": user_id, "store_id": store_id, "now": now}
    for name, period in periods.items():
        params.update({f"{name}_first": period.first, f"{name}_end": period.end})
    rows = session.execute(_round_statement(balance), params).all()
    first_row = rows[0]
    found, spends = [], []
    for row in sorted((r for r in rows if r.subject is not None), key=lambda r: r.subject != STORE):
        found.append(Limit(row.subject, row.source, store_id, None if row.subject == STORE else user_id,
                           row.period, Decimal(row.amount), row.currency, row.alert_at))
        spends.append((found[-1], periods[row.period], Decimal(row.rolled) + Decimal(row.held)))
    in_flight = ((Decimal(first_row.reserved) + Decimal(first_row.undelivered)).quantize(Decimal("0.00000001"))
                 if balance else Decimal(0))
    has_store_limit = any(item.subject == STORE for item in found)
    return State(first_row.user_version, in_flight, first_row.store_version if has_store_limit else None,
                 spends), found


@functools.cache
def _round_statement(balance):
    """:func:`read_round`'s statement, built once per process (building it cost more than running
    it): ``user_id``, ``store_id``, ``now`` and each period's ``<name>_first`` / ``<name>_end`` bound.

    Written with the tables' columns, not the mapped attributes: a statement of mapped attributes
    takes the ORM's execution path at every run, which cost about as much as this statement's own
    round trip (0.15-0.18 ms each, measured in a loop on PostgreSQL).
    """
    person_limit, store_limit, usage, reservation, charge, account, store_account = (
        model.__table__.c for model in (PersonLimit, StoreLimit, UsageDay, Reservation, Charge, BillingAccount,
                                        StoreAccount))
    user_id, store_id = sa.bindparam("user_id", type_=sa.Integer), sa.bindparam("store_id", type_=sa.Integer)
    now = sa.bindparam("now", type_=reservation.expires_at.type)
    override_exists = sa.exists().where(person_limit.store_id == store_id, person_limit.user_id == user_id)
    override = (sa.select(person_limit.store_id, sa.literal(PER_PERSON).label("subject"),
                          sa.literal("override").label("source"), person_limit.period, person_limit.amount,
                          person_limit.currency, person_limit.alert_at)
                .where(person_limit.store_id == store_id, person_limit.user_id == user_id))
    shared = (sa.select(store_limit.store_id, store_limit.subject,
                        sa.case((store_limit.subject == STORE, sa.literal(STORE)), else_=sa.literal("default")),
                        store_limit.period, store_limit.amount, store_limit.currency, store_limit.alert_at)
              .where(store_limit.store_id == store_id, sa.or_(store_limit.subject == STORE, ~override_exists)))
    limit = sa.union_all(override, shared).subquery("l")

    def by_period(attribute):
        return sa.case(*[(limit.c.period == name, sa.bindparam(f"{name}_{attribute}", type_=usage.day.type))
                         for name in PERIOD_WORDS])

    first, end = by_period("first"), by_period("end")
    rolled = (sa.select(sa.func.coalesce(sa.func.sum(usage.cost), 0))
              .where(usage.store_id == store_id, usage.currency == limit.c.currency,
                     usage.day >= first, usage.day < end))
    held = (sa.select(sa.func.coalesce(sa.func.sum(reservation.amount), 0))
            .where(reservation.store_id == store_id, reservation.currency == limit.c.currency,
                   reservation.expires_at > now))
    is_store = limit.c.subject == STORE
    spent_rolled = sa.case((is_store, rolled.scalar_subquery()),
                           else_=rolled.where(usage.user_id == user_id).scalar_subquery())
    spent_held = sa.case((is_store, held.scalar_subquery()),
                         else_=held.where(reservation.user_id == user_id).scalar_subquery())
    head = [sa.select(account.version).where(account.user_id == user_id).scalar_subquery()
            .label("user_version"),
            sa.select(store_account.version).where(store_account.store_id == store_id).scalar_subquery()
            .label("store_version")]
    if balance:
        head += [sa.select(sa.func.coalesce(sa.func.sum(reservation.amount), 0))
                 .where(reservation.user_id == user_id, reservation.expires_at > now).scalar_subquery()
                 .label("reserved"),
                 sa.select(sa.func.coalesce(sa.func.sum(charge.amount), 0))
                 .where(charge.user_id == user_id, charge.state == PENDING).scalar_subquery().label("undelivered")]
    versions = sa.select(*head).subquery("v")
    return (sa.select(versions, limit.c.subject, limit.c.source, limit.c.period, limit.c.amount, limit.c.currency,
                      limit.c.alert_at, spent_rolled.label("rolled"), spent_held.label("held"))
            .select_from(versions.outerjoin(limit, sa.true())))


def describe(limit, store_name):
    """``the monthly limit of store 'research' (100.00 USD)`` / ``your daily limit in 'research' (5.00 USD)``."""
    amount = f"{display(limit.amount)} {limit.currency}"
    word = PERIOD_WORDS[limit.period]
    if limit.subject == STORE:
        return f"the {word} limit of store '{store_name}' ({amount}, shared by everyone there)"
    return f"your {word} limit in '{store_name}' ({amount})"


def resets_text(period, tz=None):
    """When the period resets, in ``BILLING_TIMEZONE``: ``2026-04-01 00:00 UTC``."""
    tz = tz or zone()
    moment = period.resets_at.replace(tzinfo=UTC).astimezone(tz)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def refusal(spends, amount, currency, store_name):
    """``(message, Limit)``: why an answer that may cost ``amount`` ``currency`` may not start, and the
    limit that says so; or None when it fits every limit.

    A limit in another currency than the answer's cannot be compared, so it refuses too
    (the administrator set it for other prices).
    """
    for limit, period, spent in spends:
        if limit.currency != currency:
            return (f"This answer is priced in {currency}, but {describe(limit, store_name)} is set in "
                    f"{limit.currency}, so it cannot be checked. Ask your administrator to set the limit in "
                    f"{currency}."), limit
        if spent + amount > limit.amount:
            left = max(limit.amount - spent, Decimal(0))
            return (f"This answer may cost up to {display(amount)} {currency}, and {describe(limit, store_name)} "
                    f"has {display(left)} {currency} left this {limit.period}; it resets {resets_text(period)}. "
                    "Ask your administrator to raise it, or wait until then."), limit
    return None


@dataclass(frozen=True)
class Status:
    """What a person sees of one limit: spent this period (answers in flight included), what is left, when it resets."""

    limit: Limit
    period: Period
    spent: Decimal

    @property
    def left(self):
        return max(self.limit.amount - self.spent, Decimal(0))

    @property
    def percent(self):
        return 100 if not self.limit.amount else min(int(self.spent * 100 / self.limit.amount), 999)

    @property
    def over_threshold(self):
        return self.spent >= self.limit.alert_amount

    @property
    def at_limit(self):
        return self.spent >= self.limit.amount

    @property
    def resets(self):
        return resets_text(self.period)

    def payload(self):
        return {"subject": self.limit.subject, "source": self.limit.source, "period": self.limit.period,
                "amount": format(self.limit.amount, "f"), "currency": self.limit.currency,
                "alert_at": self.limit.alert_at, "spent": format(self.spent.quantize(Decimal("0.00000001")), "f"),
                "left": format(self.left.quantize(Decimal("0.00000001")), "f"),
                "resets_at": self.period.resets_at.isoformat() + "Z",
                "over_threshold": self.over_threshold, "at_limit": self.at_limit}


def status_for(store_id, user_id, session=None):
    """``[Status]`` of every limit that applies to ``user_id`` in ``store_id`` (one statement)."""
    return [Status(*spend) for spend in read_round(user_id, store_id, session=session, balance=False)[0].spends]


# -- setting limits (administrators of the store) -------------------------------------


def limit_payload(row):
    """``{"period", "amount", "currency", "alert_at"}`` of a limit row, or None."""
    if row is None:
        return None
    return {"period": row.period, "amount": format(Decimal(row.amount).quantize(Decimal("0.00000001")), "f"),
            "currency": row.currency, "alert_at": row.alert_at}


def store_limits(store_id, session=None):
    """``{"store": StoreLimit | None, "per_person": StoreLimit | None}`` of a store (one query)."""
    session = session or db.session
    rows = {row.subject: row for row in session.execute(
        sa.select(StoreLimit).where(StoreLimit.store_id == store_id)).scalars()}
    return {STORE: rows.get(STORE), PER_PERSON: rows.get(PER_PERSON)}


def _apply(row, values):
    row.period, row.amount, row.currency = values["period"], values["amount"], values["currency"]
    row.alert_at = values.get("alert_at", 80)
    row.updated_at = utcnow()
    return row


def set_store_limit(store_id, subject, values, session=None):
    """Set (``values``: period, amount, currency, alert_at) or remove (None) the store's limit
    ``subject`` ("store" or "per_person"). Flush only."""
    _set_or_remove(session or db.session, StoreLimit, {"store_id": store_id, "subject": subject}, values)


def set_person_limit(store_id, user_id, values, session=None):
    """Set (``values``) or remove (None) one person's limit in a store, in place of the default.
    Flush only; returns the row, or None when removed."""
    return _set_or_remove(session or db.session, PersonLimit, {"store_id": store_id, "user_id": user_id}, values)


def _set_or_remove(session, model, key, values):
    """The ``model`` row of primary ``key`` (a dict in the key's column order) set to ``values``
    (created when missing), or removed when ``values`` is None. Flushes."""
    row = session.get(model, tuple(key.values()))
    if values is None:
        if row is not None:
            session.delete(row)
        row = None
    else:
        if row is None:
            row = model(**key)
            session.add(row)
        _apply(row, values)
    session.flush()
    return row


#: Stores whose limits a person's Billing page shows at most (bounded work per request).
STORES_SHOWN = 10


def limits_of_person(user, stores_query, session=None):
    """``[(Store, [Status])]``: the limits that apply to ``user`` in the stores of ``stores_query``
    (those they may use) that have any, by store name, at most ``STORES_SHOWN`` stores
    (one query for the stores, one per store shown)."""
    session = session or db.session
    limited = sa.union(sa.select(StoreLimit.store_id),
                       sa.select(PersonLimit.store_id).where(PersonLimit.user_id == user.id))
    stores = session.execute(stores_query.where(Store.id.in_(limited)).order_by(Store.name)
                             .limit(STORES_SHOWN)).scalars().all()
    shown = [(store, status_for(store.id, user.id, session)) for store in stores]
    return [(store, statuses) for store, statuses in shown if statuses]


def current_alerts(now=None):
    """A filter of ``LimitAlert`` rows of the periods running now (day, week and month alike)."""
    now = now or utcnow()
    tz = zone()
    return sa.or_(*[sa.and_(LimitAlert.period == name, LimitAlert.period_start == period_of(name, now, tz).first)
                    for name in ("day", "week", "month")])


#: People under a store's default per-person limit re-evaluated at most when it is set (bounded work
#: per request: the rest are noted by their next answer, as before).
PEOPLE_EVALUATED = 1000


def people_over_default(store_id, session=None, now=None):
    """``[Status]`` of the people of ``store_id`` whose default per-person limit (no override of their own)
    has passed its threshold this period: what an administrator's new or lowered default means at once.

    Read from the usage rollup over the period's days plus the reservations in flight, grouped by
    person (one statement, bounded by days x people, never by answers), at most ``PEOPLE_EVALUATED``
    people, the biggest spenders first.
    """
    session = session or db.session
    now = now or utcnow()
    default = store_limits(store_id, session)[PER_PERSON]
    if default is None:
        return []
    limit = _limit(default, PER_PERSON, "default", None)
    period = period_of(limit.period, now)
    rolled = (sa.select(UsageDay.user_id.label("user_id"), UsageDay.cost.label("amount"))
              .where(UsageDay.store_id == store_id, UsageDay.currency == limit.currency,
                     UsageDay.day >= period.first, UsageDay.day < period.end))
    held = (sa.select(Reservation.user_id.label("user_id"), Reservation.amount.label("amount"))
            .where(Reservation.store_id == store_id, Reservation.currency == limit.currency,
                   Reservation.expires_at > now))
    spends = sa.union_all(rolled, held).subquery()
    overridden = sa.select(PersonLimit.user_id).where(PersonLimit.store_id == store_id)
    total = sa.func.sum(spends.c.amount)
    rows = session.execute(
        sa.select(spends.c.user_id, total).where(spends.c.user_id.not_in(overridden))
        .group_by(spends.c.user_id).having(total >= limit.alert_amount)
        .order_by(total.desc(), spends.c.user_id).limit(PEOPLE_EVALUATED)).all()
    return [Status(Limit(PER_PERSON, "default", store_id, user_id, limit.period, limit.amount, limit.currency,
                         limit.alert_at), period, Decimal(spent)) for user_id, spent in rows]


def current_status(store_id, user_id=None, session=None):
    """``[Status]`` right now of the store's limit and, with ``user_id``, of that person's limit: for
    noting alerts when an administrator sets a limit below what its period has already spent."""
    spends = read_round(user_id or 0, store_id, session=session, balance=False)[0].spends
    return [Status(*spend) for spend in spends if spend[0].subject == STORE or user_id is not None]
