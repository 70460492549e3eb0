"""REST authentication, userinfo and the users API (casdoor-api.md §6, §7, §11)."""
import time

from tests.devcasdoor.helpers import USERS, api, app_credentials, jwt_parts, tokens_for

CLIENT_ID, CLIENT_SECRET = app_credentials()
APP_AUTH = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
ENVELOPE_KEYS = ["status", "msg", "sub", "name", "data", "data2", "data3"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_userinfo_without_credentials_is_an_http_200_envelope(dev):
    reply = api(dev, "GET", "/api/userinfo")
    assert reply.status_code == 200
    assert reply.json() == {"status": "error", "msg": "Please login first", "sub": "", "name": "",
                            "data": "Please login first", "data2": None, "data3": None}


def test_userinfo_is_gated_by_scope_substrings(dev):
    full = tokens_for(dev, scope="openid profile email")["access_token"]
    info = api(dev, "GET", "/api/userinfo", headers=bearer(full)).json()
    assert info["sub"] == USERS["alice"]["id"] and info["iss"] == dev.url and info["aud"] == CLIENT_ID
    assert info["preferred_username"] == "alice" and info["email"] == "alice@storehouse.test"
    assert info["groups"] == ["storehouse/staff"]
    assert "homepage" not in info
    read = tokens_for(dev, scope="read")["access_token"]
    assert api(dev, "GET", "/api/userinfo", headers=bearer(read)).json() == {
        "sub": USERS["alice"]["id"], "iss": dev.url, "aud": CLIENT_ID}


def test_userinfo_email_verified_is_always_true(dev):
    dev.controls.patch_user("storehouse", "bob", emailVerified=False)
    token = tokens_for(dev, "bob", scope="email")["access_token"]
    info = api(dev, "GET", "/api/userinfo", params={"access_token": token}).json()
    assert info["email_verified"] is True
    assert "preferred_username" not in info


def test_bearer_is_checked_by_database_lookup_not_signature(dev):
    claims = {"owner": "storehouse", "name": "alice", "sub": USERS["alice"]["id"], "aud": [CLIENT_ID],
              "iss": dev.url, "exp": int(time.time()) + 3600}
    forged = dev.controls.sign(claims)  # correctly signed, never issued
    reply = api(dev, "GET", "/api/get-account", headers=bearer(forged))
    assert reply.status_code == 200
    assert reply.json() == {"status": "error", "msg": "Access token doesn't exist in database",
                            "data": None, "data2": None}
    registered = dev.controls.sign(claims, register=True)
    assert api(dev, "GET", "/api/get-account", headers=bearer(registered)).json()["status"] == "ok"


def test_expired_token_row_is_refused(dev):
    claims = {"owner": "storehouse", "name": "alice", "sub": USERS["alice"]["id"], "aud": [CLIENT_ID]}
    token = dev.controls.sign(dict(claims, exp=int(time.time()) - 10), register=True)
    reply = api(dev, "GET", "/api/get-account", params={"accessToken": token}).json()
    assert reply["status"] == "error"
    assert reply["msg"].startswith("Access token has expired, expireTime = ")


def test_get_account(dev):
    token = tokens_for(dev)["access_token"]
    reply = api(dev, "GET", "/api/get-account", headers=bearer(token)).json()
    assert list(reply) == ENVELOPE_KEYS
    assert reply["sub"] == USERS["alice"]["id"] and reply["name"] == "alice"
    assert reply["data"]["password"] == "***" and reply["data"]["homepage"] == "research"
    assert reply["data"]["accessToken"]
    assert reply["data2"]["name"] == "storehouse"


def test_get_user_variants_and_missing_user(dev):
    by_id = api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH}).json()
    assert by_id["status"] == "ok" and by_id["data"]["id"] == USERS["alice"]["id"]
    assert by_id["data"]["password"] == "***" and by_id["data"]["balance"] == 10.0
    by_email = api(dev, "GET", "/api/get-user",
                   params={"owner": "storehouse", "email": "bob@storehouse.test", **APP_AUTH}).json()
    assert by_email["data"]["name"] == "bob"
    by_uuid = api(dev, "GET", "/api/get-user",
                  params={"owner": "storehouse", "userId": USERS["carol"]["id"], **APP_AUTH}).json()
    assert by_uuid["data"]["name"] == "carol"
    missing = api(dev, "GET", "/api/get-user", params={"id": "storehouse/nobody", **APP_AUTH})
    assert missing.status_code == 200
    assert missing.json() == {"status": "ok", "msg": "", "sub": "", "name": "", "data": None,
                              "data2": None, "data3": None}


def test_wrong_app_credentials_are_an_envelope_error(dev):
    reply = api(dev, "GET", "/api/get-users", params={"owner": "storehouse", "clientId": CLIENT_ID,
                                                       "clientSecret": "wrong"})
    assert reply.status_code == 200 and reply.json()["status"] == "error"


def test_app_credentials_are_a_super_subject(dev):
    via_query = api(dev, "GET", "/api/get-users", params={"owner": "storehouse", **APP_AUTH}).json()
    assert sorted(u["name"] for u in via_query["data"]) == ["admin", "alice", "bob", "carol", "dave"]
    via_basic = api(dev, "GET", "/api/get-users", params={"owner": "storehouse"},
                    auth=(CLIENT_ID, CLIENT_SECRET)).json()
    assert via_basic["status"] == "ok"
    # A client_credentials token has the same power.
    cc = api(dev, "POST", "/api/login/oauth/access_token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).json()
    via_token = api(dev, "GET", "/api/get-users", params={"owner": "storehouse"},
                    headers=bearer(cc["access_token"])).json()
    assert via_token["status"] == "ok"


def test_a_normal_users_token_is_unauthorized_for_admin_calls(dev):
    token = tokens_for(dev, "bob")["access_token"]
    reply = api(dev, "GET", "/api/get-users", params={"owner": "storehouse"}, headers=bearer(token))
    assert reply.status_code == 200
    assert reply.json() == {"status": "error", "msg": "Unauthorized operation", "data": None, "data2": None}
    other = api(dev, "POST", "/api/update-user", params={"id": "storehouse/alice", "columns": "homepage"},
                json={"homepage": "hijack"}, headers=bearer(token)).json()
    assert other["msg"] == "Unauthorized operation"


def test_a_user_may_update_themself(dev):
    token = tokens_for(dev, "bob")["access_token"]
    reply = api(dev, "POST", "/api/update-user", params={"id": "storehouse/bob", "columns": "bio"},
                json={"bio": "hello"}, headers=bearer(token)).json()
    assert reply["data"] == "Affected"


def test_update_user_with_columns_merges(dev):
    reply = api(dev, "POST", "/api/update-user", params={"id": "storehouse/bob", "columns": "homepage", **APP_AUTH},
                data='{"homepage": "general"}').json()
    assert reply["status"] == "ok" and reply["data"] == "Affected"
    user = api(dev, "GET", "/api/get-user", params={"id": "storehouse/bob", **APP_AUTH}).json()["data"]
    assert user["homepage"] == "general" and user["displayName"] == USERS["bob"]["displayName"]


def test_update_user_without_columns_zeroes_omitted_fields(dev):
    reply = api(dev, "POST", "/api/update-user", params={"id": "storehouse/bob", **APP_AUTH},
                json={"owner": "storehouse", "name": "bob", "homepage": "general"}).json()
    assert reply["data"] == "Affected"
    user = api(dev, "GET", "/api/get-user", params={"id": "storehouse/bob", **APP_AUTH}).json()["data"]
    assert user["homepage"] == "general"
    assert user["displayName"] == "" and user["groups"] == [] and user["email"] == ""
    assert user["password"] == "***"  # the password is not a default column


def test_update_user_round_trip_keeps_everything(dev):
    user = api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH}).json()["data"]
    user["bio"] = "changed"
    api(dev, "POST", "/api/update-user", params={"id": "storehouse/alice", **APP_AUTH}, json=user)
    after = api(dev, "GET", "/api/get-user", params={"id": "storehouse/alice", **APP_AUTH}).json()["data"]
    assert after["bio"] == "changed"
    assert {k: v for k, v in after.items() if k != "bio"} == {k: v for k, v in user.items() if k != "bio"}


def test_update_user_rejects_special_characters_in_name(dev):
    reply = api(dev, "POST", "/api/update-user", params={"id": "storehouse/bob", **APP_AUTH},
                json={"name": "bob/evil"})
    assert reply.status_code == 200 and reply.json()["status"] == "error"


def test_a_basic_header_hides_the_query_credentials(dev):
    """A non-matching Basic header is ignored silently, and then clientId/clientSecret
    in the query are not consulted either: the caller is anonymous."""
    reply = api(dev, "GET", "/api/get-users", params={"owner": "storehouse", **APP_AUTH},
                auth=("proxy-user", "proxy-password"))
    assert reply.json()["msg"] == "Unauthorized operation"


def test_userinfo_token_fields_act_as_a_whitelist(dev):
    with dev.state.lock:
        dev.state.applications["storehouse"]["tokenFields"] = ["Name"]
    token = tokens_for(dev, scope="openid profile email")["access_token"]
    info = api(dev, "GET", "/api/userinfo", headers=bearer(token)).json()
    assert info == {"sub": USERS["alice"]["id"], "iss": dev.url, "aud": CLIENT_ID,
                    "preferred_username": "alice"}


def test_refresh_takes_iss_from_the_refresh_request(dev):
    body = tokens_for(dev)
    reply = api(dev, "POST", "/api/login/oauth/access_token", headers={"Host": "casdoor.storehouse.test"},
                data={"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": body["refresh_token"]})
    assert jwt_parts(reply.json()["access_token"])[1]["iss"] == "https://casdoor.storehouse.test"
