"""The /_dev/ test controls."""
import time

import pytest
import requests

from tests.devcasdoor.helpers import api, app_credentials, jwt_parts, tokens_for
from tests.support.waiting import wait_until

CLIENT_ID, CLIENT_SECRET = app_credentials()
APP_AUTH = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
CHARGE = {"owner": "storehouse", "name": "", "user": "alice", "tag": "User", "amount": -1, "currency": "USD"}


def test_envelope_and_http500_faults(dev):
    dev.controls.inject_fault("/api/add-transaction", "envelope", count=1, msg="Casdoor is sad")
    first = api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE)
    assert first.status_code == 200 and first.json()["msg"] == "Casdoor is sad"
    assert api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE).json()["status"] == "ok"
    dev.controls.inject_fault("/api/get-user", "http500", count=2)
    assert api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH}).status_code == 500
    dev.controls.clear_faults()
    assert api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH}).status_code == 200


def test_timeout_fault_still_performs_the_add(dev):
    dev.controls.inject_fault("/api/add-transaction", "timeout", seconds=0.6)
    with pytest.raises(requests.Timeout):
        api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE, timeout=0.2)
    wait_until(dev.controls.transactions, message="the add that timed out, performed all the same")
    assert len(dev.controls.transactions()) == 1


def test_rotate_key_keeps_the_kid_and_changes_the_key(dev):
    before = {k["kid"]: k for k in api(dev, "GET", "/.well-known/jwks").json()["keys"]}
    jwks = dev.controls.rotate_key("cert-storehouse")
    after = {k["kid"]: k for k in jwks["keys"]}
    assert set(after) == set(before)
    assert after["cert-storehouse"]["n"] != before["cert-storehouse"]["n"]
    assert after["cert-built-in"] == before["cert-built-in"]


def test_rotate_key_to_a_new_cert(dev):
    jwks = dev.controls.rotate_key("cert-storehouse", new_name="cert-storehouse-2")
    assert {k["kid"] for k in jwks["keys"]} == {"cert-storehouse", "cert-built-in", "cert-storehouse-2"}
    header, _ = jwt_parts(tokens_for(dev)["access_token"])
    assert header["kid"] == "cert-storehouse-2"
    dev.controls.reset()
    header, _ = jwt_parts(tokens_for(dev)["access_token"])
    assert header["kid"] == "cert-storehouse"


def test_sign_with_custom_header(dev):
    token = dev.controls.sign({"iss": "https://elsewhere.example", "aud": ["x"]}, header={"kid": "other"})
    header, claims = jwt_parts(token)
    assert header["kid"] == "other" and claims["iss"] == "https://elsewhere.example"


def test_patch_user_and_reset(dev):
    user = dev.controls.patch_user("storehouse", "bob", homepage="general", displayName="Robert")
    assert user["homepage"] == "general" and user["password"] == "***"
    assert next(u for u in dev.controls.users() if u["name"] == "bob")["displayName"] == "Robert"
    dev.controls.reset()
    assert next(u for u in dev.controls.users() if u["name"] == "bob")["homepage"] == ""


def test_dev_controls_are_off_by_default(tmp_path):
    from devcasdoor import create_dev_casdoor
    app = create_dev_casdoor(None, str(tmp_path))
    try:
        assert app.test_client().get("/_dev/users").status_code == 404
    finally:
        app.extensions["devcasdoor"].stop()


def test_delay_fault_answers_late_but_normally(dev):
    dev.controls.inject_fault("/api/get-user", "delay", seconds=0.3)
    started = time.time()
    reply = api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH})
    assert time.time() - started >= 0.3
    assert reply.json()["data"]["name"] == "alice"


def test_http500_after_records_then_fails(dev):
    dev.controls.inject_fault("/api/add-transaction", "http500_after", count=2)
    for _ in range(2):
        reply = api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE)
        assert reply.status_code == 500
    assert len(dev.controls.transactions()) == 2
    assert api(dev, "GET", "/api/get-user",
               params={"id": "storehouse/alice", **APP_AUTH}).json()["data"]["balance"] == 8.0
    # The count is spent: the third call answers normally.
    assert api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE).json()["status"] == "ok"


def test_timeout_after_records_before_the_client_gives_up(dev):
    dev.controls.inject_fault("/api/add-transaction", "timeout_after", seconds=1.0)
    with pytest.raises(requests.Timeout):
        api(dev, "POST", "/api/add-transaction", params=APP_AUTH, json=CHARGE, timeout=0.3)
    # No waiting: the row was stored before the answer was held back.
    assert len(dev.controls.transactions()) == 1


def test_drop_after_records_then_closes_the_connection(dev):
    dev.controls.inject_fault("/api/add-transaction", "drop_after")
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError) as dropped:
            session.post(f"{dev.url}/api/add-transaction", params=APP_AUTH, json=CHARGE, timeout=5)
        assert "without response" in str(dropped.value)
        assert len(dev.controls.transactions()) == 1
        # The server is fine afterwards, on the same session.
        again = session.post(f"{dev.url}/api/add-transaction", params=APP_AUTH, json=CHARGE, timeout=5)
        assert again.json()["status"] == "ok" and len(dev.controls.transactions()) == 2


def test_unknown_fault_kind_is_refused(dev):
    reply = requests.post(f"{dev.url}/_dev/faults", json={"path": "/api/get-user", "kind": "explode"}, timeout=5)
    assert reply.status_code == 400
    for kind in ("http500_after", "timeout_after", "drop_after"):
        assert kind in reply.json()["error"]


def test_patch_user_sets_balances(dev):
    dev.controls.patch_user("storehouse", "dave", balance="5.25", balanceCredit=-1, balanceCurrency="EUR")
    user = api(dev, "GET", "/api/get-user", params={"id": "storehouse/dave", **APP_AUTH}).json()["data"]
    assert (user["balance"], user["balanceCredit"], user["balanceCurrency"]) == (5.25, -1.0, "EUR")
    org = next(o for o in dev.controls.organizations() if o["name"] == "storehouse")
    assert org["userBalance"] == 130 + 5.25


def test_demo_users_have_a_small_usd_balance(dev):
    users = {u["name"]: u for u in dev.controls.users()}
    for name in ("alice", "bob"):
        assert 0 < users[name]["balance"] <= 10 and users[name]["balanceCurrency"] == "USD"
    assert users["dave"]["balance"] == 0
