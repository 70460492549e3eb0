"""Transactions and balances (casdoor-api.md §8)."""
import re

from tests.devcasdoor.helpers import api, app_credentials, tokens_for

CLIENT_ID, CLIENT_SECRET = app_credentials()
APP_AUTH = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}


def charge(user="alice", amount=-1.5, tag="User", created="2026-08-22T10:00:00+02:00", **extra):
    return {"owner": "storehouse", "name": "", "createdTime": created, "application": "storehouse",
            "domain": "http://127.0.0.1:5000", "category": "AI Usage", "type": "chat-1",
            "subtype": "message-1", "provider": "fake-llm", "user": user, "tag": tag,
            "amount": amount, "currency": "USD", "payment": "", "state": "Paid", **extra}


def add(dev, transaction, **params):
    return api(dev, "POST", "/api/add-transaction", params={"id": "storehouse/", **APP_AUTH, **params},
               json=transaction).json()


def balance(dev, name):
    return api(dev, "GET", "/api/get-user", params={"id": f"storehouse/{name}", **APP_AUTH}).json()["data"]["balance"]


def organization(dev):
    return next(o for o in dev.controls.organizations() if o["name"] == "storehouse")


def test_add_generates_a_32_hex_name_and_charges_the_user(dev):
    reply = add(dev, charge(name="client-chosen"))
    assert reply["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{32}", reply["data"])
    assert balance(dev, "alice") == 8.5
    assert organization(dev)["userBalance"] == 130 - 1.5
    stored = api(dev, "GET", "/api/get-transaction", params={"id": f"storehouse/{reply['data']}", **APP_AUTH}).json()
    assert stored["data"]["name"] == stored["data"]["displayName"] == reply["data"]
    assert stored["data"]["createdTime"] == "2026-08-22T10:00:00+02:00"


def test_dry_run_with_any_value_validates_only(dev):
    for value in ("1", "false", "no"):
        reply = add(dev, charge(), dryRun=value)
        assert reply["status"] == "ok" and reply["data"] == ""
    assert dev.controls.transactions() == []
    assert balance(dev, "alice") == 10.0
    refused = add(dev, charge("dave"), dryRun="1")
    assert refused["msg"] == "Insufficient balance: new balance -1.5 would be below credit limit 0"
    assert dev.controls.transactions() == []


def test_failed_add_leaves_the_row_behind(dev):
    reply = add(dev, charge("dave", amount=-0.0123))
    assert reply == {"status": "error", "msg": "Insufficient balance: new balance -0.0123 would be below credit limit 0",
                     "sub": "", "name": "", "data": None, "data2": None, "data3": None}
    rows = dev.controls.transactions()
    assert len(rows) == 1 and rows[0]["user"] == "dave" and rows[0]["amount"] == -0.0123
    assert balance(dev, "dave") == 0.0


def test_credit_limit_of_the_user(dev):
    dev.controls.patch_user("storehouse", "dave", balanceCredit=-5)
    assert add(dev, charge("dave", amount=-4))["status"] == "ok"
    reply = add(dev, charge("dave", amount=-2))
    assert reply["msg"] == "Insufficient balance: new balance -6 would be below credit limit -5"


def test_tags_drive_the_balance(dev):
    assert add(dev, charge(tag="Organization", amount=5))["status"] == "ok"
    assert organization(dev)["orgBalance"] == 5
    assert balance(dev, "alice") == 10.0
    assert add(dev, charge(tag="Chat", amount=-100))["status"] == "ok"
    assert balance(dev, "alice") == 10.0 and organization(dev)["orgBalance"] == 5
    refused = add(dev, charge(tag="Organization", amount=-6))
    assert refused["msg"] == "Insufficient balance: new organization balance -1 would be below credit limit 0"
    no_user = add(dev, charge(user=""))
    assert no_user["msg"] == "User is required for User category transaction"


def test_writes_need_app_credentials_or_an_admin(dev):
    bob = tokens_for(dev, "bob")["access_token"]
    reply = api(dev, "POST", "/api/add-transaction", params={"id": "storehouse/"},
                headers={"Authorization": f"Bearer {bob}"}, json=charge("bob"))
    assert reply.json()["msg"] == "Unauthorized operation"
    admin = tokens_for(dev, "admin")["access_token"]
    reply = api(dev, "POST", "/api/add-transaction", params={"id": "storehouse/"},
                headers={"Authorization": f"Bearer {admin}"}, json=charge("bob"))
    assert reply.json()["status"] == "ok"


def test_listing_pagination_and_sorting(dev):
    for day in ("01", "03", "02"):
        add(dev, charge(amount=-0.1, created=f"2026-08-{day}T10:00:00+00:00"))
    listed = api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse", **APP_AUTH}).json()
    assert [t["createdTime"][8:10] for t in listed["data"]] == ["03", "02", "01"]
    page = api(dev, "GET", "/api/get-transactions",
               params={"owner": "storehouse", "p": 2, "pageSize": 2, **APP_AUTH}).json()
    assert page["data2"] == 3 and len(page["data"]) == 1 and page["data"][0]["createdTime"][8:10] == "01"


def test_non_admin_visibility(dev):
    add(dev, charge("alice", amount=-0.1))
    add(dev, charge("bob", amount=-0.1))
    # A user named "al" sees alice's rows in paginated mode (SQL LIKE), not otherwise.
    dev.controls.patch_user("storehouse", "dave", name="al")
    token = tokens_for(dev, "al")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    exact = api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse"}, headers=headers).json()
    assert exact["data"] == []
    like = api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse", "p": 1, "pageSize": 10},
               headers=headers).json()
    assert [t["user"] for t in like["data"]] == ["alice"]
    bob = tokens_for(dev, "bob")["access_token"]
    own = api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse"},
              headers={"Authorization": f"Bearer {bob}"}).json()
    assert [t["user"] for t in own["data"]] == ["bob"]
    anonymous = api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse"}).json()
    assert anonymous["status"] == "error"


def test_get_transaction_of_someone_else_is_unauthorized(dev):
    name = add(dev, charge("alice", amount=-0.1))["data"]
    bob = tokens_for(dev, "bob")["access_token"]
    reply = api(dev, "GET", "/api/get-transaction", params={"id": f"storehouse/{name}"},
                headers={"Authorization": f"Bearer {bob}"}).json()
    assert reply["msg"] == "Unauthorized operation"
    missing = api(dev, "GET", "/api/get-transaction", params={"id": "storehouse/nope", **APP_AUTH}).json()
    assert missing["status"] == "ok" and missing["data"] is None


def test_update_and_delete_move_balances_back(dev):
    name = add(dev, charge(amount=-2))["data"]
    row = api(dev, "GET", "/api/get-transaction", params={"id": f"storehouse/{name}", **APP_AUTH}).json()["data"]
    row["amount"] = -3
    updated = api(dev, "POST", "/api/update-transaction", params={"id": f"storehouse/{name}", **APP_AUTH},
                  json=row).json()
    assert updated["data"] == "Affected" and balance(dev, "alice") == 7.0
    deleted = api(dev, "POST", "/api/delete-transaction", params=APP_AUTH, json=row).json()
    assert deleted["data"] == "Affected" and balance(dev, "alice") == 10.0
    # Deleting again reverts the body's amount once more, though no row is left.
    again = api(dev, "POST", "/api/delete-transaction", params=APP_AUTH, json=row).json()
    assert again["data"] == "Unaffected" and balance(dev, "alice") == 13.0
