"""Sessions: one owner for commits, no lost keys, no rows for strangers, lifetimes, caches, secrets."""
import multiprocessing
import os
import stat
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import abort

from tests.support.client import csrf_token, post_form, session_cookie
from tests.support.workers import redis_url
from webapp.core.clock import utcnow
from webapp.sessions.models import Session, hash_key
from webapp.stores.models import Store
from webapp.users.models import User


def _count_sessions(db):
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count()).select_from(Session)).scalar_one()


@pytest.fixture
def flush_then_fail(app):
    """Routes that change a store, flush, and then do not commit (the bug class the
    issue found: a session save used to commit such leftovers)."""

    @app.post("/_test/flush-then-403")
    def flush_then_403():
        store = Store.query.filter_by(name="general").one()
        store.description = "changed by a refused request"
        from webapp.extensions import db
        db.session.flush()
        abort(403)

    @app.get("/_test/flush-then-render")
    def flush_then_render():
        store = Store.query.filter_by(name="general").one()
        store.description = "changed by a page that never committed"
        from flask import session

        from webapp.extensions import db
        db.session.flush()
        session["touched"] = True  # a session write in the same request
        return "rendered"

    return app


def test_an_http_error_after_a_flush_saves_nothing(flush_then_fail, client, db, create_user, create_store, login):
    create_store("general", description="original")
    login(client, create_user())
    assert client.post("/_test/flush-then-403", headers={"X-CSRFToken": csrf_token(client)}).status_code == 403
    client.get("/_test/flush-then-render")  # the session is saved after this one
    db.session.rollback()
    assert db.session.execute(sa.select(Store.description).filter_by(name="general")).scalar_one() == "original"


def test_the_session_write_of_a_request_survives_without_the_views_commit(flush_then_fail, client, db,
                                                                          create_user, create_store, login):
    create_store("general", description="original")
    login(client, create_user())
    client.get("/_test/flush-then-render")
    db.session.rollback()
    rows = db.session.execute(sa.select(Session).where(Session.revoked_at.is_(None),
                                                       Session.user_id.is_not(None))).scalars().all()
    assert [row.data.get("touched") for row in rows] == [True]


def test_two_tabs_do_not_erase_each_others_session_keys(app, client, db, create_user, login):
    """Requests A and B of one browser overlap: each writes only what it changed."""
    login(client, create_user())
    cookie = session_cookie(client, app)
    interface = app.session_interface
    headers = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}
    with app.test_request_context("/", headers=headers):
        from flask import request
        tab_a = interface.open_session(app, request)
        tab_b = interface.open_session(app, request)
        tab_a["casdoor_flow"] = {"intent": "bind"}  # tab A starts linking Casdoor
        tab_b["store"] = "research"  # tab B opens a store page
        interface.save_session(app, tab_b, app.response_class())
        interface.save_session(app, tab_a, app.response_class())
        fresh = interface.open_session(app, request)
        assert fresh["casdoor_flow"] == {"intent": "bind"} and fresh["store"] == "research"


@pytest.mark.parametrize("path", ["/no-such-page", "/wp-login.php", "/s/general/", "/api/v1/me/", "/"])
def test_anonymous_requests_create_no_session_rows(client, db, path):
    client.get(path)
    assert _count_sessions(db) == 0


def test_the_sign_in_form_may_create_one_for_its_csrf_token(client, db):
    client.get("/auth/login")
    assert _count_sessions(db) == 1


def test_sessions_end_at_the_absolute_lifetime_however_active(app, client, db, create_user, login):
    login(client, create_user())
    assert client.get("/api/v1/me/").status_code == 200
    lifetime = app.config["SESSION_ABSOLUTE_LIFETIME_DAYS"]
    db.session.execute(sa.update(Session).values(created_at=utcnow() - timedelta(days=lifetime, seconds=-30),
                                                 last_seen_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    app.session_interface.store(app).cache.clear()
    assert client.get("/api/v1/me/").status_code == 200  # activity: the idle expiry moves, capped
    row = db.session.execute(sa.select(Session).where(Session.user_id.is_not(None))).scalar_one()
    assert row.expires_at <= row.created_at + timedelta(days=lifetime)
    db.session.execute(sa.update(Session).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    app.session_interface.store(app).cache.clear()
    assert client.get("/api/v1/me/").status_code == 401


def test_a_revoked_session_stops_at_once_in_this_process_despite_the_cache(app, client, db, create_user, login):
    user = create_user()
    login(client, user)
    api = app.test_client()
    token = api.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    headers = {"Authorization": f"Token {token}"}
    assert api.get("/api/v1/me/", headers=headers).status_code == 200  # now cached
    row = db.session.execute(sa.select(Session).filter_by(key_hash=hash_key(token))).scalar_one()
    response = post_form(client, f"/settings/sessions/{row.id}/revoke")
    assert response.status_code == 302
    assert api.get("/api/v1/me/", headers=headers).status_code == 401


def test_a_revocation_elsewhere_takes_effect_within_the_cache_window(app, make_app, db, create_user):
    """Another worker (another app, its own cache) revoked the session: this one
    refuses it once its cached entry lapses (AUTH_CACHE_SECONDS)."""
    user = create_user()
    api = app.test_client()
    token = api.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    headers = {"Authorization": f"Token {token}"}
    assert api.get("/api/v1/me/", headers=headers).status_code == 200
    other_worker = make_app()
    with other_worker.app_context():
        from webapp.extensions import db as other_db
        from webapp.sessions import service
        service.revoke(Session.key_hash == hash_key(token))
        other_db.session.commit()
    assert api.get("/api/v1/me/", headers=headers).status_code == 200, "still inside the cache window"
    app.session_interface.store(app).cache.clear()  # the window passes
    assert api.get("/api/v1/me/", headers=headers).status_code == 401


@pytest.mark.parametrize("app_config", [{"CACHE_URL": redis_url()}])
def test_with_redis_a_revocation_elsewhere_is_immediate(app, make_app, db, create_user, app_config):
    user = create_user()
    api = app.test_client()
    token = api.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    headers = {"Authorization": f"Token {token}"}
    assert api.get("/api/v1/me/", headers=headers).status_code == 200
    other_worker = make_app(**app_config)
    with other_worker.app_context():
        from webapp.extensions import db as other_db
        from webapp.sessions import service
        service.revoke(Session.key_hash == hash_key(token))
        other_db.session.commit()
    assert api.get("/api/v1/me/", headers=headers).status_code == 401


def test_a_disabled_user_is_refused_on_the_next_request(app, client, db, create_user, login):
    user = create_user()
    login(client, user)
    assert client.get("/api/v1/me/").status_code == 200
    db.session.get(User, user.id).is_active = False
    db.session.commit()  # committing a user change drops its cache entry
    assert client.get("/api/v1/me/").status_code == 401


def test_changing_the_password_needs_the_current_one_and_signs_out_other_sessions(app, client, db, create_user,
                                                                                  login):
    user = create_user()
    login(client, user)
    api = app.test_client()
    token = api.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    wrong = post_form(client, "/settings/password", {"current_password": "guess", "password": "new-password-1",
                                                     "confirm": "new-password-1"})
    assert wrong.status_code == 400 and "This is not your current password." in wrong.get_data(as_text=True)
    right = post_form(client, "/settings/password", {"current_password": user.plain_password,
                                                     "password": "new-password-1", "confirm": "new-password-1"})
    assert right.status_code == 302
    assert api.get("/api/v1/me/", headers={"Authorization": f"Token {token}"}).status_code == 401
    assert client.get("/api/v1/me/").status_code == 200, "the session that changed it stays"
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("new-password-1")


def test_an_sso_only_account_sets_a_first_password_only_from_a_casdoor_session(app, client, db, create_user, login):
    user = create_user()
    db.session.get(User, user.id).password_hash = None
    db.session.commit()
    with app.test_request_context():
        pass
    api = app.test_client()
    # A password session is impossible without a password; a Token from elsewhere is not proof either.
    from webapp.auth.current import sign_in
    with app.test_request_context("/"):
        from flask import session
        sign_in(db.session.get(User, user.id), "password", api=True)
        key = session.key
        app.session_interface.save_session(app, session, app.response_class())
    response = api.post("/settings/password", headers={"Authorization": f"Token {key}"},
                        data={"password": "first-password", "confirm": "first-password"})
    assert response.status_code == 400
    assert "Sign in through Casdoor to set a first password" in response.get_data(as_text=True)


def _generate_key(path, queue):
    import config
    queue.put(config._secret_key(path))


def test_the_generated_secret_key_is_the_same_for_racing_workers(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    path = tmp_path / "secret_key"
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_generate_key, args=(path, queue)) for _ in range(8)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=20) for _ in workers}
    for worker in workers:
        worker.join(10)
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "temporary files left behind"


@pytest.mark.parametrize("path", ["/s/general/", "/api/v1/me/"])
def test_the_500_page_renders_when_the_database_is_down(make_app, path):
    down = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False,
                    SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/none")
    client = down.test_client()
    signer = down.session_interface._signer(down)
    client.set_cookie(down.config["SESSION_COOKIE_NAME"], signer.sign(b"some-key").decode())
    response = client.get(path)
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "cannot reach its database" in body and "Traceback" not in body
    assert "psycopg" not in body and "127.0.0.1:1" not in body
