"""What billing costs a priced answer in statements, and the folded statements' compare-and-swap.

The goal is billing's own work per answer (bench/billing.py); the statements it sends are
what this guards: on PostgreSQL, reserving is two (the round's read, then the swap and the
reservation together) and settling one (release, charge and its delivery job together).
SQLite cannot modify data in a CTE, so it runs the parts one by one, in-process.
SQLite by default, PostgreSQL with ``TEST_DATABASE_URL``; the development Casdoor.
"""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.support.billing import casdoor_user, give_answer, make_chat, make_provider
from tests.support.database import counting_queries
from webapp.billing import delivery, limits, service
from webapp.billing.models import PENDING, BillingAccount, Charge, Reservation, StoreAccount
from webapp.chat import charging
from webapp.chat.models import Message, UsageDay
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs.models import QUEUED, Job


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


@pytest.fixture
def limited(store):
    """A store limit and a default per person, high enough never to refuse: their whole path runs."""
    for subject in ("store", "per_person"):
        limits.set_store_limit(store.id, subject, {"period": "month", "amount": Decimal(1000),
                                                   "currency": "USD", "alert_at": 80})
    db.session.commit()
    return store


def _billing_statements(user, store, provider, chat):
    """The statements of one priced answer's ``before_answer`` and ``after_answer`` (which also
    adds the answer to the usage rollup, as every final answer does); committed like the chat.
    The rows the chat has loaded already are loaded first (a commit expires them)."""
    for row in (user, store, provider, chat):
        db.session.refresh(row)
    with counting_queries(db.engine) as reserving:
        hold = charging.before_answer(user, store, provider, 100)
    message = Message(store_id=store.id, chat_id=chat.id, user_id=user.id, role="assistant", text="An answer.",
                      status="complete", provider_id=provider.id, provider_name=provider.name, model=provider.model,
                      prompt_tokens=100, completion_tokens=50, price=Decimal("0.045"), currency="USD",
                      charge_key="0b4b3c1e-9a51-4d8e-b4a9-7f0c2e1d3a55")
    db.session.add(message)
    db.session.flush()
    with counting_queries(db.engine) as settling:
        charge_id = charging.after_answer(hold, message)
    db.session.commit()
    return reserving, settling, charge_id


def test_a_priced_answer_in_a_limited_store_costs_billing_three_statements_on_postgresql(
        app, limited, create_user):
    alice = casdoor_user(create_user, "alice")
    provider = make_provider()
    chat = make_chat(limited, alice)
    give_answer(chat, alice, limited, provider)  # creates the user's and the store's version rows
    reserving, settling, charge_id = _billing_statements(alice, limited, provider, chat)

    if db.engine.dialect.name == "postgresql":
        assert len(reserving) == 2, reserving  # the round's read; the swaps and the reservation
        assert len(settling) == 1, settling  # rollup, release, charge, delivery job
    else:
        # read; user swap, store swap and the insert, the swaps in a savepoint (2 more)
        assert len(reserving) == 6, reserving
        assert len(settling) == 4, settling  # rollup; release; charge; job
    charge = db.session.get(Charge, charge_id)
    assert (charge.state, charge.amount, charge.casdoor_user, charge.chat_label) == (
        PENDING, Decimal("0.045"), "alice", f"research/chat-{chat.id}")
    job = db.session.execute(sa.select(Job).where(Job.kind == service.DELIVER_JOB).order_by(Job.id.desc())).scalar()
    assert (job.state, job.payload, job.max_attempts) == (QUEUED, {"charge_id": charge_id}, delivery.MAX_ATTEMPTS)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0
    assert db.session.execute(sa.select(UsageDay.answers, UsageDay.cost).where(
        UsageDay.store_id == limited.id, UsageDay.user_id == alice.id)).one() == (2, Decimal("0.09"))


def test_a_local_only_charge_queues_no_job(app, store, create_user):
    bob = create_user("bob")  # no Casdoor account
    provider = make_provider()
    limits.set_store_limit(store.id, "store", {"period": "day", "amount": Decimal(10), "currency": "USD",
                                               "alert_at": 80})
    db.session.commit()
    jobs_before = db.session.execute(sa.select(sa.func.count()).select_from(Job)).scalar()
    _, _, charge_id = _billing_statements(bob, store, provider, make_chat(store, bob))
    assert db.session.get(Charge, charge_id).state == "local_only"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Job)).scalar() == jobs_before
    assert db.session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0


def _hold_params(user, store, user_version, store_version):
    now = utcnow()
    return {"b_user_id": user.id, "b_version": user_version, "b_store_id": store.id,
            "b_store_version": store_version, "b_amount": Decimal("0.5"), "b_currency": "USD",
            "b_created_at": now, "b_expires_at": now}


def test_a_stale_version_holds_nothing_and_a_current_one_holds_the_reservation(app, store, create_user):
    carol = create_user("carol")
    db.session.add_all([BillingAccount(user_id=carol.id, version=4), StoreAccount(store_id=store.id, version=7)])
    db.session.commit()
    session = db.session

    # The user's version moved: nothing is swapped, nothing held.
    assert service._hold(session, _hold_params(carol, store, 3, 7), clear_overdrawn=False) is None
    # The store's version moved: nothing held, and the store's version is untouched.
    assert service._hold(session, _hold_params(carol, store, 4, 6), clear_overdrawn=False) is None
    assert session.get(StoreAccount, store.id).version == 7
    assert session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0
    session.rollback()

    reservation_id = service._hold(session, _hold_params(carol, store, 4, 7), clear_overdrawn=False)
    session.commit()
    assert session.get(Reservation, reservation_id).amount == Decimal("0.5")
    assert (session.get(BillingAccount, carol.id).version, session.get(StoreAccount, store.id).version) == (5, 8)


def test_the_rounds_pending_sum_reads_only_pending_charges_by_index(app, store, create_user):
    """A person's long history of delivered charges is not walked by every reservation: the
    round's sum of pending charges is served by ``ix_charges_user_id_state``."""
    from webapp.billing.limits import PERIOD_WORDS, _round_statement, period_of

    dave = create_user("dave")
    now = utcnow()
    db.session.execute(sa.insert(Charge.__table__), [
        {"user_id": dave.id, "store_id": store.id, "key": f"00000000-0000-4000-8000-{n:012d}",
         "amount": Decimal("0.01"), "currency": "USD", "state": "delivered" if n > 1 else PENDING,
         "answered_at": now, "created_at": now} for n in range(2000)])
    db.session.commit()
    connection = db.session.connection()
    dialect = connection.dialect.name
    connection.exec_driver_sql("ANALYZE")
    params = {"user_id": dave.id, "store_id": store.id, "now": now}
    for name in PERIOD_WORDS:
        period = period_of(name, now)
        params.update({f"{name}_first": period.first, f"{name}_end": period.end})
    compiled = _round_statement(True).compile(dialect=connection.dialect)
    values = compiled.construct_params(params)
    if dialect == "postgresql":
        plan = connection.exec_driver_sql("EXPLAIN " + str(compiled), values).all()
    else:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                          tuple(values[name] for name in compiled.positiontup)).all()
    assert "ix_charges_user_id_state" in " ".join(str(row) for row in plan), plan
    assert service.outstanding(dave.id)[1] == Decimal("0.02")
