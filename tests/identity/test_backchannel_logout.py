"""OpenID Connect back-channel logout with tokens signed by the development Casdoor's key."""
import time
import uuid

import pytest

from tests.support.casdoor import access_token_for, demo_application, sso_sign_in
from webapp.extensions import db as _db

PATH = "/auth/oidc/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALICE = "5c0e7d1e-4c1b-4a5e-9b8e-2f1d0c9a7b11"


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def logout_claims(casdoor, **changes):
    now = int(time.time())
    claims = {"iss": casdoor.url, "sub": ALICE, "aud": [demo_application("storehouse")["clientId"]], "iat": now,
              "jti": uuid.uuid4().hex, "events": {EVENT: {}}, "sid": "casdoor-session-1"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def send(client, token):
    return client.post(PATH, data={"logout_token": token})


def me(client, headers=None):
    _db.session.expire_all()
    return client.get("/api/v1/me/", headers=headers).status_code


@pytest.fixture
def signed_in(app, client, casdoor):
    sso_sign_in(client, "alice")
    token = access_token_for(casdoor, "alice")
    assert me(client) == 200 and me(app.test_client(), {"Authorization": f"Bearer {token}"}) == 200
    time.sleep(1.1)  # the logout comes a second later: token times have whole seconds
    return token


def test_a_valid_logout_token_ends_the_casdoor_sessions_and_older_bearer_tokens(app, client, casdoor, signed_in):
    response = send(app.test_client(), casdoor.controls.sign(logout_claims(casdoor)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["sessions_ended"] == 1 and response.headers["Cache-Control"] == "no-store"
    assert me(client) == 401
    assert me(app.test_client(), {"Authorization": f"Bearer {signed_in}"}) == 401


def test_a_replayed_jti_is_refused(app, client, casdoor, signed_in):
    token = casdoor.controls.sign(logout_claims(casdoor))
    assert send(app.test_client(), token).status_code == 200
    time.sleep(1.1)
    sso_sign_in(client, "alice")
    replay = send(app.test_client(), token)
    assert replay.status_code == 400 and "'jti'" in replay.get_json()["error_description"]
    assert me(client) == 200


@pytest.mark.parametrize("changes, reason", [
    ({"aud": ["someone-else"]}, "issued for"),
    ({"events": None}, "events"),
    ({"events": {"http://example.com/other": {}}}, "events"),
    ({"nonce": "n-1"}, "nonce"),
    ({"jti": None}, "jti"),
    ({"iat": int(time.time()) - 3600}, "iat"),
    ({"iss": "https://evil.example"}, "issued by"),
    ({"sub": None, "sid": None}, "'sub' or a 'sid'"),
], ids=["wrong-aud", "no-events", "other-event", "nonce", "no-jti", "old-iat", "wrong-iss", "no-subject"])
def test_invalid_logout_tokens_are_refused_and_change_nothing(app, client, casdoor, signed_in, changes, reason):
    response = send(app.test_client(), casdoor.controls.sign(logout_claims(casdoor, **changes)))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert reason in response.get_json()["error_description"]
    assert me(client) == 200


def test_a_token_signed_with_an_unknown_key_or_unsigned_is_refused(app, client, casdoor, signed_in):
    forged = casdoor.controls.sign(logout_claims(casdoor), header={"kid": "not-a-published-key"})
    assert send(app.test_client(), forged).status_code == 400
    assert send(app.test_client(), "not.a.token").status_code == 400
    assert send(app.test_client(), "").status_code == 400
    assert me(client) == 200
