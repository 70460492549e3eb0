"""Sign-in hardening: tokens that are what they claim, races, local passwords vs Casdoor, flows, hosts."""
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

from tests.support.casdoor import (
    access_token_for,
    authorize_at_casdoor,
    certificate_pem,
    local_path,
    me_with,
    sso_sign_in,
    valid_claims,
)
from tests.support.client import post_form
from tests.support.database import counting_queries
from tests.support.live_server import LiveServer
from webapp.core.clock import utcnow
from webapp.sessions.models import Session
from webapp.users.models import User


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


class CountingAdapter(HTTPAdapter):
    """A transport that counts the requests the app makes to Casdoor (still over real sockets)."""

    def __init__(self):
        super().__init__()
        self.paths = []

    def send(self, request, **kwargs):
        self.paths.append(urlsplit(request.url).path)
        return super().send(request, **kwargs)


@pytest.fixture
def casdoor_requests(app):
    adapter = CountingAdapter()
    app.extensions["casdoor"].api.http.mount("http://", adapter)
    return adapter.paths


# --- tokens that are what they claim ---------------------------------------------------

@pytest.mark.parametrize("type_claim", [{"tokenType": "refresh-token"},
                                        {"tokenType": "access-token", "TokenType": "refresh-token"}],
                         ids=["JWT", "JWT-Custom"])
def test_a_refresh_token_is_not_a_bearer_credential(client, casdoor, type_claim):
    token = casdoor.controls.sign({**valid_claims(casdoor), **type_claim}, cert="cert-storehouse")
    response = me_with(client, token)
    assert response.status_code == 401
    assert "a refresh-token is not a credential" in response.json["message"]


def test_a_real_refresh_token_from_casdoor_is_refused(client, casdoor):
    from tests.support.casdoor import demo_application

    app = demo_application("storehouse")
    tokens = requests.post(f"{casdoor.url}/api/login/oauth/access_token", data={
        "grant_type": "password", "client_id": app["clientId"], "client_secret": app["clientSecret"],
        "username": "bob", "password": "storehouse-dev", "scope": "openid profile email"}, timeout=5).json()
    assert tokens.get("refresh_token"), tokens
    assert me_with(client, tokens["access_token"]).status_code == 200
    assert me_with(client, tokens["refresh_token"]).status_code == 401


def test_unknown_kids_cannot_make_us_hammer_casdoor(client, casdoor, casdoor_requests):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    assert me_with(client, access_token_for(casdoor, "bob")).status_code == 200
    fetched = casdoor_requests.count("/.well-known/jwks")
    for n in range(6):
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"forged-{n}"})
        token = jwt.encode({"alg": "RS256", "kid": f"forged-{n}"}, valid_claims(casdoor), stranger)
        assert me_with(client, token).status_code == 401
    assert casdoor_requests.count("/.well-known/jwks") - fetched <= 1, casdoor_requests


def test_with_a_certificate_the_issuer_is_still_casdoors(make_app, migrated, casdoor, db):
    """CASDOOR_CERTIFICATE replaces the key set, not the issuer check: a token that says it
    was issued by the endpoint as typed (but not by Casdoor's configured origin) is refused."""
    from tests.support.casdoor import casdoor_config
    from tests.support.database import clear_tables

    pem = certificate_pem(casdoor).replace("\n", "\\n")
    app = make_app(**casdoor_config(casdoor, CASDOOR_CERTIFICATE=pem, CASDOOR_ISSUER="https://auth.example.com"))
    with app.app_context():
        try:
            client = app.test_client()
            as_typed = casdoor.controls.sign(valid_claims(casdoor), cert="cert-storehouse")
            refused = me_with(client, as_typed)
            assert refused.status_code == 401
            assert "expected 'https://auth.example.com'" in refused.json["message"]
            right = casdoor.controls.sign(valid_claims(casdoor, iss="https://auth.example.com"),
                                          cert="cert-storehouse")
            assert me_with(client, right).status_code == 200
        finally:
            db.session.remove()
            clear_tables()


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_BEARER_INTROSPECT": True}])
def test_introspection_stops_a_token_revoked_at_casdoor(client, casdoor, app, casdoor_requests):
    token = access_token_for(casdoor, "bob")
    assert me_with(client, token).status_code == 200
    assert "/api/login/oauth/introspect" in casdoor_requests
    # Casdoor revokes the token (RP-initiated logout with it as id_token_hint).
    requests.get(f"{casdoor.url}/api/logout", params={"id_token_hint": token}, allow_redirects=False, timeout=5)
    app.extensions["casdoor"].token_cache.clear()  # the verification cache window passes
    refused = me_with(client, token)
    assert refused.status_code == 401 and "no longer active" in refused.json["message"]


# --- one user, no 500, whatever the timing ------------------------------------------------

@pytest.mark.serial
def test_parallel_bearer_calls_for_a_new_user_make_one_account(app, db, casdoor):
    token = access_token_for(casdoor, "bob")
    app.extensions["casdoor"].token_cache.clear()
    statuses = []
    with LiveServer(app) as server:
        def call():
            response = requests.get(f"{server.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"},
                                    timeout=30)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == [200] * 8
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 1


def test_two_callbacks_of_a_first_sign_in_make_one_account(app, db, casdoor):
    clients = [app.test_client(), app.test_client()]
    callbacks = []
    for client in clients:
        start = client.get("/auth/casdoor/login")
        callbacks.append(local_path(authorize_at_casdoor(start.headers["Location"], "bob")))
    results = []

    def finish(client, path):
        results.append(client.get(path).status_code)

    threads = [threading.Thread(target=finish, args=pair) for pair in zip(clients, callbacks, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [302, 302]
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 1


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_TOKEN_CACHE_TTL": 0}])
def test_repeated_bearer_requests_write_nothing(client, db, casdoor):
    token = access_token_for(casdoor, "bob")
    assert me_with(client, token).status_code == 200
    with counting_queries(db.engine) as statements:
        assert me_with(client, token).status_code == 200
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


# --- a local password is not a way around Casdoor ------------------------------------------

@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}])
def test_password_sign_in_of_a_linked_account_outside_the_required_groups_is_refused(client, create_user):
    user = create_user(casdoor_sub="sub-carol", casdoor_name="carol", casdoor_groups=["storehouse/guests"])
    response = post_form(client, "/auth/login", {"email": user.email, "password": user.plain_password})
    assert response.status_code == 403
    assert "not a member of any required group (storehouse/staff)" in response.get_data(as_text=True)
    api = client.application.test_client().post("/api/v1/auth/login/",
                                                json={"email": user.email, "password": user.plain_password})
    assert api.status_code == 403 and api.json["error"] == "casdoor_group_required"


def test_a_password_session_keeps_the_binding_and_drops_casdoors_admin_flag(client, db, create_user, create_store,
                                                                          login):
    create_store("general")
    create_store("research")
    user = create_user(casdoor_sub="sub-ada", casdoor_name="ada", casdoor_is_admin=True,
                       casdoor_homepage="research", casdoor_last_login_at=utcnow())
    login(client, user)
    assert client.get("/api/v1/me/").json["user"]["is_admin"] is False
    assert client.get("/admin/stores/").status_code == 403
    assert client.get("/s/general/").status_code == 404
    assert client.get("/s/research/").status_code == 200, "still bound to research"


def test_casdoors_admin_flag_applies_in_a_casdoor_session(client, casdoor, db, create_store):
    create_store("general")
    casdoor.controls.patch_user("storehouse", "bob", isAdmin=True)
    sso_sign_in(client, "bob")
    assert client.get("/admin/stores/").status_code == 200


# --- flows ---------------------------------------------------------------------------------

def _session_row(db):
    db.session.rollback()
    return db.session.execute(sa.select(Session).order_by(Session.id.desc())).scalars().first()


def test_a_sign_in_older_than_ten_minutes_must_start_again(app, client, db, casdoor):
    start = client.get("/auth/casdoor/login")
    callback = local_path(authorize_at_casdoor(start.headers["Location"], "bob"))
    row = _session_row(db)
    data = dict(row.data)
    data["casdoor_flow"] = {**data["casdoor_flow"], "started_at": (utcnow() - timedelta(minutes=11)).isoformat()}
    db.session.execute(sa.update(Session).where(Session.id == row.id).values(data=data))
    db.session.commit()
    response = client.get(callback)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(User).filter_by(casdoor_name="bob")).first() is None


def test_any_sign_in_clears_unfinished_flows(app, client, db, casdoor, create_user):
    client.get("/auth/casdoor/login")  # started, never finished
    assert any(key.startswith("_state_") for key in _session_row(db).data)
    user = create_user()
    post_form(client, "/auth/login", {"email": user.email, "password": user.plain_password})
    data = _session_row(db).data
    assert not [key for key in data if key.startswith("_state_") or key in ("casdoor_flow", "casdoor_pending")]


def test_the_id_token_kept_for_sign_out_is_encrypted_at_rest(client, db, casdoor):
    sso_sign_in(client, "bob")
    stored = _session_row(db).data["casdoor_id_token"]
    assert stored and "eyJ" not in stored and stored.count(".") != 2
    response = post_form(client, "/auth/logout")
    assert response.status_code == 302 and "id_token_hint=eyJ" in response.headers["Location"]


# --- absolute URLs never come from the Host header -------------------------------------------

@pytest.mark.parametrize("casdoor_overrides", [{"PUBLIC_URL": "https://storehouse.example.com"}])
def test_the_redirect_uri_comes_from_public_url_not_the_host_header(client, casdoor):
    response = client.get("/auth/casdoor/login", headers={"Host": "evil.example"})
    redirect_uri = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == "https://storehouse.example.com/auth/casdoor/callback"


@pytest.mark.parametrize("casdoor_overrides", [{"TRUSTED_HOSTS": ["storehouse.test"]}])
def test_trusted_hosts_refuse_other_host_headers(client, casdoor):
    assert client.get("/auth/casdoor/login", headers={"Host": "evil.example"}).status_code == 400
    ok = client.get("/auth/casdoor/login", headers={"Host": "storehouse.test"})
    assert ok.status_code == 302 and "redirect_uri=http%3A%2F%2Fstorehouse.test%2F" in ok.headers["Location"]


def test_without_public_url_a_foreign_host_cannot_start_a_sign_in(client, casdoor):
    """The default (no PUBLIC_URL, no TRUSTED_HOSTS): the client's Host header is not an address
    to hand Casdoor, so the sign-in is refused with the setting the administrator must add."""
    response = client.get("/auth/casdoor/login", headers={"Host": "evil.example"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Location" not in response.headers and "evil.example/auth" not in text
    assert "PUBLIC_URL" in text and "TRUSTED_HOSTS" in text


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "localhost"])
def test_without_public_url_loopback_hosts_still_sign_in(client, casdoor, host):
    response = client.get("/auth/casdoor/login", headers={"Host": host})
    assert response.status_code == 302
    redirect_uri = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == f"http://{host}/auth/casdoor/callback"


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10:80", True), ("[::1]", True), ("LOCALHOST.", True),
    ("app.localhost:5000", True), ("evil.example", False), ("localhost.evil.example", False),
    ("10.0.0.1", False), ("[2001:db8::1]:443", False), ("", False),
])
def test_loopback_hosts(host, loopback):
    from webapp.urls import is_loopback_host
    assert is_loopback_host(host) is loopback


# --- a plain OpenID Connect provider behind the CASDOOR_* settings ----------------------------

@pytest.mark.parametrize("casdoor_overrides", [{"application": "storehouse-standard"}])
def test_a_provider_without_casdoors_user_api_still_signs_people_in(client, db, casdoor, create_store):
    """JWT-Standard tokens lack Homepage and groups; the server answers /api/get-user with 404
    as a plain OIDC provider would: the sign-in succeeds, unbound, with the userinfo profile."""
    create_store("general")
    casdoor.controls.inject_fault("/api/get-user", "http404", count=20)
    response = sso_sign_in(client, "alice")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    alice = db.session.execute(sa.select(User).filter_by(casdoor_name="alice")).scalar_one()
    assert alice.casdoor_homepage is None and alice.email == "alice@storehouse.test"
    assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("casdoor_overrides", [{"application": "storehouse-standard",
                                                "CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}])
def test_without_groups_from_the_provider_the_group_gate_refuses_with_its_message(client, casdoor):
    casdoor.controls.inject_fault("/api/get-user", "http404", count=20)
    response = sso_sign_in(client, "alice")
    assert response.status_code == 403
    assert "not a member of any required group (storehouse/staff)" in response.get_data(as_text=True)


def test_missing_profile_claims_come_from_the_userinfo_endpoint(client, db, casdoor):
    """A bare token (sub, iss, aud, exp only) from a provider without Casdoor's user API:
    the email and username come from the standard userinfo endpoint."""
    alice = next(u for u in casdoor.controls.users() if u["name"] == "alice" and u["owner"] == "storehouse")
    claims = {key: value for key, value in valid_claims(casdoor, sub=alice["id"]).items()
              if key in ("iss", "sub", "aud", "iat", "nbf", "exp")}
    token = casdoor.controls.sign({**claims, "scope": "openid profile email"}, cert="cert-storehouse",
                                  register=True)
    casdoor.controls.inject_fault("/api/get-user", "http404", count=20)
    response = me_with(client, token)
    assert response.status_code == 200, response.json
    assert response.json["user"]["email"] == "alice@storehouse.test"
    assert response.json["user"]["username"] == "alice"


def test_rotating_the_secret_key_keeps_sessions_and_re_encrypts_their_secrets(app, make_app, client, db, casdoor,
                                                                             sso_app_config):
    from webapp.crypto import decrypt
    from webapp.sessions.models import ID_TOKEN_PURPOSE

    sso_sign_in(client, "bob")
    old_key = app.config["SECRET_KEY"]
    before = _session_row(db).data["casdoor_id_token"]
    rotated = make_app(**sso_app_config, SECRET_KEY="a-brand-new-secret-key", SECRET_KEY_FALLBACKS=[old_key])
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    during = rotated.test_client()
    during.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert during.get("/api/v1/me/").status_code == 200, "sessions signed with the old key still work"
    with rotated.app_context():  # the command runs in the restarted app (the new key, the fallback)
        result = rotated.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "session id_tokens: 1 re-encrypted" in result.output, result.output
    after = _session_row(db).data["casdoor_id_token"]
    assert after != before
    only_new = make_app(**sso_app_config, SECRET_KEY="a-brand-new-secret-key")
    with only_new.app_context():
        assert decrypt(after, ID_TOKEN_PURPOSE).startswith("eyJ")
        assert decrypt(before, ID_TOKEN_PURPOSE) is None
