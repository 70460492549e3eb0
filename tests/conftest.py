"""Fixtures: a fresh app per test on one migrated database, factories, sign-in.

The schema is built once per run by the migrations (never ``create_all``), on
SQLite by default or on ``TEST_DATABASE_URL`` (PostgreSQL). Every test starts
from empty tables: rows are deleted after each test, so tests may commit and
do not depend on each other's order.
"""
import os

import flask_migrate
import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
import sqlalchemy as sa

from config import TestingConfig, database_url
from tests.helpers import post_form
from webapp import create_app
from webapp.extensions import db as _db


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    """SQLite in a temporary file, or a private schema of TEST_DATABASE_URL.

    Each PostgreSQL run works in a schema of its own (dropped at the end), so two
    runs against the same database, by two developers or by CI and a developer,
    cannot see each other's tables.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'storehouse-test.db'}"
        return
    url = database_url(url)
    schema = f"storehouse_test_{os.getpid()}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


_apps_made = []


@pytest.fixture(scope="session")
def make_app(database_uri, tmp_path_factory):
    """Build an app on the test database with config overrides."""
    files_dir = str(tmp_path_factory.mktemp("knowledge-files"))  # uploaded bytes, never in the checkout

    def make(**overrides):
        # NullPool: every app in the run gets its own engine, and pooled
        # connections would outlive the test that opened them.
        settings = {"SQLALCHEMY_DATABASE_URI": database_uri,
                    "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.NullPool},
                    "KNOWLEDGE_FILES_DIR": files_dir}
        config = type("Config", (TestingConfig,), {**settings, **overrides})
        app = create_app(config)
        _apps_made.append(app)
        return app

    return make


@pytest.fixture(autouse=True)
def _dispose_engines():
    """Close the connection pools of every app a test built (PostgreSQL would
    otherwise keep one idle connection per test)."""
    yield
    while _apps_made:
        app = _apps_made.pop()
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def drop_everything(engine):
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    meta.drop_all(bind=engine)


@pytest.fixture(scope="session")
def migrated(make_app):
    app = make_app()
    with app.app_context():
        drop_everything(_db.engine)
        flask_migrate.upgrade()
    yield
    with app.app_context():
        _db.engine.dispose()


def clear_tables():
    tables = [t for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        _db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            _db.session.execute(table.delete())
    _db.session.commit()


@pytest.fixture
def app_config():
    """Override in a module or test to change config: ``{"SIGNUP_ENABLED": False}``."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client that gives every request a clean ``g``.

    The ``app`` fixture keeps an app context pushed for the test body, and Flask
    reuses it for each request, ``g`` included (Flask-WTF caches the CSRF token
    there, the auth layer the user). Production never shares ``g`` between
    requests, so neither do the tests.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(make_app, migrated, app_config):
    app = make_app(**app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        _db.session.remove()
        clear_tables()


@pytest.fixture(autouse=True)
def _push_request_context():
    """pytest-flask would push a request context around every test, sharing
    ``g`` between requests; our tests make real requests instead."""
    yield


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def create_user(app):
    from webapp.users import service

    counter = iter(range(1, 10_000))

    def create(username=None, email=None, password="correct horse battery", **fields):
        n = next(counter)
        username = username or f"user{n}"
        user = service.create_local_user(username, email or f"{username}@example.com", password,
                                         fields.pop("display_name", ""))
        for name, value in fields.items():
            setattr(user, name, value)
        _db.session.commit()
        user.plain_password = password
        return user

    return create


@pytest.fixture
def create_store(app):
    """Create a store through the service (the first one becomes the default); ``fields``
    like ``is_active=False`` or ``is_default=True`` are set on it afterwards."""
    from webapp.stores import service

    def create(name, **fields):
        settings = {key: fields.pop(key) for key in list(fields) if key in service.SETTINGS}
        store = service.create_store(name, **settings)
        if fields.pop("is_default", False):
            service.make_default_store(store)
        for key, value in fields.items():
            setattr(store, key, value)
        _db.session.commit()
        return store

    return create


@pytest.fixture
def run_jobs(app):
    """Run the due background jobs now, as ``flask jobs worker --once`` would; returns how many ran."""
    from webapp.jobs.worker import Worker

    def run():
        count = Worker(app, poll_interval=0.01).run_until_idle()
        _db.session.expire_all()
        return count

    return run


@pytest.fixture
def grant(app):
    """Let a local account use stores: ``grant(user, store, ...)`` (see webapp.stores.access)."""
    from webapp.stores import service

    def do_grant(user, *stores):
        for store in stores:
            service.grant_store(user, store)
        _db.session.commit()
        return user

    return do_grant


@pytest.fixture
def create_document(app):
    """Create a document in a store: ``create_document(store, title=..., body=..., author=user)``."""
    from webapp.stores import service

    def create(store, title="A document", body="", author=None):
        document = service.create_document(store, author, title, body)
        _db.session.commit()
        return document

    return create


@pytest.fixture
def login():
    """Sign ``user`` in on ``client`` through the real local sign-in form."""

    def do_login(client, user, password=None):
        response = post_form(client, "/auth/login",
                             {"email": user.email, "password": password or user.plain_password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do_login


# -- Casdoor: the development server over loopback ------------------------


@pytest.fixture(scope="session")
def dev_casdoor_server(tmp_path_factory):
    from devcasdoor.testing import DevCasdoor

    with DevCasdoor(state_dir=tmp_path_factory.mktemp("devcasdoor"), webhook_poll_seconds=0.1) as server:
        yield server


@pytest.fixture
def casdoor(dev_casdoor_server):
    """The development Casdoor server, back at its demo seed for this test."""
    dev_casdoor_server.controls.reset()
    dev_casdoor_server.controls.clear_faults()
    yield dev_casdoor_server
    dev_casdoor_server.controls.clear_faults()


@pytest.fixture
def casdoor_overrides():
    """Parametrize to change the Casdoor config: ``{"application": "storehouse-standard"}``."""
    return {}


@pytest.fixture
def sso_app_config(casdoor, casdoor_overrides):
    from tests.casdoor_helpers import casdoor_config

    return casdoor_config(casdoor, **casdoor_overrides)


@pytest.fixture
def frozen_clock():
    """Hold the app's clock still for the test; ``frozen_clock.advance(seconds=6)`` moves it on.

    Put it first among a test's fixtures. A test that counts statements or waits for
    an expiry must not depend on how busy the machine is: with the clock held, no
    cache entry (``AUTH_CACHE_SECONDS``) lapses halfway through a measurement.
    """
    from webapp.core.clock import frozen

    with frozen() as clock:
        yield clock
