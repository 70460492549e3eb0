"""The authorize page and the SPA's sign-in APIs (casdoor-api.md §3)."""
from urllib.parse import urlencode

import pytest

from tests.devcasdoor.helpers import CALLBACK, PASSWORD, api, app_credentials, pkce_pair

CLIENT_ID, _ = app_credentials()


def authorize_url(dev, **overrides):
    query = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": CALLBACK,
             "scope": "openid profile email", "state": "st", "nonce": "n"}
    query.update(overrides)
    return f"{dev.url}/login/oauth/authorize?{urlencode(query)}"


def test_page_has_the_sign_in_form(dev):
    page = api(dev, "GET", authorize_url(dev)[len(dev.url):])
    assert page.status_code == 200
    assert '<input id="username" name="username"' in page.text
    assert 'name="password" type="password"' in page.text
    assert '<button type="submit">Sign In</button>' in page.text


@pytest.mark.parametrize("overrides, message", [
    ({"client_id": "unknown"}, "Invalid client_id"),
    ({"response_type": "code id_token"}, "Grant_type: code id_token is not supported in this application"),
    ({"redirect_uri": "https://evil.example.com/cb"},
     "Redirect URI: https://evil.example.com/cb doesn&#39;t exist in the allowed Redirect URI list"),
    ({"code_challenge": "abc", "code_challenge_method": "plain"}, "Challenge method should be S256"),
])
def test_errors_are_shown_on_the_page_not_redirected(dev, overrides, message):
    reply = api(dev, "GET", authorize_url(dev, **overrides)[len(dev.url):], allow_redirects=False)
    assert reply.status_code == 200
    assert message in reply.text
    assert "Location" not in reply.headers
    assert 'name="password"' not in reply.text


@pytest.mark.parametrize("redirect_uri", [
    "http://localhost:9999/anything/else",
    "https://localhost/x",
    "http://127.0.0.1:1/whatever?q=1",
])
def test_loopback_redirect_uris_are_always_accepted(dev, redirect_uri):
    location = dev.get_code("storehouse", "bob", PASSWORD, redirect_uri, "s", "n")
    assert location.startswith(redirect_uri)


def test_registered_redirect_uri_rules(dev):
    with dev.state.lock:
        dev.state.applications["storehouse"]["redirectUris"] = ["https://app.example.com/cb"]
    ok = api(dev, "GET", authorize_url(dev, redirect_uri="https://eu.app.example.com/cb?x=1")[len(dev.url):])
    assert 'name="password"' in ok.text  # subdomain, query ignored
    bad_path = api(dev, "GET", authorize_url(dev, redirect_uri="https://app.example.com/other")[len(dev.url):])
    assert "doesn&#39;t exist in the allowed Redirect URI list" in bad_path.text
    bad_scheme = api(dev, "GET", authorize_url(dev, redirect_uri="http://app.example.com/cb")[len(dev.url):])
    assert "doesn&#39;t exist in the allowed Redirect URI list" in bad_scheme.text


def test_state_is_appended_raw(dev):
    location = dev.get_code("storehouse", "alice", PASSWORD, CALLBACK, "a/b=c+d", "n")
    assert location.endswith("&state=a/b=c+d")
    assert location.startswith(CALLBACK + "?code=")
    with_query = dev.get_code("storehouse", "alice", PASSWORD, "http://localhost:5000/cb?x=1", "s1", "n")
    assert with_query.startswith("http://localhost:5000/cb?x=1&code=")


def test_wrong_password_re_renders_the_page_with_an_error(dev):
    reply = api(dev, "POST", authorize_url(dev)[len(dev.url):],
                data={"username": "alice", "password": "wrong"}, allow_redirects=False)
    assert reply.status_code == 200
    assert "password or code is incorrect" in reply.text
    assert 'name="password"' in reply.text
    unknown = api(dev, "POST", authorize_url(dev)[len(dev.url):],
                  data={"username": "zed", "password": "x"}, allow_redirects=False)
    assert "The user: storehouse/zed doesn&#39;t exist" in unknown.text


def test_forbidden_user_gets_no_code(dev):
    dev.controls.patch_user("storehouse", "bob", isForbidden=True)
    reply = api(dev, "POST", authorize_url(dev)[len(dev.url):],
                data={"username": "bob", "password": PASSWORD}, allow_redirects=False)
    assert reply.status_code == 200
    assert "The user is forbidden to sign in, please contact the administrator" in reply.text


def test_sign_in_by_email(dev):
    location = dev.get_code("storehouse", "alice@storehouse.test", PASSWORD, CALLBACK, "s", "n")
    assert "code=" in location


def test_custom_scopes_restrict_every_scope(dev):
    with dev.state.lock:
        dev.state.applications["storehouse"]["scopes"] = [{"name": "files.read"}, {"name": "chat\\..*"}]
    refused = api(dev, "GET", authorize_url(dev, scope="openid files.read")[len(dev.url):])
    assert "Invalid scope" in refused.text
    accepted = api(dev, "GET", authorize_url(dev, scope="files.read chat.write")[len(dev.url):])
    assert 'name="password"' in accepted.text


def test_implicit_token_response(dev):
    reply = api(dev, "POST", authorize_url(dev, response_type="token")[len(dev.url):],
                data={"username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith(CALLBACK + "#access_token=")
    assert reply.headers["Location"].endswith("&state=st&token_type=bearer")


def spa_query(**overrides):
    query = {"clientId": CLIENT_ID, "responseType": "code", "redirectUri": CALLBACK, "type": "code",
             "scope": "openid", "state": "st", "nonce": "n", "code_challenge_method": "null"}
    query.update(overrides)
    return urlencode(query)


def test_spa_json_apis_issue_a_code(dev):
    app = api(dev, "GET", f"/api/get-app-login?{spa_query()}").json()
    assert app["status"] == "ok" and app["data"]["name"] == "storehouse"
    assert app["data"]["clientSecret"] == "***"
    body = {"application": "storehouse", "organization": "storehouse", "username": "alice",
            "password": PASSWORD, "type": "code", "autoSignin": True, "signinMethod": "Password"}
    reply = api(dev, "POST", f"/api/login?{spa_query()}", json=body).json()
    assert reply["status"] == "ok" and len(reply["data"]) == 20
    bad = api(dev, "GET", f"/api/get-app-login?{spa_query(redirectUri='https://evil.example.com/')}").json()
    assert bad["status"] == "error"
    assert bad["msg"] == "Redirect URI: https://evil.example.com/ doesn't exist in the allowed Redirect URI list"


def test_spa_login_rejects_plain_pkce(dev):
    _, challenge = pkce_pair()
    body = {"application": "storehouse", "username": "alice", "password": PASSWORD, "type": "code"}
    reply = api(dev, "POST", f"/api/login?{spa_query(code_challenge=challenge, code_challenge_method='plain')}",
                json=body).json()
    assert reply == {"status": "error", "msg": "Challenge method should be S256", "sub": "", "name": "",
                     "data": None, "data2": None, "data3": None}
