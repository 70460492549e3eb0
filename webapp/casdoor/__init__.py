"""Casdoor integration: settings, HTTP client, token verifier, OAuth client.

``get_casdoor()`` returns the integration, or None in shadow mode (one of
CASDOOR_ENDPOINT, CASDOOR_CLIENT_ID, CASDOOR_ORG_NAME, CASDOOR_APP_NAME empty),
in which case every Casdoor surface answers "not configured" and the rest of
Storehouse works as usual.
"""
import logging

from flask import current_app

from webapp.casdoor.client import CasdoorClient
from webapp.casdoor.errors import CasdoorNotConfigured
from webapp.casdoor.settings import CasdoorSettings
from webapp.casdoor.tokens import TokenVerifier, VerifiedTokenCache

log = logging.getLogger("webapp.auth.casdoor")


class Casdoor:
    def __init__(self, settings):
        self.settings = settings
        #: REST calls with the application's credentials (``get_user``, ``set_homepage`` ...).
        self.api = CasdoorClient(settings)
        self.verifier = TokenVerifier(settings, self.api)
        self.token_cache = VerifiedTokenCache(settings.token_cache_ttl)
        self.oauth = None  # the Authlib client, set by init_app
        #: Casdoor ``sub`` -> user id (``webapp.auth.bearer``), made on first use.
        self.subject_cache = None


def get_casdoor():
    return current_app.extensions.get("casdoor")


def require_casdoor():
    """:raises CasdoorNotConfigured: shadow mode (answers 503 with what to set)."""
    casdoor = get_casdoor()
    if casdoor is None:
        raise CasdoorNotConfigured()
    return casdoor


def init_app(app):
    """Build the integration from config; ConfigurationError stops the app at start.

    The sign-in side (the Authlib client, the Bearer loader) is wired by
    ``webapp.auth.init_app``: auth depends on Casdoor, never the reverse.
    """
    app.context_processor(_template_context)
    settings = CasdoorSettings.from_config(app.config)
    if settings is None:
        app.extensions["casdoor"] = None
        app.logger.info("Casdoor is not configured: single sign-on is off (shadow mode).")
        return
    app.extensions["casdoor"] = Casdoor(settings)


def _template_context():
    """``casdoor_configured``: the sign-in page leads with single sign-on when it is on."""
    return {"casdoor_configured": get_casdoor() is not None}
