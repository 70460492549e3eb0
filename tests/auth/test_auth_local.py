"""Local email/password accounts: sign-up, sign-in, sign-out, rate limit, CSRF."""
import logging

import pytest

from tests.support.client import csrf_token, post_form, session_cookie
from tests.support.workers import redis_url
from webapp.sessions.models import Session


def test_signup_signs_in_and_redirects(client, db):
    response = post_form(client, "/auth/signup", {
        "username": "newbie", "email": "Newbie@Example.com", "display_name": "New Bie",
        "password": "s3cret-enough", "confirm": "s3cret-enough",
    })
    assert response.status_code == 302
    me = client.get("/api/v1/me/", headers={"Accept": "application/json"})
    # The cookie session works for the API too (same session row).
    assert me.status_code == 200
    assert me.json["user"]["username"] == "newbie"
    assert me.json["user"]["email"] == "newbie@example.com"


def test_signup_rejects_taken_email_with_a_clear_message(client, create_user):
    create_user("taken", email="taken@example.com")
    response = post_form(client, "/auth/signup", {
        "username": "other", "email": "TAKEN@example.com", "password": "s3cret-enough", "confirm": "s3cret-enough",
    })
    assert response.status_code == 200
    assert "An account with this email already exists" in response.get_data(as_text=True)


def test_signup_validation_errors_are_shown(client):
    response = post_form(client, "/auth/signup", {
        "username": "x", "email": "not-an-email", "password": "short", "confirm": "other",
    })
    text = response.get_data(as_text=True)
    assert "Enter an email address like name@example.com." in text
    assert "The passwords differ." in text


@pytest.mark.parametrize("app_config", [{"SIGNUP_ENABLED": False}])
def test_signup_can_be_switched_off(client):
    assert client.get("/auth/signup").status_code == 404
    assert "Create one" not in client.get("/auth/login").get_data(as_text=True)


def test_wrong_password_shows_a_clear_message(client, create_user):
    user = create_user()
    response = post_form(client, "/auth/login", {"email": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "Wrong email or password. Check both and try again." in response.get_data(as_text=True)
    assert client.get("/api/v1/me/").status_code == 401


def test_unknown_email_gets_the_same_message(client):
    response = post_form(client, "/auth/login", {"email": "nobody@example.com", "password": "x"})
    assert "Wrong email or password" in response.get_data(as_text=True)


def test_sign_in_rotates_the_session_key(client, app, create_user, login):
    user = create_user()
    csrf_token(client)  # an anonymous session exists before sign-in
    before = session_cookie(client, app)
    assert before
    login(client, user)
    after = session_cookie(client, app)
    assert after and after != before
    # The pre-sign-in key is dead: a client replaying it is anonymous.
    from werkzeug.test import Client
    replay = Client(app)
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert replay.get("/api/v1/me/").status_code == 401


def test_password_is_stored_as_scrypt(create_user):
    user = create_user(password="hunter2-hunter2")
    assert user.password_hash.startswith("scrypt:")
    assert "hunter2" not in user.password_hash


def test_sixth_fast_failure_is_rate_limited(client, create_user):
    user = create_user()
    token = csrf_token(client)
    for _ in range(5):
        response = client.post("/auth/login", data={"email": user.email, "password": "bad", "csrf_token": token})
        assert response.status_code == 200
    response = client.post("/auth/login", data={"email": user.email, "password": "bad", "csrf_token": token})
    assert response.status_code == 429
    assert "Too many attempts. Wait a minute, then try again." in response.get_data(as_text=True)
    assert "Retry-After" in response.headers


def _redis_url():
    import redis
    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({exc}); the limit's shared storage is not exercised")
    return redis_url()


@pytest.fixture
def redis_limits(make_app, migrated):
    url = _redis_url()
    import redis
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def test_failures_are_counted_in_redis_when_configured(redis_limits, make_app, create_user):
    """With RATELIMIT_STORAGE_URI=redis://..., the counts live in Redis, where every
    worker process sees them (memory:// would keep them per process)."""
    import redis
    user = create_user()
    app = make_app(RATELIMIT_STORAGE_URI=redis_limits)
    client = app.test_client()
    for _ in range(5):
        assert client.post("/api/v1/auth/login/", json={"email": user.email, "password": "bad"}).status_code == 401
    store = redis.Redis.from_url(redis_limits)
    counters = [store.get(key) for key in store.keys("*") if store.type(key) == b"string"]
    assert b"5" in counters, f"no counter of 5 failures in Redis: {store.keys('*')}"
    assert client.post("/api/v1/auth/login/", json={"email": user.email, "password": "bad"}).status_code == 429


def test_successes_do_not_count_towards_the_limit(client, create_user, login):
    user = create_user()
    for _ in range(7):
        login(client, user)


def test_form_without_csrf_token_is_refused(client, create_user):
    user = create_user()
    response = client.post("/auth/login", data={"email": user.email, "password": user.plain_password})
    assert response.status_code == 400
    assert "CSRF token" in response.get_data(as_text=True)


@pytest.mark.parametrize("target,expected", [
    ("/auth/signup", "/auth/signup"),
    ("/some/page?x=1", "/some/page?x=1"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
    ("evil.example", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
])
def test_next_is_validated_against_open_redirects(client, create_user, target, expected):
    user = create_user()
    response = post_form(client, "/auth/login",
                         {"email": user.email, "password": user.plain_password, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_logout_revokes_the_session(client, app, create_user, login, db):
    user = create_user()
    login(client, user)
    key_cookie = session_cookie(client, app)
    response = post_form(client, "/auth/logout")
    assert response.status_code == 302
    assert client.get("/api/v1/me/").status_code == 401
    rows = db.session.execute(db.select(Session).filter_by(user_id=user.id)).scalars().all()
    assert rows and all(row.revoked_at is not None for row in rows)
    from werkzeug.test import Client
    replay = Client(app)
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], key_cookie)
    assert replay.get("/api/v1/me/").status_code == 401


def test_logout_requires_post_with_csrf(client, create_user, login):
    login(client, create_user())
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/api/v1/me/").status_code == 200


def test_cookie_flags(client, app, create_user):
    user = create_user()
    response = post_form(client, "/auth/login", {"email": user.email, "password": user.plain_password})
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"])][-1]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here


def test_cookie_is_secure_over_https(app, create_user):
    user = create_user()
    client = app.test_client()
    token_page = client.get("/auth/login", base_url="https://storehouse.test")
    import re
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', token_page.get_data(as_text=True)).group(1)
    # Over HTTPS Flask-WTF also insists on a same-origin Referer.
    response = client.post("/auth/login", base_url="https://storehouse.test",
                           headers={"Referer": "https://storehouse.test/auth/login"},
                           data={"email": user.email, "password": user.plain_password, "csrf_token": token})
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"])][-1]
    assert "Secure" in cookie


def test_cookie_holds_only_a_signed_key(client, app, create_user, login):
    user = create_user()
    login(client, user)
    value = session_cookie(client, app)
    assert len(value) < 100
    assert user.email not in value and "csrf" not in value


def test_passwords_are_never_logged(client, create_user, caplog):
    user = create_user(password="very-secret-password-1")
    caplog.set_level(logging.DEBUG)
    post_form(client, "/auth/login", {"email": user.email, "password": "very-secret-password-2"})
    post_form(client, "/auth/login", {"email": user.email, "password": "very-secret-password-1"})
    assert "very-secret-password" not in caplog.text
    assert "Failed local sign-in" in caplog.text
