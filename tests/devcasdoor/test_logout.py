"""Logout (casdoor-api.md §9)."""
from tests.devcasdoor.helpers import api, app_credentials, tokens_for

CLIENT_ID, _ = app_credentials()
BACK = "http://127.0.0.1:5000/"


def test_logout_redirects_with_raw_state_and_revokes_the_token(dev):
    body = tokens_for(dev)
    reply = api(dev, "GET", "/api/logout", allow_redirects=False,
                params={"id_token_hint": body["id_token"], "post_logout_redirect_uri": BACK, "state": "x/y=z"})
    assert reply.status_code == 302
    # The trailing slash is trimmed and state is appended unencoded.
    assert reply.headers["Location"] == "http://127.0.0.1:5000?state=x/y=z"
    account = api(dev, "GET", "/api/get-account", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert account.json()["msg"].startswith("Access token has expired")
    refresh = api(dev, "POST", "/api/login/oauth/access_token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": body["refresh_token"]})
    assert refresh.json() == {"error": "invalid_grant", "error_description": "refresh token is expired"}


def test_logout_by_post_without_state(dev):
    body = tokens_for(dev)
    reply = api(dev, "POST", "/api/logout", allow_redirects=False,
                data={"id_token_hint": body["id_token"], "post_logout_redirect_uri": "http://localhost:5000/bye"})
    assert reply.status_code == 302 and reply.headers["Location"] == "http://localhost:5000/bye"


def test_logout_without_redirect_uri_answers_ok(dev):
    body = tokens_for(dev)
    reply = api(dev, "GET", "/api/logout", params={"id_token_hint": body["id_token"]})
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_logout_errors(dev):
    unknown = api(dev, "GET", "/api/logout", params={"id_token_hint": "nope"}).json()
    assert unknown["msg"] == "Token not found, invalid accessToken"
    body = tokens_for(dev)
    bad_uri = api(dev, "GET", "/api/logout", allow_redirects=False,
                  params={"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"})
    assert bad_uri.status_code == 200
    assert bad_uri.json()["msg"] == ("Redirect URI: https://evil.example.com/ doesn't exist in the allowed "
                                     "Redirect URI list")


def test_logout_without_hint_or_session_does_not_redirect(dev):
    reply = api(dev, "GET", "/api/logout", allow_redirects=False,
                params={"post_logout_redirect_uri": BACK, "client_id": CLIENT_ID})
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_sso_logout_expires_every_token_of_the_user(dev):
    first = tokens_for(dev)["access_token"]
    second = tokens_for(dev)["access_token"]
    reply = api(dev, "POST", "/api/sso-logout", params={"logoutAll": "true"},
                headers={"Authorization": f"Bearer {second}"})
    assert reply.json()["status"] == "ok"
    for token in (first, second):
        check = api(dev, "GET", "/api/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
        assert check["msg"].startswith("Access token has expired")
