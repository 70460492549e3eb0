"""Storehouse: an AI knowledge workspace split into stores, with Casdoor SSO."""
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class=Config):
    """Build the app: bind extensions, then each feature's ``init_app`` (blueprints, commands, jobs).

    Features are initialised in the order of the layer table (``tests/app/test_layering.py``),
    lowest first: a feature may rely on those before it.
    """
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(config_class)
    init_proxy(app)

    from webapp import (
        accounts,
        audit,
        auth,
        billing,
        casdoor,
        chat,
        crypto,
        database,
        errors,
        identity,
        jobs,
        knowledge,
        main,
        metrics,
        models,
        ops,
        providers,
        routing,
        security,
        sessions,
        stores,
        templating,
        useradmin,
        users,
    )
    del models  # imported for its side effect: every model registered with SQLAlchemy
    from webapp.extensions import csrf, db, limiter, migrate
    from webapp.logs import init_logging

    init_logging(app)
    metrics.init_app(app)
    routing.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    crypto.init_app(app)

    for feature in (audit, users, sessions, casdoor, auth, identity, main, stores, accounts, useradmin, providers,
                    knowledge, chat, billing, ops):
        feature.init_app(app)

    errors.init_app(app)
    jobs.init_app(app)
    return app


def init_proxy(app):
    """Trust ``X-Forwarded-*`` from exactly TRUSTED_PROXY_COUNT proxies (none by default)."""
    hops = app.config["TRUSTED_PROXY_COUNT"]
    if hops:
        # Only as many hops as configured: a client cannot forge its way in.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
