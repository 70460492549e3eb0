"""The statements of every priced answer, built once per process and run with bound values.

Building these constructs cost more than running them (profiled on the per-answer path),
so each is built on first use, cached, and executed with parameters. Bound names start
with ``b_`` (an ``UPDATE`` reserves its columns' own names).

On PostgreSQL the answer's writes are folded into two statements, one per transaction:

* :func:`hold` swaps the user's version (and the store's, with a store limit) and inserts
  the reservation only if every swap matched (compare-and-swap, see
  ``webapp.billing.service.reserve``): data-modifying CTEs, each gated on the ``RETURNING``
  of the one before;
* :func:`settle` deletes the reservation, inserts the charge, for a charge that goes to
  Casdoor queues its delivery job (``webapp.jobs.jobqueue.insert_from``), and adds the answer
  to the usage rollup (which every final answer does, priced or not: folded in here, a priced
  answer costs no round trip more than a free one for it).

SQLite cannot modify data in a CTE; there (in-process, no round trip) the same work is the
separate statements :func:`swap` and the plain inserts, run in a savepoint where two must
hold together.
"""
import functools

import sqlalchemy as sa

from webapp.billing.models import BillingAccount, Charge, Reservation, StoreAccount
from webapp.chat import rollup
from webapp.jobs.jobqueue import insert_from

#: ``billing.deliver_charge``: delivery of one charge (its handler is in ``webapp.billing.delivery``).
DELIVER_JOB = "billing.deliver_charge"

_CHARGES, _RESERVATIONS = Charge.__table__, Reservation.__table__
_ACCOUNTS, _STORE_ACCOUNTS = BillingAccount.__table__, StoreAccount.__table__

#: The charge's columns as :func:`insert_charge` and :func:`settle` bind them (``b_<column>``).
CHARGE_COLUMNS = ("message_id", "store_id", "user_id", "key", "amount", "currency", "state", "reason",
                  "casdoor_org", "casdoor_user", "chat_label", "provider", "domain", "detail",
                  "answered_at", "created_at", "next_attempt_at", "attempts", "tries_recorded")
#: The reservation's columns as :func:`insert_reservation` and :func:`hold` bind them.
RESERVATION_COLUMNS = ("user_id", "store_id", "amount", "currency", "created_at", "expires_at")


def _bound(table, columns):
    return {name: sa.bindparam(f"b_{name}", type_=table.c[name].type) for name in columns}


def _user_swap(clear_overdrawn):
    values = {"version": _ACCOUNTS.c.version + 1}
    if clear_overdrawn:  # the balance check passed: the user is not overdrawn (any more)
        values.update(overdrawn_at=None, overdrawn_reason="")
    return (sa.update(_ACCOUNTS)
            .where(_ACCOUNTS.c.user_id == sa.bindparam("b_user_id"), _ACCOUNTS.c.version == sa.bindparam("b_version"))
            .values(**values))


def _store_swap():
    return (sa.update(_STORE_ACCOUNTS)
            .where(_STORE_ACCOUNTS.c.store_id == sa.bindparam("b_store_id"),
                   _STORE_ACCOUNTS.c.version == sa.bindparam("b_store_version"))
            .values(version=_STORE_ACCOUNTS.c.version + 1))


@functools.cache
def swap(clear_overdrawn):
    """``(user_swap, store_swap)``: the two compare-and-swap ``UPDATE``s, each matching one row or
    none. Bound: ``b_user_id``, ``b_version``; ``b_store_id``, ``b_store_version``."""
    return _user_swap(clear_overdrawn), _store_swap()


@functools.cache
def insert_reservation():
    """``INSERT INTO reservations … RETURNING id``, its columns bound as ``b_<column>``."""
    return sa.insert(_RESERVATIONS).values(_bound(_RESERVATIONS, RESERVATION_COLUMNS)).returning(_RESERVATIONS.c.id)


@functools.cache
def hold(clear_overdrawn, with_store):
    """PostgreSQL: the swap(s) and the reservation in one statement; its one row is the new
    reservation's id, or NULL when a version had moved (nothing was inserted).

    When the store's swap loses, the user's row stays bumped and held by this answer's
    transaction through the next round: only that same user's other answers wait for it.
    Bound: the swap's names, and the reservation's columns as ``b_<column>``.
    """
    user_row = _user_swap(clear_overdrawn).returning(_ACCOUNTS.c.user_id).cte("user_swap")
    swapped = sa.exists(sa.select(user_row.c.user_id))
    if with_store:
        store_row = (_store_swap().where(swapped).returning(_STORE_ACCOUNTS.c.store_id).cte("store_swap"))
        swapped = sa.exists(sa.select(store_row.c.store_id))
    columns = _bound(_RESERVATIONS, RESERVATION_COLUMNS)
    held = (sa.insert(_RESERVATIONS)
            .from_select(list(columns), sa.select(*columns.values()).where(swapped))
            .returning(_RESERVATIONS.c.id).cte("held"))
    return sa.select(sa.select(held.c.id).scalar_subquery())


@functools.cache
def release():
    """``DELETE`` one reservation; bound: ``b_reservation_id``."""
    return sa.delete(_RESERVATIONS).where(_RESERVATIONS.c.id == sa.bindparam("b_reservation_id"))


@functools.cache
def insert_charge():
    """``INSERT INTO charges … RETURNING id``, its columns bound as ``b_<column>``."""
    return sa.insert(_CHARGES).values(_bound(_CHARGES, CHARGE_COLUMNS)).returning(_CHARGES.c.id)


@functools.cache
def settle(with_job, with_usage):
    """PostgreSQL: drop the reservation (``b_reservation_id``; none matches NULL), insert the
    charge (``b_<column>``), ``with_job`` queue its delivery job (``b_job_now``) and
    ``with_usage`` add the answer to the usage rollup (``webapp.chat.rollup.upsert_statement``,
    bound by its own names), in one statement whose one row is the charge's id."""
    released = release().returning(_RESERVATIONS.c.id).cte("released")
    charge = insert_charge().cte("charge")
    statement = sa.select(charge.c.id).add_cte(released)
    if with_job:
        statement = statement.add_cte(insert_from(DELIVER_JOB, charge, charge_id=charge.c.id).cte("job"))
    if with_usage:
        usage = rollup.upsert_statement("postgresql")
        statement = statement.add_cte(usage.returning(usage.table.c.day).cte("usage"))
    return statement
