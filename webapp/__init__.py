"""Storehouse: an AI knowledge workspace split into stores, with Casdoor SSO."""
from pathlib import Path

from flask import Flask

from config import Config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class=Config):
    """Build the app: bind extensions, register blueprints, errors and commands."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_class)
    if app.config["TRUSTED_PROXY_COUNT"]:
        # Only as many hops as configured: a client cannot forge its way in.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from webapp import casdoor, cli, database, errors, jobs, routing, security, templating
    from webapp.extensions import csrf, db, limiter, migrate
    from webapp.logging import init_logging
    from webapp.sessions.interface import DatabaseSessionInterface

    init_logging(app)
    routing.init_app(app)
    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    app.session_interface = DatabaseSessionInterface()
    security.init_app(app)
    templating.init_app(app)
    casdoor.init_app(app)

    from webapp import auth, models, stores  # noqa: F401  (models: every model registered with SQLAlchemy)
    from webapp.accounts import bp as accounts_bp
    from webapp.api import bp as api_bp
    from webapp.auth import bp as auth_bp
    from webapp.auth.casdoor_views import bp as casdoor_bp
    from webapp.auth.current import load_current_user
    from webapp.main import bp as main_bp

    auth.init_app(app)
    app.before_request(load_current_user)
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp)
    stores.init_app(app)
    from webapp import chat

    chat.init_app(app)
    from webapp import knowledge

    knowledge.init_app(app)
    app.register_blueprint(casdoor_bp)
    app.register_blueprint(accounts_bp)

    errors.init_app(app)
    cli.init_app(app)
    jobs.init_app(app)
    from webapp import billing

    billing.init_app(app)
    return app
