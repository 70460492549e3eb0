"""The only module that imports Authlib: the Casdoor OpenID Connect client.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``; Authlib keeps
their values in the server-side session. The id_token is validated by our
``TokenVerifier`` (certificate or JWKS, asymmetric only) instead of Authlib's
JWKS-only check, so the sign-in and the Bearer API share one set of rules.
"""
import re
from contextlib import contextmanager

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import request

from webapp.casdoor.client import unavailable
from webapp.casdoor.errors import CasdoorError, SignInError, TokenVerificationError

SCOPE = "openid profile email"


class StateExpired(SignInError):
    status_code = 400
    error = "casdoor_state_invalid"

    def __init__(self):
        super().__init__("This sign-in link has expired or was already used (the state did not match). "
                         "Start again from the sign-in page.")


def register_client(app, settings, verifier):
    """A per-app Authlib registry (Authlib keeps clients on the registry, and
    tests build many apps with different settings)."""

    class CasdoorOAuthApp(FlaskOAuth2App):
        casdoor_settings = settings

        def parse_id_token(self, token, nonce, claims_options=None, claims_cls=None, leeway=120):
            return verifier.verify(token["id_token"], nonce=nonce)

    oauth = OAuth(app)
    oauth.register(
        "casdoor",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.discovery_url,
        client_cls=CasdoorOAuthApp,
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            # Both credentials in the form: Casdoor ignores Basic as soon as
            # client_id is in the body, and must not be left to guess.
            "token_endpoint_auth_method": "client_secret_post",
            "default_timeout": settings.timeout,
        },
    )
    return oauth.casdoor


@contextmanager
def talking_to_casdoor(client):
    """Authlib reaches Casdoor through requests: a dead or slow Casdoor becomes
    ``CasdoorUnavailable`` naming the endpoint, as for every other Casdoor call."""
    try:
        yield
    except requests.RequestException as exc:
        raise unavailable(client.casdoor_settings, exc) from exc


def authorize_redirect(client, redirect_uri):
    """Redirect to Casdoor's sign-in page (state, nonce and PKCE verifier saved in the session)."""
    with talking_to_casdoor(client):
        return client.authorize_redirect(redirect_uri)


def complete_authorization(client):
    """Exchange the callback's code and return ``(claims, token)``.

    :raises SignInError: Casdoor sent ``?error=``, the state is unknown or
        replayed, the code was refused, or the id_token failed verification.
    """
    if request.args.get("error"):
        # error_description is whatever the link said: never show it as Casdoor's words.
        code = request.args["error"]
        if code == "access_denied":
            reason = "the sign-in was declined at Casdoor"
        else:
            shown = re.sub(r"[^a-z_]", "", code.lower())[:40] or "unknown"
            reason = f"Casdoor did not complete it (error code {shown})"
        raise SignInError(f"Cannot sign in: {reason}. Start again from the sign-in page.", error="casdoor_denied")
    try:
        with talking_to_casdoor(client):
            token = client.authorize_access_token()
    except MismatchingStateError:
        raise StateExpired() from None
    except OAuthError as exc:
        raise SignInError(f"Cannot sign in: Casdoor refused the sign-in code ({exc.description or exc.error}). "
                          "Start again from the sign-in page.", error="casdoor_code_refused") from exc
    except AuthlibBaseError as exc:
        raise SignInError(f"Cannot sign in: {exc.description or exc.error}.") from exc
    if "userinfo" not in token:
        raise TokenVerificationError("Casdoor sent no id_token")
    return dict(token["userinfo"]), token


def exchange_code(client, code, redirect_uri, code_verifier=None):
    """Exchange a code obtained by another front end (the JSON API). Returns the token dict."""
    params = {"code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        params["code_verifier"] = code_verifier
    try:
        with talking_to_casdoor(client):
            token = client.fetch_access_token(**params)
    except OAuthError as exc:
        raise SignInError(f"Cannot sign in: Casdoor refused the code ({exc.description or exc.error}).",
                          error="casdoor_code_refused") from exc
    if not token.get("id_token"):
        raise CasdoorError("Casdoor answered the code exchange without an id_token.")
    return token


def logout_url(client, id_token, post_logout_redirect_uri):
    """Casdoor's end-session URL (discovery's ``end_session_endpoint``)."""
    with talking_to_casdoor(client):
        result = client.create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri,
                                          id_token_hint=id_token)
    return result["url"]
