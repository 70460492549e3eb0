"""Behind a TLS-terminating reverse proxy (TRUSTED_PROXY_COUNT)."""
from urllib.parse import parse_qs, urlsplit

import pytest

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "storehouse.example.com",
             "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture
def app_config(sso_app_config):
    # TRUSTED_HOSTS: without PUBLIC_URL, a forwarded host is only used once it is one of them
    # (a proxy commonly forwards whatever Host the client sent).
    return {**sso_app_config, "TRUSTED_PROXY_COUNT": 1, "TRUSTED_HOSTS": ["storehouse.example.com"]}


def test_callback_url_and_cookie_follow_the_proxy(client, app):
    response = client.get("/auth/casdoor/login", headers=FORWARDED)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://storehouse.example.com/auth/casdoor/callback"]
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"])][-1]
    assert "Secure" in cookie


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXY_COUNT": 0}])
def test_forwarded_headers_are_ignored_without_a_trusted_proxy(client, app):
    response = client.get("/auth/login", headers=FORWARDED)
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"])][-1]
    assert "Secure" not in cookie
