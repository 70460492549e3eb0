"""The token endpoint, refresh and introspection (casdoor-api.md §4)."""
import requests

from tests.devcasdoor.helpers import (
    APPS,
    CALLBACK,
    PASSWORD,
    USERS,
    api,
    app_credentials,
    code_from,
    exchange,
    jwt_parts,
    pkce_pair,
    sign_in,
    tokens_for,
)

CLIENT_ID, CLIENT_SECRET = app_credentials()
TOKEN_PATH = "/api/login/oauth/access_token"


def test_code_exchange_returns_token_wrapper_with_id_token_equal_to_access_token(dev):
    body = tokens_for(dev)
    assert list(body) == ["access_token", "id_token", "refresh_token", "token_type", "expires_in", "scope"]
    assert body["id_token"] == body["access_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 168 * 3600
    assert body["scope"] == "openid profile email"
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]


def test_token_header_claims_aud_azp_sub_jti(dev):
    header, claims = jwt_parts(tokens_for(dev)["access_token"])
    assert header == {"alg": "RS256", "kid": "cert-storehouse", "typ": "JWT"}
    assert claims["aud"] == [CLIENT_ID]  # always an array
    assert claims["azp"] == CLIENT_ID
    assert claims["sub"] == USERS["alice"]["id"]
    assert claims["jti"].startswith("admin/")
    assert claims["tokenType"] == "access-token"
    assert claims["nonce"] == "n-123"
    assert claims["iss"] == dev.url
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 168 * 3600


def test_code_is_20_hex_and_single_use(dev):
    code = sign_in(dev)
    assert len(code) == 20 and int(code, 16) >= 0
    assert exchange(dev, code).status_code == 200
    again = exchange(dev, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"].startswith("authorization code has been used for token: [admin/")


def test_unknown_code_and_empty_code(dev):
    reply = exchange(dev, "00000000000000000000")
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant",
                            "error_description": "authorization code: [00000000000000000000] is invalid"}
    reply = exchange(dev, "")
    assert reply.json() == {"error": "invalid_request",
                            "error_description": "authorization code should not be empty"}


def test_basic_auth_works_when_no_client_params(dev):
    code = sign_in(dev)
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "authorization_code", "code": code},
                auth=(CLIENT_ID, CLIENT_SECRET))
    assert reply.status_code == 200 and reply.json()["access_token"]


def test_basic_is_ignored_when_client_id_is_in_the_form(dev):
    code = sign_in(dev)
    reply = api(dev, "POST", TOKEN_PATH,
                data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
                auth=(CLIENT_ID, CLIENT_SECRET))
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="OAuth2"'
    assert reply.json()["error"] == "invalid_client"
    assert reply.json()["error_description"].startswith(
        "client_secret is invalid for application: [admin/storehouse]")


def test_unknown_client_is_401_invalid_client(dev):
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "client_credentials",
                                                "client_id": "nope", "client_secret": "x"})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="OAuth2"'
    assert reply.json() == {"error": "invalid_client", "error_description": "client_id is invalid"}


def test_json_body_fills_empty_params_and_redirect_uri_is_ignored(dev):
    code = sign_in(dev)
    reply = api(dev, "POST", TOKEN_PATH + "?grant_type=authorization_code",
                json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code,
                      "redirect_uri": "https://evil.example.com/elsewhere"})
    assert reply.status_code == 200, reply.text


def test_pkce_s256_allows_an_empty_secret(dev):
    verifier, challenge = pkce_pair()
    code = sign_in(dev, code_challenge=challenge)
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "authorization_code", "client_id": CLIENT_ID,
                                               "code": code, "code_verifier": verifier})
    assert reply.status_code == 200, reply.text


def test_pkce_wrong_verifier_and_wrong_secret(dev):
    verifier, challenge = pkce_pair()
    code = sign_in(dev, code_challenge=challenge)
    bad = api(dev, "POST", TOKEN_PATH, data={"grant_type": "authorization_code", "client_id": CLIENT_ID,
                                             "code": code, "code_verifier": "wrong"})
    assert bad.status_code == 400
    assert bad.json()["error_description"].startswith("verifier is invalid, challengeAnswer: [")
    wrong_secret = api(dev, "POST", TOKEN_PATH, data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": "wrong",
        "code": code, "code_verifier": verifier})
    assert wrong_secret.status_code == 401
    # Without a challenge an empty secret is not enough.
    plain_code = sign_in(dev)
    no_secret = api(dev, "POST", TOKEN_PATH, data={"grant_type": "authorization_code",
                                                   "client_id": CLIENT_ID, "code": plain_code})
    assert no_secret.status_code == 401


def test_code_of_another_application_is_refused(dev):
    code = sign_in(dev, app="storehouse-standard")
    reply = exchange(dev, code, app="storehouse")
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(dev):
    with dev.state.lock:
        dev.state.applications["storehouse"]["grantTypes"] = ["authorization_code"]
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "password", "client_id": CLIENT_ID,
                                               "client_secret": CLIENT_SECRET, "username": "alice",
                                               "password": "storehouse-dev"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "unsupported_grant_type",
                            "error_description": "grant_type: password is not supported in this application"}


def test_client_credentials_subject_is_the_application(dev):
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "client_credentials",
                                               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    body = reply.json()
    assert body["refresh_token"] == ""
    _, claims = jwt_parts(body["access_token"])
    assert claims["sub"] == "admin/storehouse"
    assert claims["type"] == "application"


def test_password_grant(dev):
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "password", "client_id": CLIENT_ID,
                                               "client_secret": CLIENT_SECRET, "username": "bob",
                                               "password": "storehouse-dev", "scope": "openid"})
    assert reply.status_code == 200
    _, claims = jwt_parts(reply.json()["access_token"])
    assert claims["name"] == "bob"
    wrong = api(dev, "POST", TOKEN_PATH, data={"grant_type": "password", "client_id": CLIENT_ID,
                                               "client_secret": CLIENT_SECRET, "username": "bob",
                                               "password": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_refresh_rotates_without_a_secret_and_drops_the_nonce(dev):
    first = tokens_for(dev)
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                               "refresh_token": first["refresh_token"]})
    assert reply.status_code == 200, reply.text
    second = reply.json()
    assert second["id_token"] == second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "openid profile email"
    assert "nonce" not in jwt_parts(second["access_token"])[1]
    # The old row is gone: its refresh token and its access token are both dead.
    again = api(dev, "POST", TOKEN_PATH, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                               "refresh_token": first["refresh_token"]})
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "refresh token is invalid or revoked"}
    old = api(dev, "GET", "/api/get-account", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert old.json()["msg"] == "Access token doesn't exist in database"


def test_refresh_with_a_wrong_secret_is_refused(dev):
    first = tokens_for(dev)
    reply = api(dev, "POST", TOKEN_PATH, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                               "client_secret": "wrong", "refresh_token": first["refresh_token"]})
    assert reply.status_code == 401


def test_refresh_endpoint_skips_the_grant_types_check(dev):
    first = tokens_for(dev)
    with dev.state.lock:
        dev.state.applications["storehouse"]["grantTypes"] = ["authorization_code"]
    blocked = api(dev, "POST", TOKEN_PATH, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                                 "refresh_token": first["refresh_token"]})
    assert blocked.json()["error"] == "unsupported_grant_type"
    reply = api(dev, "POST", "/api/login/oauth/refresh_token",
                data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                      "refresh_token": first["refresh_token"]})
    assert reply.status_code == 200, reply.text
    wrong_grant = api(dev, "POST", "/api/login/oauth/refresh_token",
                      data={"grant_type": "password", "client_id": CLIENT_ID})
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"


def test_iss_is_fixed_when_the_code_is_issued(dev):
    """The browser's Host decides ``iss``, not the backend's token request."""
    with requests.Session() as browser:
        browser.headers["Host"] = "auth.storehouse.test"
        code = sign_in_with_session(dev, browser)
    reply = exchange(dev, code)
    _, claims = jwt_parts(reply.json()["access_token"])
    assert claims["iss"] == "https://auth.storehouse.test"


def sign_in_with_session(dev, session):
    return code_from(dev.get_code("storehouse", "alice", PASSWORD, CALLBACK, "s", "n", session=session))


def test_introspection(dev):
    body = tokens_for(dev)
    reply = api(dev, "POST", "/api/login/oauth/introspect",
                data={"token": body["access_token"], "token_type_hint": "access_token"},
                auth=(CLIENT_ID, CLIENT_SECRET))
    info = reply.json()
    assert info["active"] is True
    assert info["client_id"] == CLIENT_ID and info["username"] == "alice"
    assert info["aud"] == [CLIENT_ID] and info["token_type"] == "Bearer"
    unknown = api(dev, "POST", "/api/login/oauth/introspect", data={"token": "x"},
                  auth=(CLIENT_ID, CLIENT_SECRET))
    assert unknown.json() == {"active": False}
    no_client = api(dev, "POST", "/api/login/oauth/introspect", data={"token": body["access_token"]})
    assert no_client.status_code == 401
    assert APPS["storehouse"]["clientId"] == CLIENT_ID


def test_code_expires_after_five_minutes(dev):
    code = sign_in(dev)
    with dev.state.lock:
        row = dev.state.token_by("code", code)
        row["codeExpireIn"] -= 5 * 60 + 1
    reply = exchange(dev, code)
    assert reply.status_code == 400
    assert reply.json()["error_description"].startswith("authorization code has expired")
