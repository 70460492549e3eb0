"""A Casdoor-compatible development server.

Casdoor (a Go OIDC identity server) does not run on every machine, so this
Flask app reproduces its wire behaviour, quirks included, for tests and local
development. See ``devcasdoor/README.md`` for what is and is not reproduced.
"""
import os

from flask import Flask, g, request

from . import callers, faults, records
from .origins import origins_for_host
from .state import State, load_seed
from .webhooks import WebhookWorker

DEMO_SEED = os.path.join(os.path.dirname(__file__), "seed", "demo.json")


class DevCasdoorServer:
    """What the Flask app keeps in ``app.extensions["devcasdoor"]``."""

    def __init__(self, state, worker, origin=None, origin_frontend=None):
        self.state = state
        self.worker = worker
        self.origin = origin
        self.origin_frontend = origin_frontend

    def origins(self, host):
        """``(frontend, backend)`` origins for a request ``Host``."""
        return origins_for_host(host, self.origin, self.origin_frontend)

    def stop(self):
        """Stop the webhook worker (the HTTP server is the caller's to stop)."""
        self.worker.stop()


def _is_oauth_endpoint(path):
    # Casdoor's AutoSigninFilter does not run for the OAuth endpoints.
    return path.startswith("/api/login/oauth/")


def create_dev_casdoor(seed=None, state_dir="instance/devcasdoor", *, origin=None,
                       origin_frontend=None, enable_dev_controls=False,
                       webhook_poll_seconds=30.0, transactions_mode="current"):
    """Build the development Casdoor app and start its webhook worker.

    :param seed: a seed dict or the path of a seed JSON file; None = the demo seed.
    :param state_dir: directory for generated keys (kept across restarts).
    :param origin: Casdoor's ``origin`` config: the issuer and every endpoint URL.
        Unset, origins are derived from the request ``Host`` as Casdoor does.
    :param origin_frontend: Casdoor's ``originFrontend``: the authorize page origin only.
    :param enable_dev_controls: register the ``/_dev/`` test controls.
    :param webhook_poll_seconds: how often queued webhook events are delivered.
    :param transactions_mode: ``"current"`` (Casdoor v2.162+, the default) or
        ``"legacy"`` (v2.117 - v2.144): which transaction API the server speaks.
    """
    state = State(load_seed(seed if seed is not None else DEMO_SEED), state_dir,
                  transactions_mode=transactions_mode)
    worker = WebhookWorker(state, webhook_poll_seconds)
    server = DevCasdoorServer(state, worker, origin, origin_frontend)

    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["devcasdoor"] = server

    @app.before_request
    def _before():
        if not request.path.startswith("/_dev/"):
            response = faults.apply_fault(state)
            if response is not None:
                return response
        if request.path.startswith("/api/"):
            if _is_oauth_endpoint(request.path):
                g.caller = callers.Caller()
                return None
            caller, refusal = callers.resolve_caller(state)
            if refusal is not None:
                return refusal
            g.caller = caller
        return None

    @app.after_request
    def _after(response):
        if request.path.startswith("/api/"):
            response = records.record_request(state, response)
        return faults.apply_fault_after(response)

    from . import (
        routes_login,
        routes_logout,
        routes_oauth,
        routes_transactions,
        routes_users,
        routes_webhooks,
        routes_wellknown,
    )
    for module in (routes_wellknown, routes_login, routes_oauth, routes_users,
                   routes_transactions, routes_logout, routes_webhooks):
        app.register_blueprint(module.bp)
    if enable_dev_controls:
        from . import routes_dev
        app.register_blueprint(routes_dev.bp)

    app.wsgi_app = faults.DropConnectionMiddleware(app.wsgi_app)
    worker.start()
    return app
