"""Billing: reserve before answering, one Casdoor transaction per priced answer, delivered once.

Against the development Casdoor server over loopback and its fault controls,
on SQLite (default) and PostgreSQL (``TEST_DATABASE_URL``).
"""
import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.support.billing import (
    casdoor_rows,
    casdoor_total,
    casdoor_user,
    charges,
    give_answer,
    ledger_total,
    linked_local_user,
    make_chat,
    make_due,
    make_provider,
    wait_out_ambiguity,
)
from webapp.billing import service
from webapp.billing.models import BillingAccount, Reservation
from webapp.chat.errors import AnswerRefused
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.jobs.jobqueue import claim
from webapp.jobs.models import Job
from webapp.jobs.worker import Worker, execute_together


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


@pytest.fixture
def provider(app):
    return make_provider()


@pytest.fixture
def alice(create_user):
    return casdoor_user(create_user, "alice")


def ask(user, store, provider, n=1, **kwargs):
    chat = make_chat(store, user)
    return [give_answer(chat, user, store, provider, **kwargs) for _ in range(n)]


# -- arithmetic ----------------------------------------------------------------


def test_upper_bound_is_prompt_at_input_price_plus_max_answer_at_output_price():
    assert service.upper_bound(1234, 567, Decimal("0.15"), Decimal("0.60")) == Decimal("0.00052530")
    # Rounded up, never down: a bound below the price it bounds would let an answer overspend.
    assert service.upper_bound(1, 0, Decimal("0.001"), Decimal(0)) == Decimal("0.00000001")
    assert service.upper_bound(0, 0, Decimal(5), Decimal(5)) == Decimal(0)


# -- the happy path --------------------------------------------------------------


def test_a_priced_answer_becomes_exactly_one_casdoor_transaction(app, casdoor, store, provider, alice, run_jobs):
    message, = ask(alice, store, provider, prompt_tokens=1234, completion_tokens=56)
    charge, = charges()
    assert (charge.state, charge.key, charge.amount) == ("pending", message.charge_key, message.price)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0
    run_jobs()
    db.session.refresh(charge)
    assert charge.state == "delivered" and charge.attempts == 1
    row, = casdoor_rows(casdoor)
    assert row["name"] == charge.casdoor_name
    assert {k: row[k] for k in ("owner", "application", "category", "type", "subtype", "provider", "user", "tag",
                                "currency", "state")} == {
        "owner": "storehouse", "application": "storehouse", "category": "Storehouse Chat",
        "type": f"research/chat-{message.chat_id}", "subtype": message.charge_key, "provider": "priced",
        "user": "alice", "tag": "User", "currency": "USD", "state": "Paid"}
    assert Decimal(repr(row["amount"])) == -message.price == Decimal("-0.2187")
    assert row["createdTime"].startswith(message.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    alice_at_casdoor = next(u for u in casdoor.controls.users() if u["name"] == "alice")
    assert Decimal(repr(alice_at_casdoor["balance"])) == Decimal("10") - message.price


def test_zero_price_records_nothing_and_asks_nobody(app, casdoor, store, alice, run_jobs):
    free = make_provider("0", "0", name="free")
    ask(alice, store, free)
    assert charges() == [] and run_jobs() == 0 and casdoor_rows(casdoor) == []


def test_user_without_casdoor_identity_is_recorded_locally_only(app, casdoor, store, provider, create_user, run_jobs):
    local = create_user("lou")
    ask(local, store, provider)
    charge, = charges()
    assert charge.state == "local_only" and "not sent to Casdoor" in charge.reason
    assert run_jobs() == 0 and casdoor_rows(casdoor) == []


# -- before answering --------------------------------------------------------------


def test_balance_too_low_at_the_dry_run_stops_the_answer_with_needed_and_left(app, casdoor, store, provider, alice):
    casdoor.controls.patch_user("storehouse", "alice", balance=0.01)
    with pytest.raises(AnswerRefused) as refused:
        ask(alice, store, provider)
    # Bound: 100 prompt tokens at 150/M + 100 answer tokens at 600/M = 0.075.
    assert "up to 0.075 USD" in refused.value.message and "0.01 USD left" in refused.value.message
    db.session.rollback()
    assert charges() == [] and casdoor_rows(casdoor) == []
    assert db.session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0


def test_in_flight_answers_count_against_the_balance(app, casdoor, store, provider, alice):
    casdoor.controls.patch_user("storehouse", "alice", balance=0.2)
    first = service.reserve(alice, Decimal("0.15"), "USD")
    db.session.commit()
    with pytest.raises(service.AnswerNotAllowed) as refused:
        service.reserve(alice, Decimal("0.1"), "USD")
    assert "0.05 USD left" in refused.value.message and "0.15 USD is held" in refused.value.message
    service.release(first)
    db.session.commit()
    assert service.reserve(alice, Decimal("0.1"), "USD") is not None


@pytest.mark.serial
def test_ten_concurrent_answers_by_a_user_whose_balance_covers_three(app, casdoor, store, alice):
    provider = make_provider("0", "1000000", max_tokens=1, name="one-per-token")  # bound = 1.00 USD
    casdoor.controls.patch_user("storehouse", "alice", balance=3.5)
    user_id = alice.id
    results = []

    def attempt():
        with app.app_context():
            from webapp.users.models import User

            user = db.session.get(User, user_id)
            try:
                results.append(service.reserve(user, service.upper_bound(0, 1, 0, provider.output_price), "USD"))
                db.session.commit()  # as the chat does before the model runs
            except service.AnswerNotAllowed as exc:
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted = [r for r in results if isinstance(r, service.Hold)]
    assert len(results) == 10 and len(granted) == 3
    assert db.session.execute(sa.select(sa.func.sum(Reservation.amount))).scalar() == Decimal(3)


@pytest.mark.serial
def test_ten_concurrent_answers_through_the_seam_spend_at_most_the_balance(app, casdoor, store, alice, run_jobs):
    provider = make_provider("0", "1000000", max_tokens=1, name="dollar")  # each answer costs 1.00 USD at most
    casdoor.controls.patch_user("storehouse", "alice", balance=3.5)
    chat = make_chat(store, alice)
    ids = (alice.id, store.id, provider.id, chat.id)
    outcomes = []

    def answer():
        with app.app_context():
            from webapp.chat.models import Chat
            from webapp.providers.models import Provider
            from webapp.stores.models import Store
            from webapp.users.models import User

            user, st, prov, ch = (db.session.get(User, ids[0]), db.session.get(Store, ids[1]),
                                  db.session.get(Provider, ids[2]), db.session.get(Chat, ids[3]))
            try:
                give_answer(ch, user, st, prov, prompt_tokens=0, completion_tokens=1)
                outcomes.append("answered")
            except AnswerRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("answered") == 3 and outcomes.count("refused") == 7
    run_jobs()
    assert len(charges("delivered")) == 3 and len(casdoor_rows(casdoor)) == 3
    balance = next(u for u in casdoor.controls.users() if u["name"] == "alice")["balance"]
    assert Decimal(repr(balance)) == Decimal("0.5")


@pytest.mark.parametrize("policy, expected", [("refuse", "paused"), ("allow", None)])
def test_casdoor_unreachable_at_the_dry_run_follows_the_setting(make_app, migrated, sso_app_config, casdoor,
                                                                 create_store, policy, expected):
    app = make_app(**sso_app_config, BILLING_WHEN_CASDOOR_DOWN=policy, BILLING_DOWN_ALLOWANCE="0.08")
    with app.app_context():
        try:
            user = linked_local_user("alice")
            store = create_store("research")
            provider = make_provider()
            casdoor.controls.inject_fault("/api/add-transaction", "http500", count=10)
            if expected:
                with pytest.raises(AnswerRefused, match=expected):
                    ask(user, store, provider)
            else:
                ask(user, store, provider)  # 0.075 in flight, within 0.08
                with pytest.raises(AnswerRefused, match="limited to 0.08 USD"):
                    ask(user, store, provider)  # 0.075 pending + 0.075 would exceed it
        finally:
            db.session.remove()
            from tests.support.database import clear_tables

            clear_tables()


# -- delivery under faults --------------------------------------------------------


@pytest.mark.parametrize("fault", ["http500_after", "timeout_after", "drop_after"])
def test_an_answer_lost_after_casdoor_recorded_it_charges_once(app, casdoor, store, provider, alice, run_jobs, fault):
    message, = ask(alice, store, provider)
    casdoor.controls.inject_fault("/api/add-transaction", fault, seconds=4)
    run_jobs()
    charge, = charges()
    assert charge.state == "pending" and charge.ambiguous_at is not None
    assert len(casdoor_rows(casdoor, message.charge_key)) == 1  # Casdoor has it; we did not hear
    wait_out_ambiguity()
    make_due()
    run_jobs()
    db.session.refresh(charge)
    assert charge.state == "delivered"
    row, = casdoor_rows(casdoor, message.charge_key)
    assert charge.casdoor_name == row["name"] and charge.attempts == 1


def test_a_send_casdoor_works_on_after_we_gave_up_is_waited_for(make_app, migrated, sso_app_config, casdoor,
                                                                create_store, run_jobs):
    """``timeout``: Casdoor sleeps, we give up after CASDOOR_TIMEOUT, then Casdoor records it.
    A lookup right away would find nothing and send again; delivery waits past the timeout."""
    app = make_app(**sso_app_config, CASDOOR_TIMEOUT=1.0)
    with app.app_context():
        try:
            from webapp.jobs.worker import Worker

            user = linked_local_user("alice")
            store = create_store("research")
            provider = make_provider()
            message, = ask(user, store, provider)
            casdoor.controls.inject_fault("/api/add-transaction", "timeout", seconds=1.6)
            Worker(app).run_until_idle()
            assert casdoor_rows(casdoor, message.charge_key) == []  # not yet: Casdoor is still asleep
            make_due()  # the job is due, but the charge says wait past the timeout
            Worker(app).run_until_idle()
            db.session.expire_all()
            assert charges()[0].state == "pending"
            time.sleep(2.2)
            make_due()
            Worker(app).run_until_idle()
            db.session.expire_all()
            assert charges()[0].state == "delivered"
            assert len(casdoor_rows(casdoor, message.charge_key)) == 1
        finally:
            db.session.remove()
            from tests.support.database import clear_tables

            clear_tables()


def test_two_hundred_answers_while_casdoor_is_down_then_up(app, casdoor, store, alice, run_jobs):
    provider = make_provider("123.45678", "987.65432", max_tokens=10, name="odd-prices")
    casdoor.controls.patch_user("storehouse", "alice", balance=1000)
    messages = ask(alice, store, provider, n=200, prompt_tokens=77, completion_tokens=9)
    for path in ("/api/add-transaction", "/api/get-transactions"):
        casdoor.controls.inject_fault(path, "http500", count=100_000)
    run_jobs()
    assert len(charges("pending")) == 200 and casdoor_rows(casdoor) == []
    casdoor.controls.clear_faults()
    wait_out_ambiguity()
    make_due()
    run_jobs()
    assert len(charges("delivered")) == 200
    rows = casdoor_rows(casdoor)
    assert sorted(r["subtype"] for r in rows) == sorted(m.charge_key for m in messages)
    assert casdoor_total(casdoor) == ledger_total() == sum((m.price for m in messages), Decimal(0))


# -- refusals at charge time ------------------------------------------------------


def test_balance_dropping_between_dry_run_and_charge_is_recorded_as_refused(app, casdoor, store, provider, alice,
                                                                           run_jobs, client, login):
    message, = ask(alice, store, provider)
    casdoor.controls.patch_user("storehouse", "alice", balance=0.001)
    run_jobs()
    charge, = charges()
    assert charge.state == "refused" and "Insufficient balance" in charge.reason
    left, = casdoor_rows(casdoor, message.charge_key)  # the row Casdoor left behind, named here
    assert charge.casdoor_name == left["name"]
    assert db.session.get(BillingAccount, alice.id).is_overdrawn
    make_due()
    assert run_jobs() == 0  # never retried blindly
    assert len(casdoor_rows(casdoor, message.charge_key)) == 1
    login(client, alice)
    page = client.get("/billing/").get_data(as_text=True)
    assert "refused: balance too low" in page and 'data-testid="overdrawn"' in page


def test_only_a_passing_balance_check_clears_the_overdrawn_flag(app, casdoor, store, provider, alice):
    service.flag_overdrawn(alice.id, "Insufficient balance: new balance -0.01 would be below credit limit 0")
    db.session.commit()
    casdoor.controls.patch_user("storehouse", "alice", balance=0.01)
    with pytest.raises(AnswerRefused):
        ask(alice, store, provider)
    db.session.rollback()
    assert db.session.get(BillingAccount, alice.id).is_overdrawn
    assert db.session.execute(sa.select(sa.func.count()).select_from(Reservation)).scalar() == 0

    casdoor.controls.patch_user("storehouse", "alice", balance=5)
    ask(alice, store, provider)
    db.session.expire_all()
    account = db.session.get(BillingAccount, alice.id)
    assert not account.is_overdrawn and account.overdrawn_reason == ""


def test_unknown_casdoor_user_fails_for_good_with_the_reason(app, casdoor, store, provider, create_user, run_jobs):
    ghost = casdoor_user(create_user, "ghost")
    # No dry run can pass for an unknown user, so the charge comes from an answer settled directly.
    chat = make_chat(store, ghost)
    from tests.support.billing import give_answer as answer
    from webapp.chat import charging

    original = charging.before_answer
    charging.before_answer = lambda *args: None
    try:
        answer(chat, ghost, store, provider)
    finally:
        charging.before_answer = original
    run_jobs()
    charge, = charges()
    assert charge.state == "failed" and "ghost" in charge.reason
    job, = db.session.execute(sa.select(Job)).scalars()
    assert job.state == "failed" and job.attempts == 1
    make_due()
    assert run_jobs() == 0


# -- legacy Casdoor -----------------------------------------------------------------


def test_legacy_shape_against_the_legacy_server(make_app, migrated, sso_app_config, casdoor, create_store):
    casdoor.controls.set_transactions_mode("legacy")
    app = make_app(**sso_app_config, BILLING_TRANSACTION_SHAPE="legacy")
    with app.app_context():
        try:
            from webapp.jobs.worker import Worker

            user = linked_local_user("bob")
            store = create_store("research")
            provider = make_provider()
            messages = ask(user, store, provider, n=3)
            casdoor.controls.inject_fault("/api/add-transaction", "http500_after")
            Worker(app).run_until_idle()
            wait_out_ambiguity()
            make_due()
            Worker(app).run_until_idle()
            db.session.expire_all()
            assert [c.state for c in charges()] == ["delivered"] * 3
            rows = [t for t in casdoor.controls.transactions() if t["application"] == "storehouse"]
            assert sorted(r["name"] for r in rows) == sorted(m.charge_key for m in messages)
            assert all(r["category"] == "User" and r["productName"] == "priced" for r in rows)
            bob = next(u for u in casdoor.controls.users() if u["name"] == "bob")
            assert Decimal(repr(bob["balance"])) == Decimal(10) - sum(m.price for m in messages)
            casdoor.controls.patch_user("storehouse", "bob", balance=0.01)
            with pytest.raises(AnswerRefused, match="0.01 USD left"):
                ask(user, store, provider)
        finally:
            db.session.remove()
            from tests.support.database import clear_tables

            clear_tables()


def test_only_a_refused_connection_counts_as_never_sent(casdoor):
    """Connection refused: Casdoor never saw the request, so the next try needs no lookup.
    A timeout or an HTTP 500 may come after Casdoor recorded it: those are ambiguous."""
    from tests.support.billing import make_client, settings_for
    from webapp.billing.client import TransactionsClient
    from webapp.billing.delivery import never_reached
    from webapp.casdoor.client import CasdoorClient
    from webapp.casdoor.errors import CasdoorUnavailable

    closed = settings_for(casdoor).__class__(**{**settings_for(casdoor).__dict__,
                                               "endpoint": "http://127.0.0.1:9"})
    with pytest.raises(CasdoorUnavailable) as refused:
        TransactionsClient(CasdoorClient(closed)).find("5c0e7d1e-4c1b-4a5e-9b8e-2f1d0c9a7b11")
    assert never_reached(refused.value)
    for fault in ("http500", "timeout"):
        casdoor.controls.inject_fault("/api/get-transactions", fault, seconds=1.5)
        with pytest.raises(CasdoorUnavailable) as ambiguous:
            make_client(casdoor, timeout=0.5).find("5c0e7d1e-4c1b-4a5e-9b8e-2f1d0c9a7b11")
        assert not never_reached(ambiguous.value)


def test_charges_piled_up_while_casdoor_was_down_are_sent_without_lookups(app, casdoor, store, provider, alice,
                                                                          run_jobs):
    ask(alice, store, provider, n=5)
    app.extensions["billing_client"].casdoor.settings = app.extensions["billing_client"].casdoor.settings.__class__(
        **{**app.extensions["billing_client"].casdoor.settings.__dict__, "endpoint": "http://127.0.0.1:9"})
    run_jobs()
    assert [(c.state, c.attempts, c.ambiguous_at) for c in charges()] == [("pending", 0, None)] * 5
    del app.extensions["billing_client"]
    app.extensions["casdoor"].api.settings = app.extensions["casdoor"].settings
    make_due()
    casdoor.controls.inject_fault("/api/get-transactions", "envelope", count=100, msg="no lookups expected")
    run_jobs()
    assert [c.state for c in charges()] == ["delivered"] * 5 and len(casdoor_rows(casdoor)) == 5


# -- a claimed batch: one commit, each charge on its own -------------------------------


def test_a_batch_commits_once_and_one_failing_charge_loses_or_doubles_no_other(app, casdoor, store, provider,
                                                                              alice, run_jobs):
    keys = {m.charge_key for m in ask(alice, store, provider, n=6)}
    # A job whose handler raises (no charge id): rolled back alone and retried, the others commit.
    broken = enqueue(service.DELIVER_JOB, {}).id
    db.session.commit()
    # The first send is stored by Casdoor, then the connection drops before the answer.
    casdoor.controls.inject_fault("/api/add-transaction", "drop_after", count=1)
    commits = []
    counter = lambda connection: commits.append(connection)  # noqa: E731
    sa.event.listen(db.engine, "commit", counter)  # a database COMMIT, not a savepoint's release
    try:
        assert Worker(app, batch=10, commit_window=60).run_batch() == 7
    finally:
        sa.event.remove(db.engine, "commit", counter)
    assert len(commits) == 2  # the claim, then the batch's outcomes together
    db.session.expire_all()
    states = [c.state for c in charges()]
    assert states.count("delivered") == 5 and states.count("pending") == 1
    unheard, = charges("pending")
    assert unheard.ambiguous_at is not None and len(casdoor_rows(casdoor)) == 6
    job = db.session.get(Job, broken)
    assert job.state == "queued" and "KeyError" in job.last_error
    # The unheard charge is looked up and adopted, never sent again.
    wait_out_ambiguity()
    make_due()
    db.session.execute(sa.delete(Job).where(Job.id == broken))
    db.session.commit()
    run_jobs()
    rows = casdoor_rows(casdoor)
    assert [c.state for c in charges()] == ["delivered"] * 6
    assert len(rows) == 6 and {r["subtype"] for r in rows} == keys
    assert {c.casdoor_name for c in charges()} == {r["name"] for r in rows}
    assert casdoor_total(casdoor) == ledger_total()


def test_a_batch_whose_commit_never_came_is_looked_up_not_sent_again(app, casdoor, store, provider, alice, run_jobs):
    """The worker dies after sending a batch but before committing it: the next tries find every
    charge at Casdoor and adopt it."""
    keys = {m.charge_key for m in ask(alice, store, provider, n=4)}
    claimed = claim("dying-worker", limit=10)
    with pytest.raises(RuntimeError):
        with _commit_dies():
            execute_together(claimed, window=60)
    db.session.rollback()
    db.session.expire_all()
    assert [c.state for c in charges()] == ["pending"] * 4 and len(casdoor_rows(casdoor)) == 4
    # Its leases lapse; another worker takes the jobs over.
    _taken_over_and_adopted(casdoor, run_jobs, keys)


def _taken_over_and_adopted(casdoor, run_jobs, keys):
    """Lapse every running lease, let another worker run the jobs with Casdoor refusing any new
    send, and check that each charge (``keys``) was adopted from Casdoor, exactly once."""
    db.session.execute(sa.update(Job).where(Job.state == "running").values(lease_until=utcnow()))
    db.session.commit()
    casdoor.controls.inject_fault("/api/add-transaction", "envelope", count=100, msg="no resend expected")
    run_jobs()
    casdoor.controls.clear_faults()
    rows = casdoor_rows(casdoor)
    assert [c.state for c in charges()] == ["delivered"] * len(keys)
    assert len(rows) == len(keys) and {r["subtype"] for r in rows} == keys
    assert casdoor_total(casdoor) == ledger_total()


def test_a_batch_settles_its_finished_jobs_in_one_statement(app, casdoor, store, provider, alice):
    ask(alice, store, provider, n=8)
    statements = []
    collect = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", collect)
    try:
        assert Worker(app, batch=10, commit_window=60).run_batch() == 8
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", collect)
    job_updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE JOBS")]
    assert len(job_updates) == 2  # the claim, then the eight settled together
    assert {j.state for j in db.session.execute(sa.select(Job)).scalars()} == {"done"}
    assert [c.state for c in charges()] == ["delivered"] * 8 and len(casdoor_rows(casdoor)) == 8


def test_a_batch_with_a_job_taken_over_meanwhile_discards_its_outcomes_and_sends_nothing_twice(
        app, casdoor, store, provider, alice, run_jobs):
    """The worker stalled past its lease: another worker took one of its jobs over before the
    commit. None of the batch's outcomes counts; every charge is looked up and adopted."""
    keys = {m.charge_key for m in ask(alice, store, provider, n=4)}
    claimed = claim("stalled-worker", limit=10)
    db.session.execute(sa.update(Job).where(Job.id == claimed[2].id).values(lease_token="another-worker"))
    db.session.commit()
    states = execute_together(claimed, window=60)
    assert states == {job.id: None for job in claimed}
    db.session.expire_all()
    assert [c.state for c in charges()] == ["pending"] * 4 and len(casdoor_rows(casdoor)) == 4
    assert db.session.get(Job, claimed[2].id).lease_token == "another-worker"  # left to its holder
    # The leases lapse (the other worker's too, as if it died): the next tries adopt, never resend.
    _taken_over_and_adopted(casdoor, run_jobs, keys)


def test_a_job_whose_heartbeat_finds_it_taken_over_is_dropped_alone(app, casdoor, store, provider, alice,
                                                                   monkeypatch):
    """A claim old enough that each charge renews its lease before sending: the one another
    worker now holds is not sent and not settled; the others are delivered and committed."""
    from webapp.billing import delivery

    ask(alice, store, provider, n=3)
    claimed = claim("slow-worker", limit=10)
    claimed_at = time.monotonic() - 59
    monkeypatch.setitem(delivery._claims_seen, claimed[0].token, claimed_at)
    db.session.execute(sa.update(Job).where(Job.id == claimed[1].id).values(lease_token="another-worker"))
    db.session.commit()
    states = execute_together(claimed, window=60, claimed_at=claimed_at)
    assert states == {claimed[0].id: "done", claimed[1].id: None, claimed[2].id: "done"}
    db.session.expire_all()
    assert [c.state for c in charges()] == ["delivered", "pending", "delivered"]
    assert len(casdoor_rows(casdoor)) == 2
    assert db.session.get(Job, claimed[1].id).lease_token == "another-worker"


class _commit_dies:
    """Every database COMMIT in the block fails, as a killed worker's never happens."""

    def __enter__(self):
        sa.event.listen(db.engine, "commit", self._die)

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "commit", self._die)

    @staticmethod
    def _die(connection):
        raise RuntimeError("the worker died before committing")
