"""The Casdoor transactions client, against the development Casdoor server over loopback."""
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from devcasdoor.testing import DevCasdoor
from tests.support.billing import make_client, settings_for
from tests.support.casdoor import casdoor_config, demo_seed
from tests.support.waiting import wait_until
from webapp.billing.client import (
    PAGE_SIZE,
    Transaction,
    TransactionDraft,
    TransactionsClient,
    from_casdoor_amount,
    to_casdoor_amount,
)
from webapp.billing.errors import BillingRejected, InsufficientBalance
from webapp.casdoor.client import CasdoorClient
from webapp.casdoor.errors import CasdoorUnavailable
from webapp.casdoor.settings import CasdoorSettings
from webapp.core.money import display

ANSWERED_AT = datetime(2026, 8, 22, 8, 0, 0)


@pytest.fixture
def client(casdoor):
    return make_client(casdoor)


@pytest.fixture
def legacy(casdoor):
    casdoor.controls.set_transactions_mode("legacy")
    return make_client(casdoor, shape="legacy")


def draft(user="alice", amount="0.25", key=None, **fields):
    return TransactionDraft(key=key or str(uuid.uuid4()), user=user, amount=Decimal(amount), currency="USD",
                            created_at=fields.pop("created_at", ANSWERED_AT), chat="chat-7",
                            provider="local-smollm2", domain="http://127.0.0.1:5000", **fields)


def raw_add(server, **fields):
    """A transaction written straight to Casdoor's API (another client's, an impostor ...)."""
    config = casdoor_config(server)
    body = {"owner": "storehouse", "name": "", "createdTime": "2026-08-22T08:00:00+00:00",
            "application": "storehouse", "category": "Other", "type": "", "subtype": "", "user": "alice",
            "tag": "User", "amount": -0.01, "currency": "USD", "state": "Paid", **fields}
    reply = requests.post(f"{server.url}/api/add-transaction", params={"id": "storehouse/"}, json=body,
                          auth=(config["CASDOOR_CLIENT_ID"], config["CASDOOR_CLIENT_SECRET"]), timeout=5)
    assert reply.json()["status"] == "ok", reply.text
    return reply.json()["data"]


def rows_with_key(server, key):
    return [t for t in server.controls.transactions() if key in (t.get("subtype"), t.get("name"))]


def wait_for_rows(server, key, count=1, timeout=30.0):
    """The rows holding ``key`` once Casdoor has ``count`` of them."""
    wait_until(lambda: len(rows_with_key(server, key)) >= count, timeout,
               message=f"{count} Casdoor transaction(s) with key {key}")
    return rows_with_key(server, key)


# -- the balance check --------------------------------------------------------


def test_dry_run_that_passes_records_nothing(client, casdoor):
    client.check_balance(draft(amount="9.99"))
    assert casdoor.controls.transactions() == []
    assert client.user_balance("alice") == (Decimal("10.00000000"), "USD")


def test_dry_run_refusal_gives_casdoor_numbers(client, casdoor):
    casdoor.controls.patch_user("storehouse", "alice", balance=0.5)
    with pytest.raises(InsufficientBalance) as refused:
        client.check_balance(draft(amount="1.25"))
    error = refused.value
    assert (error.needed, error.balance, error.credit_limit, error.available) == (
        Decimal("1.25"), Decimal("0.5"), Decimal(0), Decimal("0.5"))
    assert error.casdoor_message == "Insufficient balance: new balance -0.75 would be below credit limit 0"
    assert not error.may_be_recorded and error.status_code == 402
    assert "needs 1.25 USD" in error.message and "0.50 USD left" in error.message
    assert casdoor.controls.transactions() == []


def test_dry_run_counts_the_credit_limit(client, casdoor):
    casdoor.controls.patch_user("storehouse", "dave", balanceCredit=-1)
    client.check_balance(draft("dave", amount="1"))
    with pytest.raises(InsufficientBalance) as refused:
        client.check_balance(draft("dave", amount="1.5"))
    assert (refused.value.balance, refused.value.credit_limit, refused.value.available) == (
        Decimal(0), Decimal(-1), Decimal(1))


def test_dry_run_for_an_unknown_user_is_rejected(client):
    with pytest.raises(BillingRejected) as rejected:
        client.check_balance(draft("nobody"))
    assert rejected.value.casdoor_message == "The user: storehouse/nobody is not found"
    assert not rejected.value.may_be_recorded


def test_dry_run_when_casdoor_is_down():
    settings = CasdoorSettings(endpoint="http://127.0.0.1:9", client_id="x", client_secret="y",
                               organization="storehouse", application="storehouse", timeout=1.0)
    with pytest.raises(CasdoorUnavailable):
        TransactionsClient(CasdoorClient(settings)).check_balance(draft())


def test_the_proxy_environment_is_honoured_and_read_once_per_host(casdoor, monkeypatch):
    """Calls go through ``HTTP_PROXY`` unless ``NO_PROXY`` names the host, as with requests
    everywhere; what the environment said for a host is kept (it is not read on every call)."""
    with monkeypatch.context() as env:  # undone before the server's own fixtures tidy up
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
            env.delenv(name, raising=False)
            env.delenv(name.lower(), raising=False)
        env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        with pytest.raises(CasdoorUnavailable):
            make_client(casdoor).check_balance(draft())
        env.setenv("NO_PROXY", "127.0.0.1")
        client = make_client(casdoor)
        client.check_balance(draft())
        env.delenv("NO_PROXY")
        client.check_balance(draft())  # still straight to Casdoor: the host's answer was kept
        with pytest.raises(CasdoorUnavailable):
            make_client(casdoor).check_balance(draft())  # a new client reads the environment again


def test_dry_run_answered_with_an_error_page_is_unavailable(client, casdoor):
    casdoor.controls.inject_fault("/api/add-transaction", "http500")
    with pytest.raises(CasdoorUnavailable):
        client.check_balance(draft())


# -- charging -----------------------------------------------------------------


def test_add_returns_the_name_and_moves_the_balance_by_exactly_the_amount(client, casdoor):
    charge = draft(amount="0.00052530")
    before, _ = client.user_balance("alice")
    name = client.add(charge)
    assert re.fullmatch(r"[0-9a-f]{32}", name)
    after, _ = client.user_balance("alice")
    assert before - after == Decimal("0.00052530")
    [row] = casdoor.controls.transactions()
    assert row["name"] == name and row["subtype"] == charge.key and row["amount"] == -0.0005253
    assert (row["application"], row["type"], row["tag"], row["category"], row["state"]) == (
        "storehouse", "chat-7", "User", "Storehouse Chat", "Paid")
    assert (row["provider"], row["domain"], row["createdTime"]) == (
        "local-smollm2", "http://127.0.0.1:5000", "2026-08-22T08:00:00+00:00")


def test_aware_created_at_is_sent_in_utc(client, casdoor):
    client.add(draft(created_at=datetime(2026, 8, 22, 10, 0, tzinfo=timezone(timedelta(hours=2)))))
    assert casdoor.controls.transactions()[0]["createdTime"] == "2026-08-22T08:00:00+00:00"


@pytest.mark.parametrize("amount", ["0.00052530", "0.1", "0.2", "1.23456789", "0.00000001", "4321.98765432"])
def test_decimals_round_trip_exactly(client, casdoor, amount):
    casdoor.controls.patch_user("storehouse", "alice", balance=10000)
    charge = draft(amount=amount)
    client.add(charge)
    found = client.find(charge.key)
    assert found.amount == Decimal(amount) and isinstance(found.amount, Decimal)
    assert client.user_balance("alice")[0] == Decimal(10000) - Decimal(amount)
    assert not any(isinstance(v, float) for v in found.raw.values())


def test_many_small_charges_sum_exactly(client, casdoor):
    charges = [draft(amount="0.1"), draft(amount="0.2"), draft(amount="0.00052530")]
    for charge in charges:
        client.add(charge)
    assert client.user_balance("alice")[0] == Decimal("10") - sum(c.amount for c in charges)


def test_insufficient_balance_at_add_leaves_a_row_that_find_finds(client, casdoor):
    charge = draft("dave", amount="0.01")
    with pytest.raises(InsufficientBalance) as refused:
        client.add(charge)
    assert refused.value.may_be_recorded and refused.value.balance == Decimal(0)
    found = client.find(charge.key)
    assert (found.user, found.amount, found.key) == ("dave", Decimal("0.01"), charge.key)
    assert client.user_balance("dave")[0] == Decimal(0)


def test_add_for_an_unknown_user_is_rejected_and_may_be_recorded(client):
    charge = draft("nobody")
    with pytest.raises(BillingRejected) as rejected:
        client.add(charge)
    assert rejected.value.may_be_recorded
    assert client.find(charge.key).user == "nobody"  # Casdoor inserted before it looked the user up


@pytest.mark.parametrize("kind", ["http500_after", "timeout_after", "drop_after", "timeout"])
def test_unknown_outcome_then_find_adopts_instead_of_charging_twice(casdoor, kind):
    client = make_client(casdoor, timeout=0.5)
    casdoor.controls.inject_fault("/api/add-transaction", kind, seconds=1.5)
    charge = draft(amount="0.75")
    with pytest.raises(CasdoorUnavailable):
        client.add(charge)
    # "timeout" sleeps before the work: the row lands after the client gave up.
    [row] = wait_for_rows(casdoor, charge.key)
    # Check, then send: the key is there, so the delivery adopts it and sends nothing.
    found = client.find(charge.key)
    assert found.name == row["name"] and found.amount == Decimal("0.75")
    assert len(rows_with_key(casdoor, charge.key)) == 1
    assert client.user_balance("alice")[0] == Decimal("9.25")


def test_unknown_outcome_names_the_dropped_connection(casdoor):
    client = make_client(casdoor)
    casdoor.controls.inject_fault("/api/add-transaction", "drop_after")
    with pytest.raises(CasdoorUnavailable) as unavailable:
        client.add(draft())
    assert "closed before an answer" in unavailable.value.message


# -- looking a key up -----------------------------------------------------------


def test_find_matches_the_key_exactly(client, casdoor):
    charge = draft()
    # Casdoor's lookup is LIKE %key%: rows whose subtype merely contains the key come back too.
    raw_add(casdoor, subtype=f"{charge.key}-retry")
    raw_add(casdoor, subtype=f"x{charge.key}")
    raw_add(casdoor, subtype=charge.key.upper())
    assert client.find(charge.key) is None
    name = client.add(charge)
    found = client.find(charge.key)
    assert isinstance(found, Transaction) and found.name == name and found.key == charge.key


def test_find_reads_every_page_of_near_matches(client, casdoor):
    charge = draft()
    for n in range(12):
        raw_add(casdoor, subtype=f"{charge.key}-{n:02d}", createdTime=f"2026-08-23T08:00:{n:02d}+00:00")
    name = client.add(charge)
    assert client.find(charge.key).name == name


def test_find_of_an_unknown_key_is_none_and_a_failure_is_not(client, casdoor):
    assert client.find(str(uuid.uuid4())) is None
    casdoor.controls.inject_fault("/api/get-transactions", "http500")
    with pytest.raises(CasdoorUnavailable):
        client.find(str(uuid.uuid4()))


def test_find_refuses_keys_that_are_not_uuids(client):
    for key in ("%", "abc", str(uuid.uuid4()).upper(), "_" * 36):
        with pytest.raises(ValueError):
            client.find(key)


# -- listing for reconciliation -------------------------------------------------


def test_iter_transactions_lists_this_application_once_each(client, casdoor):
    ours = [draft(amount="0.01", created_at=ANSWERED_AT + timedelta(minutes=n)) for n in range(5)]
    names = {client.add(charge) for charge in ours}
    raw_add(casdoor, application="storehouse-standard", subtype="theirs")  # LIKE matches "storehouse"
    raw_add(casdoor, application="other", subtype="other")
    listed = list(client.iter_transactions(page_size=2))
    assert {t.name for t in listed} == names and len(listed) == 5
    assert {t.key for t in listed} == {c.key for c in ours}
    assert all(t.amount == Decimal("0.01") and t.application == "storehouse" for t in listed)
    recent = list(client.iter_transactions(since=ANSWERED_AT + timedelta(minutes=3), page_size=2))
    assert sorted(t.created_at for t in recent) == [ANSWERED_AT + timedelta(minutes=3),
                                                     ANSWERED_AT + timedelta(minutes=4)]
    assert len(list(client.iter_transactions(since=date(2026, 8, 23)))) == 0
    assert PAGE_SIZE >= 10


def key_starting(digit):
    return str(uuid.UUID(digit + uuid.uuid4().hex[1:]))


def test_iter_transactions_misses_nothing_while_rows_are_added(legacy):
    # Legacy names are our keys, so the test can choose where new rows sort.
    before = {legacy.add(draft(amount="0.01", key=key_starting("8"))) for _ in range(6)}
    seen = []
    for transaction in legacy.iter_transactions(page_size=2):
        seen.append(transaction.name)
        if len(seen) == 2:
            # Rows sorting first shift every later page: Casdoor repeats rows, skips none.
            for _ in range(3):
                legacy.add(draft(amount="0.01", key=key_starting("0")))
    assert before <= set(seen) and len(seen) == len(set(seen))


# -- balances -----------------------------------------------------------------


def test_user_balance(client, casdoor):
    casdoor.controls.patch_user("storehouse", "bob", balance=5.1, balanceCurrency="EUR")
    assert client.user_balance("bob") == (Decimal("5.10000000"), "EUR")
    with pytest.raises(BillingRejected):
        client.user_balance("nobody")


def test_user_balance_falls_back_to_the_organization_currency(tmp_path):
    demo = demo_seed()
    seed = {**demo, "organizations": [{**demo["organizations"][0], "balanceCurrency": "EUR"}],
            "users": [{**u, "balanceCurrency": ""} for u in demo["users"]]}
    with DevCasdoor(seed=seed, state_dir=tmp_path) as server:
        client = TransactionsClient(CasdoorClient(settings_for(server)))
        assert client.user_balance("alice") == (Decimal("10.00000000"), "EUR")


# -- the legacy shape (Casdoor v2.117 - v2.144) ------------------------------------


def test_legacy_end_to_end(legacy, casdoor):
    charge = draft(amount="0.00052530", detail="1234 + 567 tokens")
    legacy.check_balance(charge)
    assert casdoor.controls.transactions() == []  # the check reads the balance, it adds nothing
    assert legacy.add(charge) == charge.key
    found = legacy.find(charge.key)
    assert (found.name, found.key, found.amount, found.user) == (
        charge.key, charge.key, Decimal("0.00052530"), "alice")
    assert (found.raw["category"], found.raw["type"], found.raw["tag"], found.raw["productName"],
            found.raw["detail"], found.raw["returnUrl"]) == (
        "User", "Storehouse Chat", "chat-7", "local-smollm2", "1234 + 567 tokens", "http://127.0.0.1:5000")
    assert legacy.user_balance("alice")[0] == Decimal("10") - Decimal("0.00052530")
    assert [t.key for t in legacy.iter_transactions()] == [charge.key]


def test_legacy_balance_check_is_local(legacy, casdoor):
    casdoor.controls.patch_user("storehouse", "bob", balance=0.2)
    legacy.check_balance(draft("bob", amount="0.2"))
    with pytest.raises(InsufficientBalance) as refused:
        legacy.check_balance(draft("bob", amount="0.20000001"))
    assert (refused.value.balance, refused.value.credit_limit) == (Decimal("0.2"), Decimal(0))
    with pytest.raises(BillingRejected):
        legacy.check_balance(draft("nobody"))
    assert casdoor.controls.transactions() == []


def test_legacy_resend_is_adopted_not_charged_twice(legacy, casdoor):
    charge = draft(amount="0.5")
    casdoor.controls.inject_fault("/api/add-transaction", "drop_after")
    with pytest.raises(CasdoorUnavailable):
        legacy.add(charge)
    assert legacy.find(charge.key) is not None
    # Even a blind resend is safe here: Casdoor refuses the duplicate name.
    assert legacy.add(charge) == charge.key
    assert len(rows_with_key(casdoor, charge.key)) == 1
    assert legacy.user_balance("alice")[0] == Decimal("9.5")


def test_legacy_duplicate_with_other_content_is_rejected(legacy):
    charge = draft(amount="0.5")
    legacy.add(charge)
    with pytest.raises(BillingRejected) as rejected:
        legacy.add(draft(amount="0.6", key=charge.key))
    assert "different transaction" in rejected.value.message


# -- a shape that does not match the server ------------------------------------------


def test_current_shape_against_a_legacy_server(client, casdoor):
    casdoor.controls.set_transactions_mode("legacy")
    with pytest.raises(BillingRejected) as rejected:
        client.check_balance(draft())
    assert rejected.value.may_be_recorded and "older than v2.162" in rejected.value.message
    # The "dry run" really added a row under the empty name; a second one would now be a duplicate.
    assert [t["name"] for t in casdoor.controls.transactions()] == [""]
    casdoor.controls.reset()
    casdoor.controls.set_transactions_mode("legacy")
    with pytest.raises(BillingRejected) as rejected:
        client.add(draft())
    assert rejected.value.may_be_recorded and "older than v2.149" in rejected.value.message


def test_legacy_shape_against_a_current_server(casdoor):
    legacy = make_client(casdoor, shape="legacy")
    with pytest.raises(BillingRejected) as rejected:
        legacy.add(draft())
    assert rejected.value.may_be_recorded and "current shape" in rejected.value.message
    assert client_balance(casdoor, "alice") == 10.0  # category "User" moves nothing there


def client_balance(server, name):
    return next(u for u in server.controls.users() if u["name"] == name)["balance"]


# -- the boundary ----------------------------------------------------------------


@pytest.mark.parametrize("fields, error", [
    ({"amount": 0.25}, TypeError),
    ({"amount": Decimal("0.000000001")}, ValueError),
    ({"amount": Decimal("1234567890.12345678")}, ValueError),
    ({"amount": Decimal(0)}, ValueError),
    ({"amount": Decimal("-1")}, ValueError),
    ({"amount": Decimal("NaN")}, ValueError),
    ({"key": "not-a-uuid"}, ValueError),
    ({"user": "storehouse/alice"}, ValueError),
    ({"currency": ""}, ValueError),
    ({"chat": "c" * 101}, ValueError),
])
def test_draft_refuses_what_casdoor_cannot_keep(fields, error):
    values = {"key": str(uuid.uuid4()), "user": "alice", "amount": Decimal("1"), "currency": "USD",
              "created_at": ANSWERED_AT, **fields}
    with pytest.raises(error):
        TransactionDraft(**values)


def test_amount_conversion():
    assert to_casdoor_amount(Decimal("0.00052530")) == 0.0005253
    assert from_casdoor_amount(Decimal("-0.0005253")) == Decimal("-0.00052530")
    assert from_casdoor_amount(Decimal("9.700000000000001")) == Decimal("9.70000000")
    assert from_casdoor_amount(-4) == Decimal("-4.00000000")
    assert display(Decimal("0.00052530")) == "0.0005253" and display(Decimal("5")) == "5.00"
    assert display(Decimal("100")) == "100.00"
