"""The README's server settings under load: gunicorn gthread with 16 threads, 32 clients at once.

Every page a signed-in person opens reads the session's data (its CSRF token)
while the view holds its database connection. When that read took a second
pooled connection, 16 threads exhausted the default pool (5 + 10) and waited on
each other until the pool timeout: HTTP 500. The pool is now sized from the
threads and a request needs one connection; a saturated pool answers 503.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from tests.support.web_server import GunicornApp
from webapp.database import pool_options

CLIENTS = 32
REQUESTS_EACH = 12


def _sign_in(base_url, user):
    browser = requests.Session()
    page = browser.get(f"{base_url}/auth/login", timeout=30)
    token = page.text.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    answer = browser.post(f"{base_url}/auth/login", data={"csrf_token": token, "email": user.email,
                                                         "password": user.plain_password},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:300]
    return browser.cookies


@pytest.mark.serial
def test_32_clients_against_16_threads_get_no_500(app, database_uri, create_user, create_store, grant,
                                                 tmp_path):
    store = create_store("load")
    user = grant(create_user(), store)
    environment = {"DATABASE_URL": database_uri, "SECRET_KEY": "load-test-secret",
                   "KNOWLEDGE_FILES_DIR": str(tmp_path / "files")}
    page = f"/s/{store.name}/"
    statuses, lock = [], threading.Lock()
    with GunicornApp(environment, tmp_path / "gunicorn.log", workers=1, threads=16) as server:
        cookies = _sign_in(server.url, user)
        start = threading.Barrier(CLIENTS)

        def client(number):
            browser = requests.Session()
            browser.cookies.update(cookies)
            start.wait()
            for _ in range(REQUESTS_EACH):
                # The store's home page: the user, the store, the shell's sign-out form (CSRF).
                answer = browser.get(server.url + page, timeout=120)
                with lock:
                    statuses.append(answer.status_code)

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
        log = server.log_tail()

    assert len(statuses) == CLIENTS * REQUESTS_EACH
    assert 500 not in statuses, log
    assert set(statuses) == {200}, (sorted(set(statuses)), log)


def test_the_pool_is_sized_from_the_threads():
    base = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/storehouse", "WEB_THREADS": 16,
            "JOBS_IN_PROCESS": False, "JOBS_WORKER_THREADS": 2, "DATABASE_POOL_SIZE": 0,
            "DATABASE_MAX_OVERFLOW": -1, "DATABASE_POOL_TIMEOUT": 10.0,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800}}
    options = pool_options(base)
    assert options == {"pool_recycle": 1800, "pool_size": 18, "max_overflow": 16, "pool_timeout": 10.0}
    # In-process job threads take connections of their own.
    assert pool_options({**base, "JOBS_IN_PROCESS": True})["pool_size"] == 20
    # Explicit settings win.
    assert pool_options({**base, "DATABASE_POOL_SIZE": 7, "DATABASE_MAX_OVERFLOW": 0})["pool_size"] == 7
    # The tests' NullPool and in-memory SQLite keep what they asked for.
    null = {**base, "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.NullPool}}
    assert pool_options(null) == {"poolclass": sa.pool.NullPool}
    assert "pool_size" not in pool_options({**base, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_an_exhausted_pool_answers_503_with_retry_after(make_app, migrated, tmp_path):
    """One connection, held elsewhere: the request waits the pool timeout, then 503 "busy"."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.5})
    from webapp.extensions import db

    with app.app_context():
        held = db.engine.connect()
        try:
            api = app.test_client().get("/api/v1/me/", headers={"Authorization": "Token nobody"})
        finally:
            held.close()
            db.engine.dispose()
    assert api.status_code == 503
    assert api.headers["Retry-After"] == "5"
    assert api.get_json()["error"] == "busy"
    assert "busy" in api.get_json()["message"]


def test_a_page_request_holds_one_pooled_connection_at_a_time(app, db, client, create_user, create_store, grant,
                                                               login):
    """The session's data is read on the view's connection: never a second one while the first is held
    (two per request made a pool sized one per thread run dry under load)."""
    store = create_store("load")
    user = grant(create_user(), store)
    login(client, user)
    home = f"/s/{store.name}/"
    # The test body shares the requests' app context: its own session must hold nothing.
    db.session.close()
    held, most = {}, {}

    def checkout(dbapi_connection, record, proxy):
        me = threading.get_ident()
        held[me] = held.get(me, 0) + 1
        most[me] = max(most.get(me, 0), held[me])

    def checkin(dbapi_connection, record):
        me = threading.get_ident()
        held[me] = held.get(me, 0) - 1

    sa.event.listen(db.engine, "checkout", checkout)
    sa.event.listen(db.engine, "checkin", checkin)
    try:
        for path in (home, "/settings/sessions/", f"{home}knowledge/"):
            most.clear()
            response = client.get(path)
            assert response.status_code == 200, path
            assert 'name="csrf_token"' in response.get_data(as_text=True)  # the data was read
            assert most and max(most.values()) == 1, (path, most)
    finally:
        sa.event.remove(db.engine, "checkout", checkout)
        sa.event.remove(db.engine, "checkin", checkin)
