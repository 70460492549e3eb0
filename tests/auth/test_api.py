"""The JSON API: handshake, token sign-in, JSON errors."""
import pytest

from webapp.sessions.models import Session


def test_handshake_reports_the_shipped_version(client):
    from pathlib import Path
    shipped = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()
    response = client.get("/api/v1/handshake/")
    assert response.status_code == 200
    assert response.json["version"] == shipped
    assert response.json["version"] != "0.0.0"


@pytest.mark.parametrize("app_config", [{"VERSION": "9.9.9-override"}])
def test_handshake_version_can_be_overridden(client):
    assert client.get("/api/v1/handshake/").json["version"] == "9.9.9-override"


def test_backend_version_env_overrides_the_file(monkeypatch):
    import importlib

    import config
    monkeypatch.setenv("BACKEND_VERSION", "1.2.3-env")
    try:
        assert importlib.reload(config).Config.VERSION == "1.2.3-env"
    finally:
        monkeypatch.delenv("BACKEND_VERSION")
        importlib.reload(config)


def test_token_sign_in_and_use(client, create_user, app):
    user = create_user()
    response = client.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password})
    assert response.status_code == 200
    token = response.json["token"]
    assert response.json["token_type"] == "Token"
    assert response.json["user"]["username"] == user.username
    # API clients get no cookie; the token is the credential.
    assert not any(h.startswith(app.config["SESSION_COOKIE_NAME"])
                   for h in response.headers.getlist("Set-Cookie"))

    other = app.test_client()
    me = other.get("/api/v1/me/", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200 and me.json["user"]["id"] == user.id
    # Token callers are exempt from CSRF (no ambient credential) ...
    out = other.post("/api/v1/auth/logout/", headers={"Authorization": f"Token {token}"})
    assert out.status_code == 200
    # ... and sign-out revokes the token.
    assert other.get("/api/v1/me/", headers={"Authorization": f"Token {token}"}).status_code == 401


def test_token_sign_in_failure_is_json(client, create_user):
    user = create_user()
    response = client.post("/api/v1/auth/login/", json={"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_credentials"
    assert "Wrong email or password" in response.json["message"]


def test_token_sign_in_needs_a_json_object(client):
    response = client.post("/api/v1/auth/login/", json=["not", "an", "object"])
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"
    assert "JSON object" in response.json["message"]


@pytest.mark.parametrize("kwargs", [
    {"data": "{}", "content_type": "text/plain"},
    {"data": {"email": "a@example.com", "password": "x"}},
])
def test_non_json_api_posts_need_csrf_and_are_told_so_in_api_words(client, kwargs):
    # A text/plain body or a form is what a cross-site page can send; it gets no exemption.
    response = client.post("/api/v1/auth/login/", **kwargs)
    assert response.status_code == 400
    assert response.json["error"] == "csrf_failed"
    message = response.json["message"]
    assert "Content-Type: application/json" in message and "Authorization" in message
    assert "reload the page" not in message.lower() and "form expired" not in message


def test_pages_keep_the_browser_words_for_a_missing_csrf_token(client):
    response = client.post("/auth/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)


def test_a_header_authenticated_non_json_body_is_told_to_send_json(client):
    response = client.post("/api/v1/auth/login/", data="{}", content_type="text/plain",
                           headers={"Authorization": "Token x"})
    assert response.status_code == 400 and response.json["error"] == "invalid_json"
    assert "Content-Type: application/json" in response.json["message"]


@pytest.mark.parametrize("method,path,code", [
    ("post", "/no/such/page", 404),
    ("post", "/api/v1/no/such/endpoint/", 404),
    ("delete", "/s/general/documents/1/edit", 405),
    ("post", "/api/v1/handshake/", 405),
    ("patch", "/auth/login", 405),
])
def test_unknown_paths_and_methods_answer_404_and_405_before_any_csrf_check(client, method, path, code):
    """Routing failed, so no view runs: the honest answer is 404/405, not "the form expired"."""
    response = getattr(client, method)(path, data={"x": "y"})
    assert response.status_code == code
    assert "csrf_failed" not in response.get_data(as_text=True)


def test_api_sign_in_is_rate_limited(client, create_user):
    user = create_user()
    for _ in range(5):
        assert client.post("/api/v1/auth/login/", json={"email": user.email, "password": "x"}).status_code == 401
    response = client.post("/api/v1/auth/login/", json={"email": user.email, "password": "x"})
    assert response.status_code == 429
    assert response.json["error"] == "too_many_requests"


def test_unknown_token_is_401_json(client):
    response = client.get("/api/v1/me/", headers={"Authorization": "Token not-a-real-key"})
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert "Authorization: Token" in response.json["message"]


def test_revoked_session_token_stops_working(client, create_user, db):
    user = create_user()
    token = client.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    row = db.session.execute(db.select(Session).filter_by(user_id=user.id)).scalar_one()
    from webapp.core.clock import utcnow
    row.revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/me/", headers={"Authorization": f"Token {token}"}).status_code == 401


@pytest.mark.parametrize("method,path,code", [
    ("get", "/api/v1/nope/", 404),
    ("delete", "/api/v1/handshake/", 405),
])
def test_api_errors_are_json(client, method, path, code):
    response = getattr(client, method)(path, headers={"Authorization": "Token x"})
    assert response.status_code == code
    assert set(response.json) >= {"error", "message", "request_id"}
    assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_page_errors_are_html_with_request_id(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "There is nothing here" in text
    assert response.headers["X-Request-ID"] in text
    assert "Traceback" not in text


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 429, 500, 503])
def test_every_error_page_renders(app, code):
    from webapp.errors import error_response
    with app.test_request_context("/x"):
        from flask import g
        g.request_id = "req-123"
        g.user = None
        response = error_response(code)
        assert response.status_code == code
        assert "req-123" in response.get_data(as_text=True)
    with app.test_request_context("/api/v1/x"):
        g.request_id = "req-456"
        response = error_response(code)
        assert response.status_code == code and response.json["request_id"] == "req-456"


def test_unexpected_errors_become_a_500_page_outside_tests(make_app, migrated):
    from config import TestingConfig  # noqa: F401
    app = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong on our side" in text
    assert "secret internals" not in text and "Traceback" not in text
