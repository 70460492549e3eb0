"""``/healthz`` and ``/readyz``: no sign-in, no session row, no rate limit; readiness names what failed.

Each dependency fails for real: a database nobody listens on, a schema left at an
older migration, a Redis port nobody listens on (Redis itself runs on 6379, in this worker's database).
"""
import pytest
import sqlalchemy as sa

from tests.support.workers import redis_url
from webapp.sessions.models import Session

REDIS = redis_url()
NOBODY = "127.0.0.1:1"  # a port nothing listens on: connections are refused at once


def _session_rows(db):
    return db.session.execute(sa.select(sa.func.count()).select_from(Session)).scalar()


def test_healthz_answers_without_sign_in_session_or_dependencies(app, db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert _session_rows(db) == 0


def test_healthz_answers_with_the_database_down(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@{NOBODY}/storehouse")
    assert app.test_client().get("/healthz").status_code == 200
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["failed"] == ["database"]


@pytest.mark.parametrize("app_config", [{"CACHE_URL": REDIS}])
def test_readyz_is_ready_when_every_configured_dependency_answers(app, db, client, app_config):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"] == {"database": {"ok": True}, "redis": {"ok": True}}
    assert "Set-Cookie" not in response.headers
    assert _session_rows(db) == 0


def test_readyz_without_redis_configured_asks_only_the_database(app, client):
    assert client.get("/readyz").get_json()["checks"] == {"database": {"ok": True}}


def test_readyz_fails_on_a_schema_behind_the_code(make_app, tmp_path):
    """Code newer than its schema must not take traffic: 503 until ``flask db upgrade``."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    engine.dispose()
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["database"]
    assert "schema is at 0001" in body["checks"]["database"]["error"]
    assert "flask db upgrade" in body["checks"]["database"]["error"]


@pytest.mark.parametrize("app_config", [{"CACHE_URL": f"redis://:cache-s3cret@{NOBODY}/4"}])
def test_readyz_fails_when_redis_does_not_answer_and_names_no_password(app, client, app_config):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["failed"] == ["redis"]
    assert body["checks"]["database"] == {"ok": True}
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert "cache-s3cret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"CACHE_URL": REDIS, "RATELIMIT_STORAGE_URI": f"redis://{NOBODY}/4"}])
def test_readyz_checks_a_separate_rate_limit_redis(app, client, app_config):
    body = client.get("/readyz").get_json()
    assert body["failed"] == ["rate_limit_storage"]
    assert body["checks"]["redis"] == {"ok": True}


@pytest.fixture
def default_limit_reset():
    """Flask-Limiter keeps a default limit on its (process-wide) instance once set: drop it after."""
    yield
    from webapp.extensions import limiter

    limiter.limit_manager.set_default_limits([])


@pytest.mark.parametrize("app_config", [{"RATELIMIT_DEFAULT": "2 per minute"}])
def test_health_endpoints_are_not_rate_limited(default_limit_reset, app, client, app_config):
    # The default limit applies elsewhere...
    statuses = [client.get("/api/v1/handshake/").status_code for _ in range(3)]
    assert statuses[-1] == 429, statuses
    # ...but never to the load balancer's checks.
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}
    assert {client.get("/readyz").status_code for _ in range(5)} == {200}
