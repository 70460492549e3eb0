"""Discovery and JWKS (casdoor-api.md §1, §2)."""
import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devcasdoor import create_dev_casdoor
from tests.devcasdoor.helpers import api


def test_discovery_lists_the_endpoints_on_the_backend_origin(dev):
    doc = api(dev, "GET", "/.well-known/openid-configuration").json()
    assert doc["issuer"] == dev.url
    assert doc["authorization_endpoint"] == f"{dev.url}/login/oauth/authorize"
    assert doc["token_endpoint"] == f"{dev.url}/api/login/oauth/access_token"
    assert doc["userinfo_endpoint"] == f"{dev.url}/api/userinfo"
    assert doc["jwks_uri"] == f"{dev.url}/.well-known/jwks"
    assert doc["end_session_endpoint"] == f"{dev.url}/api/logout"
    assert doc["introspection_endpoint"] == f"{dev.url}/api/login/oauth/introspect"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "revocation_endpoint" not in doc
    assert "token_endpoint_auth_methods_supported" not in doc
    assert list(doc)[:3] == ["issuer", "authorization_endpoint", "token_endpoint"]


@pytest.mark.parametrize("host, issuer", [
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("casdoor:8000", "http://casdoor:8000"),          # no dot: http
    ("localhost", "http://localhost"),
    ("10.1.2.3", "http://10.1.2.3"),                   # IP: http
    ("auth.example.com", "https://auth.example.com"),  # any dotted name: https, even over plain HTTP
    ("auth.example.com:8000", "https://auth.example.com:8000"),
])
def test_issuer_scheme_is_guessed_from_host(dev, host, issuer):
    doc = api(dev, "GET", "/.well-known/openid-configuration", headers={"Host": host}).json()
    assert doc["issuer"] == issuer
    assert doc["token_endpoint"].startswith(issuer + "/")


def test_forwarded_headers_are_ignored(dev):
    doc = api(dev, "GET", "/.well-known/openid-configuration",
              headers={"Host": "auth.example.com", "X-Forwarded-Proto": "http",
                       "X-Forwarded-Host": "other.example.org"}).json()
    assert doc["issuer"] == "https://auth.example.com"


def test_configured_origins_win_over_host(tmp_path):
    app = create_dev_casdoor(None, str(tmp_path), origin="https://login.storehouse.test",
                             origin_frontend="https://front.storehouse.test")
    try:
        doc = app.test_client().get("/.well-known/openid-configuration",
                                    headers={"Host": "casdoor:8000"}).get_json()
    finally:
        app.extensions["devcasdoor"].stop()
    assert doc["issuer"] == "https://login.storehouse.test"
    assert doc["token_endpoint"] == "https://login.storehouse.test/api/login/oauth/access_token"
    assert doc["authorization_endpoint"] == "https://front.storehouse.test/login/oauth/authorize"


def test_jwks_lists_every_x509_cert_with_kid_equal_to_the_cert_name(dev):
    body = api(dev, "GET", "/.well-known/jwks").json()
    by_kid = {key["kid"]: key for key in body["keys"]}
    assert set(by_kid) == {"cert-storehouse", "cert-built-in"}
    key = by_kid["cert-storehouse"]
    assert key["use"] == "sig" and key["kty"] == "RSA" and key["alg"] == "RS256"
    assert key["e"] == "AQAB" and key["n"]
    der = base64.b64decode(key["x5c"][0])
    pem = dev.state.certs["cert-storehouse"]["certificate"].encode()
    assert der == x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_per_application_discovery_and_jwks(dev):
    doc = api(dev, "GET", "/.well-known/storehouse/openid-configuration").json()
    assert doc["issuer"] == dev.url  # plain origin since v3.94.0
    assert doc["jwks_uri"] == f"{dev.url}/.well-known/storehouse/jwks"
    keys = api(dev, "GET", "/.well-known/storehouse/jwks").json()["keys"]
    assert [k["kid"] for k in keys] == ["cert-storehouse"]
    fallback = api(dev, "GET", "/.well-known/no-such-app/jwks").json()["keys"]
    assert len(fallback) == 2


def test_a_restart_keeps_the_keys(tmp_path):
    first = create_dev_casdoor(None, str(tmp_path))
    second = create_dev_casdoor(None, str(tmp_path))
    try:
        pems = [app.extensions["devcasdoor"].state.certs["cert-storehouse"]["certificate"]
                for app in (first, second)]
    finally:
        first.extensions["devcasdoor"].stop()
        second.extensions["devcasdoor"].stop()
    assert pems[0] == pems[1]
    assert (tmp_path / "certs" / "cert-storehouse.key.pem").stat().st_mode & 0o077 == 0


def test_seed_pems_are_used_as_given(tmp_path, dev):
    seed_cert = dict(dev.state.certs["cert-storehouse"])
    seed = {"certs": [seed_cert], "organizations": [], "applications": [], "users": []}
    app = create_dev_casdoor(seed, str(tmp_path / "other"))
    try:
        keys = app.test_client().get("/.well-known/jwks").get_json()["keys"]
    finally:
        app.extensions["devcasdoor"].stop()
    assert keys[0]["n"] == api(dev, "GET", "/.well-known/storehouse/jwks").json()["keys"][0]["n"]
