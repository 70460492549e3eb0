"""Security headers on every answer: no sniffing, no framing, a strict CSP, no caching of private pages."""
import pytest

from tests.support.client import post_form

STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
              "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def directives(policy):
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def admin(client, create_user, create_store, login):
    create_store("general")
    create_store("research")
    login(client, create_user(is_admin=True))


@pytest.mark.parametrize("path", ["/auth/login", "/no/such/page", "/api/v1/handshake/", "/api/v1/nope/",
                                  "/static/css/app.css"])
def test_every_answer_carries_the_headers(client, path):
    response = client.get(path)
    response.close()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == STRICT_CSP


def test_the_admin_delete_confirmation_cannot_be_framed(client, admin):
    response = client.get("/admin/stores/research/delete")
    assert response.status_code == 200 and "Delete" in response.get_data(as_text=True)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


def test_error_answers_carry_them_too(client, admin):
    for response in (client.get("/s/nope/"), post_form(client, "/admin/stores/general/delete"),
                     client.post("/api/v1/stores/", json={"name": 5})):
        assert response.status_code >= 400
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_signed_in_pages_and_the_api_are_not_cached(client, admin):
    for path in ("/s/general/", "/admin/stores/research/delete", "/api/v1/me/", "/api/v1/stores/"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_anonymous_pages_and_static_files_may_be_cached(client, admin):
    with client.get("/static/css/app.css") as static:
        assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    anonymous = client.application.test_client()
    assert "no-store" not in anonymous.get("/auth/login").headers.get("Cache-Control", "")
    # The API never is, signed in or not.
    assert anonymous.get("/api/v1/handshake/").headers["Cache-Control"] == "no-store"


def test_no_inline_script_or_style_for_the_csp_to_block(client, admin):
    """The strict CSP allows no inline <script>, style="" or on*= handlers: pages must not use them."""
    import re

    for path in ("/auth/login", "/stores/", "/s/general/", "/s/general/documents/", "/s/general/documents/new",
                 "/admin/stores/", "/admin/stores/new", "/admin/stores/research/delete",
                 "/admin/stores/research/rename", "/admin/users/", "/settings/accounts/", "/settings/sessions/"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page), path


@pytest.mark.parametrize("app_config", [{"CONTENT_SECURITY_POLICY": ""}])
def test_the_policy_can_be_switched_off(client):
    response = client.get("/auth/login")
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("app_config", [{"CONTENT_SECURITY_POLICY": "default-src 'none'; img-src 'self'"}])
def test_the_policy_comes_from_config(client):
    assert client.get("/auth/login").headers["Content-Security-Policy"] == "default-src 'none'; img-src 'self'"


def test_form_action_allows_casdoor_when_configured(make_app, migrated, sso_app_config, casdoor):
    """"Link Casdoor" and "Sign out" POST here and are redirected to Casdoor: form-action must allow it."""
    client = make_app(**sso_app_config).test_client()
    policy = directives(client.get("/auth/login").headers["Content-Security-Policy"])
    assert policy["form-action"] == ["'self'", casdoor.url]
    assert policy["frame-ancestors"] == ["'none'"] and policy["script-src"] == ["'self'"]


def test_shadow_mode_form_action_is_self_only(client):
    assert directives(client.get("/auth/login").headers["Content-Security-Policy"])["form-action"] == ["'self'"]
