"""Casdoor JWTs on the API: exchange, bind, Bearer, and the attacks that must fail."""
import base64
import hashlib
import hmac
import json
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.casdoor import access_token_for, code_for_api, demo_application, me_with, valid_claims

pytestmark = []


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def exchange(client, casdoor, username, application="storehouse", **extra):
    code = code_for_api(casdoor, application, username, nonce=extra.pop("casdoor_nonce", "api-nonce"))
    return client.post("/api/v1/auth/casdoor/exchange/",
                       json={"code": code, "redirect_uri": "http://localhost:5173/callback", **extra})


def test_config_endpoint_never_shows_the_secret(client, casdoor):
    body = client.get("/api/v1/auth/casdoor/config/").json
    assert body["configured"] is True
    assert body["endpoint"] == casdoor.url and body["organization"] == "storehouse"
    assert body["application"] == "storehouse" and body["client_id"] == demo_application("storehouse")["clientId"]
    assert body["signin_url"].endswith("/login/oauth/authorize")
    assert demo_application("storehouse")["clientSecret"] not in json.dumps(body)


def test_exchange_returns_the_same_payload_as_a_local_sign_in(client, casdoor, app):
    response = exchange(client, casdoor, "bob", nonce="api-nonce")
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Token" and response.json["user"]["username"] == "bob"
    me = app.test_client().get("/api/v1/me/", headers={"Authorization": f"Token {response.json['token']}"})
    assert me.status_code == 200 and me.json["auth_method"] == "casdoor"


FORMATS = ["storehouse", "storehouse-standard", "storehouse-empty", "storehouse-custom"]


@pytest.mark.parametrize("casdoor_overrides", [{"application": name} for name in FORMATS], ids=FORMATS)
def test_exchange_works_for_every_token_format(client, casdoor, casdoor_overrides, db):
    response = exchange(client, casdoor, "alice", application=casdoor_overrides["application"], nonce="api-nonce")
    assert response.status_code == 200, response.json
    assert response.json["user"]["username"] == "alice"
    from webapp.users.models import User
    alice = db.session.execute(db.select(User).filter_by(username="alice")).scalar_one()
    assert alice.casdoor_homepage == "research" and alice.casdoor_groups == ["storehouse/staff"]


@pytest.mark.parametrize("casdoor_overrides", [{"application": "storehouse-empty"}])
@pytest.mark.parametrize("field", ["isForbidden", "isDeleted"])
def test_forbidden_or_deleted_user_is_refused_when_casdoor_is_asked(client, casdoor, field):
    token = access_token_for(casdoor, "bob", application="storehouse-empty")
    casdoor.controls.patch_user("storehouse", "bob", **{field: True})
    response = me_with(client, token)
    assert response.status_code == 401
    assert "forbidden or deleted" in response.json["message"]


def test_exchange_with_the_wrong_nonce_is_refused(client, casdoor):
    response = exchange(client, casdoor, "bob", nonce="another-nonce")
    assert response.status_code == 401
    assert "nonce mismatch" in response.json["message"]


def test_exchange_needs_code_and_redirect_uri(client):
    response = client.post("/api/v1/auth/casdoor/exchange/", json={})
    assert response.status_code == 422 and "redirect_uri" in response.json["message"]
    assert response.json["fields"] == {"code": "is required", "redirect_uri": "is required"}


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}])
def test_exchange_group_gate_is_403(client, casdoor):
    response = exchange(client, casdoor, "carol")
    assert response.status_code == 403 and response.json["error"] == "casdoor_group_required"
    assert "not a member of any required group (storehouse/staff)" in response.json["message"]


def test_exchange_replayed_code_is_401(client, casdoor):
    code = code_for_api(casdoor, "storehouse", "bob")
    body = {"code": code, "redirect_uri": "http://localhost:5173/callback"}
    assert client.post("/api/v1/auth/casdoor/exchange/", json=body).status_code == 200
    again = client.post("/api/v1/auth/casdoor/exchange/", json=body)
    assert again.status_code == 401 and "Casdoor refused the code" in again.json["message"]


def test_bind_links_and_409_when_linked_elsewhere(client, casdoor, create_user, app):
    first = create_user("first")
    token = client.post("/api/v1/auth/login/", json={"email": first.email, "password": first.plain_password}).json["token"]
    headers = {"Authorization": f"Token {token}"}
    code = code_for_api(casdoor, "storehouse", "bob")
    bound = client.post("/api/v1/auth/casdoor/bind/", headers=headers,
                        json={"code": code, "redirect_uri": "http://localhost:5173/callback"})
    assert bound.status_code == 200 and bound.json["linked"] is True

    second = create_user("second")
    other = app.test_client()
    token2 = other.post("/api/v1/auth/login/", json={"email": second.email, "password": second.plain_password}).json["token"]
    code2 = code_for_api(casdoor, "storehouse", "bob")
    conflict = other.post("/api/v1/auth/casdoor/bind/", headers={"Authorization": f"Token {token2}"},
                          json={"code": code2, "redirect_uri": "http://localhost:5173/callback"})
    assert conflict.status_code == 409
    assert "already linked to another Storehouse account" in conflict.json["message"]

    unbound = client.delete("/api/v1/auth/casdoor/bind/", headers=headers)
    assert unbound.status_code == 200 and unbound.json["linked"] is False


def test_bind_needs_a_session(client):
    response = client.post("/api/v1/auth/casdoor/bind/", json={"code": "x", "redirect_uri": "y"})
    assert response.status_code == 401


def test_bearer_token_authenticates_and_is_cached(client, casdoor, app, db):
    token = access_token_for(casdoor, "alice")
    first = me_with(client, token)
    assert first.status_code == 200 and first.json["user"]["username"] == "alice"
    assert first.json["auth_method"] == "bearer"
    from webapp.users.models import User
    alice = db.session.execute(db.select(User).filter_by(username="alice")).scalar_one()
    assert alice.casdoor_homepage == "research"  # a bearer sign-in binds like a browser one
    cache = app.extensions["casdoor"].token_cache
    assert cache.get(token) is not None
    # While cached, verification does not need Casdoor at all.
    casdoor.controls.inject_fault("/.well-known/jwks", "http500", count=5)
    casdoor.controls.inject_fault("/api/get-user", "http500", count=5)
    assert me_with(client, token).status_code == 200


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_TOKEN_CACHE_TTL": 0}])
def test_cache_can_be_switched_off(client, casdoor, app):
    token = access_token_for(casdoor, "bob")
    assert me_with(client, token).status_code == 200
    assert app.extensions["casdoor"].token_cache.get(token) is None


def test_bearer_requests_skip_cookies_and_csrf(client, casdoor):
    token = access_token_for(casdoor, "bob")
    response = client.post("/api/v1/auth/logout/", headers={"Authorization": f"Bearer {token}"})
    # Authenticated by the header, so no CSRF token was needed.
    assert response.status_code == 200


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}])
def test_bearer_group_gate(client, casdoor):
    response = me_with(client, access_token_for(casdoor, "carol"))
    assert response.status_code == 403 and response.json["error"] == "casdoor_group_required"


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(client, casdoor):
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(valid_claims(casdoor))}."
    response = me_with(client, token)
    assert response.status_code == 401 and "JWT verification failed" in response.json["message"]


def test_hmac_signed_with_the_public_key_is_refused(client, casdoor):
    jwks = requests.get(f"{casdoor.url}/.well-known/jwks", timeout=5).json()
    public = RSAKey.import_key(jwks["keys"][0])
    pem = public.as_pem(private=False)
    # The classic confusion attack: HS256 keyed with the published public key.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': jwks['keys'][0]['kid']})}.{_b64(valid_claims(casdoor))}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    response = me_with(client, token)
    assert response.status_code == 401
    assert "only asymmetric signatures are accepted" in response.json["message"]


@pytest.mark.parametrize("change,reason", [
    ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 4000, "nbf": int(time.time()) - 4000}, "expired"),
    ({"aud": ["someone-elses-client"]}, "not for client"),
    ({"iss": "https://evil.example"}, "issued by 'https://evil.example'"),
    ({"nbf": int(time.time()) + 3600}, "not yet valid"),
])
def test_tokens_with_bad_claims_are_refused(client, casdoor, change, reason):
    token = casdoor.controls.sign(valid_claims(casdoor, **change), cert="cert-storehouse")
    response = me_with(client, token)
    assert response.status_code == 401
    assert reason in response.json["message"]


def test_unknown_kid_is_refused(client, casdoor):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "cert-nobody"})
    token = jwt.encode({"alg": "RS256", "kid": "cert-nobody"}, valid_claims(casdoor), stranger)
    response = me_with(client, token)
    assert response.status_code == 401 and "unknown kid" in response.json["message"]


def test_tampered_payload_is_refused(client, casdoor):
    token = access_token_for(casdoor, "bob")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["homepage"] = "someone-elses-store"
    forged = f"{header}.{_b64(claims)}.{signature}"
    response = me_with(client, forged)
    assert response.status_code == 401 and "bad signature" in response.json["message"]


def test_key_rotation_needs_no_restart(client, casdoor):
    assert me_with(client, access_token_for(casdoor, "bob")).status_code == 200
    casdoor.controls.rotate_key("cert-storehouse", new_name="cert-storehouse-2")
    fresh = access_token_for(casdoor, "alice")
    header = json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "=="))
    assert header["kid"] == "cert-storehouse-2"
    assert me_with(client, fresh).status_code == 200


def test_shadow_mode_answers_not_configured(make_app, migrated):
    app = make_app()
    client = app.test_client()
    assert client.get("/api/v1/auth/casdoor/config/").json["configured"] is False
    exchange_response = client.post("/api/v1/auth/casdoor/exchange/", json={"code": "x", "redirect_uri": "y"})
    assert exchange_response.status_code == 503
    assert "CASDOOR_ENDPOINT" in exchange_response.json["message"]
    page = client.get("/auth/casdoor/login")
    assert page.status_code == 503 and "not configured" in page.get_data(as_text=True)
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert "Continue with Casdoor SSO" not in login_page and "Single sign-on is not configured" in login_page
    bearer = client.get("/api/v1/me/", headers={"Authorization": "Bearer a.b.c"})
    assert bearer.status_code == 401
