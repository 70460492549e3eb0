"""The legacy transaction API (Casdoor v2.117 - v2.144), casdoor-api.md §8.1."""
import pytest

from devcasdoor import create_dev_casdoor
from devcasdoor.__main__ import main as devcasdoor_main
from tests.devcasdoor.helpers import api, app_credentials

CLIENT_ID, CLIENT_SECRET = app_credentials()
APP_AUTH = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}

LEGACY_KEYS = ["owner", "name", "createdTime", "displayName", "provider", "category", "type",
               "productName", "productDisplayName", "detail", "tag", "currency", "amount",
               "returnUrl", "user", "application", "payment", "state"]


@pytest.fixture
def legacy(dev):
    assert dev.controls.set_transactions_mode("legacy") == "legacy"
    return dev


def legacy_charge(name, user="alice", amount=-1.5, category="User", **extra):
    return {"owner": "storehouse", "name": name, "createdTime": "2026-08-22T10:00:00+02:00",
            "displayName": name, "provider": "fake-llm", "category": category, "type": "Token Usage",
            "productName": "fake-llm", "productDisplayName": "AI Model: fake-llm", "detail": "1801",
            "tag": "chat-1", "currency": "USD", "amount": amount, "returnUrl": "http://127.0.0.1:5000",
            "user": user, "application": "storehouse", "payment": "Balance", "state": "Paid", **extra}


def add(dev, transaction, **params):
    return api(dev, "POST", "/api/add-transaction",
               params={"id": f"storehouse/{transaction['name']}", **APP_AUTH, **params}, json=transaction).json()


def get(dev, name):
    return api(dev, "GET", "/api/get-transaction", params={"id": f"storehouse/{name}", **APP_AUTH}).json()["data"]


def user_balance(dev, name):
    return api(dev, "GET", "/api/get-user", params={"id": f"storehouse/{name}", **APP_AUTH}).json()["data"]["balance"]


def test_add_keeps_the_name_and_answers_affected(legacy):
    reply = add(legacy, legacy_charge("tx-1", domain="ignored", subtype="ignored"))
    assert reply["status"] == "ok" and reply["data"] == "Affected"
    row = get(legacy, "tx-1")
    assert list(row) == LEGACY_KEYS
    assert row["name"] == row["displayName"] == "tx-1" and row["productName"] == "fake-llm"
    assert user_balance(legacy, "alice") == 8.5


def test_category_drives_the_balance_not_tag(legacy):
    add(legacy, legacy_charge("by-tag", category="AI Usage", tag="User"))
    assert user_balance(legacy, "alice") == 10.0
    add(legacy, legacy_charge("org", category="Organization", amount=3))
    org = next(o for o in legacy.controls.organizations() if o["name"] == "storehouse")
    assert org["orgBalance"] == 3


def test_dry_run_is_ignored_and_the_add_happens(legacy):
    reply = add(legacy, legacy_charge("dry"), dryRun="1")
    assert reply["data"] == "Affected"
    assert get(legacy, "dry") is not None and user_balance(legacy, "alice") == 8.5


def test_no_credit_limit(legacy):
    assert add(legacy, legacy_charge("overdraw", user="dave", amount=-4))["data"] == "Affected"
    assert user_balance(legacy, "dave") == -4.0


def test_a_second_add_under_the_same_name_is_a_duplicate_key(legacy):
    add(legacy, legacy_charge("same"))
    again = add(legacy, legacy_charge("same", amount=-2))
    assert again["status"] == "error"
    assert again["msg"] == ("Error 1062 (23000): Duplicate entry 'storehouse-same' "
                            "for key 'transaction.PRIMARY'")
    assert get(legacy, "same")["amount"] == -1.5 and user_balance(legacy, "alice") == 8.5


def test_unknown_user_leaves_the_row_behind(legacy):
    reply = add(legacy, legacy_charge("ghost", user="nobody"))
    assert reply["msg"] == "The user: storehouse/nobody is not found"
    assert get(legacy, "ghost")["user"] == "nobody"


def test_balances_are_plain_float_sums(legacy):
    add(legacy, legacy_charge("a", amount=-0.1))
    add(legacy, legacy_charge("b", amount=-0.2))
    assert user_balance(legacy, "alice") == 10 - 0.1 - 0.2 != 9.7


def test_legacy_columns_filter_and_sort(legacy):
    add(legacy, legacy_charge("k-1", productName="model-a"))
    add(legacy, legacy_charge("k-2", productName="model-b"))
    page = api(legacy, "GET", "/api/get-transactions",
               params={"owner": "storehouse", "p": 1, "pageSize": 10, "field": "productName",
                       "value": "model-b", **APP_AUTH}).json()
    assert [t["name"] for t in page["data"]] == ["k-2"] and page["data2"] == 1
    unknown = api(legacy, "GET", "/api/get-transactions",
                  params={"owner": "storehouse", "p": 1, "pageSize": 10, "field": "subtype",
                          "value": "x", **APP_AUTH}).json()
    assert "Unknown column 'subtype'" in unknown["msg"]


def test_switching_back_and_reset(legacy):
    add(legacy, legacy_charge("old-row"))
    assert legacy.controls.set_transactions_mode("current") == "current"
    reply = add(legacy, legacy_charge("ignored-name", category="", tag="User"))
    assert len(reply["data"]) == 32
    # Rows keep the shape they were written in.
    assert "productName" in get(legacy, "old-row") and "subtype" in get(legacy, reply["data"])
    legacy.controls.set_transactions_mode("legacy")
    legacy.controls.reset()
    assert legacy.controls.transactions_mode() == "current"


def test_unknown_mode_is_refused(dev):
    reply = api(dev, "POST", "/_dev/transactions-mode", json={"mode": "ancient"})
    assert reply.status_code == 400 and dev.controls.transactions_mode() == "current"


def test_server_started_in_legacy_mode(tmp_path):
    app = create_dev_casdoor(None, str(tmp_path), transactions_mode="legacy", enable_dev_controls=True)
    try:
        client = app.test_client()
        reply = client.post("/api/add-transaction", query_string=APP_AUTH, json=legacy_charge("t"))
        assert reply.get_json()["data"] == "Affected"
        client.post("/_dev/transactions-mode", json={"mode": "current"})
        client.post("/_dev/reset")
        assert client.get("/_dev/transactions-mode").get_json() == {"mode": "legacy"}
    finally:
        app.extensions["devcasdoor"].stop()
    with pytest.raises(ValueError):
        create_dev_casdoor(None, str(tmp_path), transactions_mode="ancient")


def test_cli_refuses_an_unknown_mode(capsys):
    with pytest.raises(SystemExit) as exited:
        devcasdoor_main(["--transactions", "ancient"])
    assert exited.value.code == 2 and "invalid choice" in capsys.readouterr().err
