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


def listing(dev, **params):
    return api(dev, "GET", "/api/get-transactions", params={"owner": "storehouse", **APP_AUTH, **params}).json()


def test_paginated_field_filter_is_sql_like(dev):
    for subtype in ("key-abc", "key-abcd", "KEY-ABX", "other"):
        add(dev, charge(amount=-0.1, subtype=subtype))
    found = listing(dev, p=1, pageSize=10, field="subtype", value="key-abc")
    assert sorted(t["subtype"] for t in found["data"]) == ["key-abc", "key-abcd"] and found["data2"] == 2
    # Case-insensitive, and "_" is a one-character wildcard, as in MySQL.
    wildcard = listing(dev, p=1, pageSize=10, field="subtype", value="key_ab_")
    assert sorted(t["subtype"] for t in wildcard["data"]) == ["KEY-ABX", "key-abc", "key-abcd"]
    escaped = listing(dev, p=1, pageSize=10, field="subtype", value="key\\_ab")
    assert escaped["data"] == [] and escaped["data2"] == 0


def test_unpaginated_listing_filters_by_user_only(dev):
    add(dev, charge("alice", amount=-0.1, subtype="key-1"))
    add(dev, charge("bob", amount=-0.1, subtype="key-2"))
    # Casdoor's non-paginated branch ignores any field but "user", which matches exactly.
    ignored = listing(dev, field="subtype", value="key-1")
    assert sorted(t["subtype"] for t in ignored["data"]) == ["key-1", "key-2"] and ignored["data2"] is None
    assert [t["user"] for t in listing(dev, field="user", value="bob")["data"]] == ["bob"]
    assert listing(dev, field="user", value="bo")["data"] == []


def test_filter_field_rules(dev):
    add(dev, charge(amount=-0.1, subtype="key-1"))
    add(dev, charge(amount=-0.1, subtype="key-2"))
    # A field that is not plain letters and digits is silently not applied ...
    assert listing(dev, p=1, pageSize=10, field="sub_type", value="key-1")["data2"] == 2
    # ... and an unknown column is the database's error.
    unknown = listing(dev, p=1, pageSize=10, field="productName", value="x")
    assert unknown["status"] == "error" and "Unknown column 'product_name'" in unknown["msg"]


def test_sort_field_needs_a_sort_order(dev):
    for day, amount in (("01", -10), ("02", -2), ("03", -30)):
        add(dev, charge(amount=amount, created=f"2026-08-{day}T10:00:00+00:00"))
    by_default = listing(dev, p=1, pageSize=10, sortField="amount")
    assert [t["amount"] for t in by_default["data"]] == [-30, -2, -10]  # createdTime desc
    ascending = listing(dev, p=1, pageSize=10, sortField="amount", sortOrder="ascend")
    assert [t["amount"] for t in ascending["data"]] == [-30, -10, -2]  # numeric, not text
    descending = listing(dev, p=1, pageSize=10, sortField="amount", sortOrder="descend")
    assert [t["amount"] for t in descending["data"]] == [-2, -10, -30]
    assert listing(dev, p=1, pageSize=10, sortField="nope", sortOrder="ascend")["status"] == "error"


def test_page_past_the_end_is_the_last_page(dev):
    for day in ("01", "02", "03"):
        add(dev, charge(amount=-0.1, created=f"2026-08-{day}T10:00:00+00:00"))
    last = listing(dev, p=2, pageSize=2, sortField="createdTime", sortOrder="ascend")
    beyond = listing(dev, p=9, pageSize=2, sortField="createdTime", sortOrder="ascend")
    assert beyond["data"] == last["data"] and [t["createdTime"][8:10] for t in beyond["data"]] == ["03"]
    assert listing(dev, p=0, pageSize=2)["data"] == listing(dev, p=1, pageSize=2)["data"]
    assert len(listing(dev, p=1, pageSize=-1)["data"]) == 3  # pageSize <= 0 means 10


def test_empty_currency_counts_as_usd_and_is_stored_empty(dev):
    name = add(dev, charge(amount=-1, currency=""))["data"]
    assert balance(dev, "alice") == 9.0
    row = api(dev, "GET", "/api/get-transaction", params={"id": f"storehouse/{name}", **APP_AUTH}).json()["data"]
    assert row["currency"] == ""


def test_amount_must_be_a_json_number(dev):
    reply = add(dev, charge(amount="-1.5"))
    assert reply["msg"] == "json: cannot unmarshal string into Go struct field Transaction.amount of type float64"
    assert dev.controls.transactions() == [] and balance(dev, "alice") == 10.0


def test_unknown_user_leaves_the_row_behind(dev):
    reply = add(dev, charge("nobody"))
    assert reply["msg"] == "The user: storehouse/nobody is not found"
    assert [t["user"] for t in dev.controls.transactions()] == ["nobody"]
