"""Logout: ``/api/logout`` (the OIDC end_session_endpoint) and ``/api/sso-logout``.

``id_token_hint`` is looked up as an *access token*, which works only because
Casdoor's id_token is the access token. Logging out expires that token row,
which also kills its refresh token; the JWT itself stays valid until ``exp``.
"""
from flask import Blueprint, current_app, g, request

from . import envelope
from .redirects import is_redirect_uri_valid
from .routes_login import raw_redirect

bp = Blueprint("logout", __name__)


def _state():
    return current_app.extensions["devcasdoor"].state


def _redirect_after_logout(app, uri, state_value):
    if not is_redirect_uri_valid(app, uri):
        return envelope.error(f"Redirect URI: {uri} doesn't exist in the allowed Redirect URI list")
    if state_value:
        # Casdoor trims one trailing slash and appends state without encoding it.
        uri = uri.rstrip("/") if uri.endswith("/") else uri
        uri += ("&" if "?" in uri else "?") + f"state={state_value}"
    return raw_redirect(uri)


@bp.route("/api/logout", methods=["GET", "POST"])
def logout():
    state = _state()
    hint = request.values.get("id_token_hint", "")
    redirect_uri = request.values.get("post_logout_redirect_uri", "")
    state_value = request.values.get("state", "")
    if hint:
        with state.lock:
            row = state.token_by("accessToken", hint)
            if row is None:
                return envelope.error("Token not found, invalid accessToken")
            row["expiresIn"] = 0
            app = state.applications.get(row["application"])
            g.record_user = (row["organization"], row["user"])
        if not redirect_uri:
            return envelope.ok()
        return _redirect_after_logout(app, redirect_uri, state_value)

    caller = g.caller
    if caller.is_anonymous:
        # No Casdoor session: nothing to do and, notably, no redirect.
        return envelope.ok()
    with state.lock:
        app = caller.app
        if app is None and request.values.get("client_id"):
            app = state.application_by_client_id(request.values["client_id"])
        if caller.token is not None:
            caller.token["expiresIn"] = 0
    if redirect_uri:
        if app is None:
            return envelope.error(f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list")
        return _redirect_after_logout(app, redirect_uri, state_value)
    homepage = (app or {}).get("homepageUrl") or None
    return envelope.ok(caller.subject, homepage)


@bp.route("/api/sso-logout", methods=["GET", "POST"])
def sso_logout():
    """Expire all the caller's tokens (``logoutAll`` true/1/empty) or only the current one."""
    caller = g.caller
    state = _state()
    if caller.user is None:
        return envelope.error("Please login first")
    logout_all = request.values.get("logoutAll", "") in ("", "true", "1")
    with state.lock:
        if logout_all:
            for row in state.tokens.values():
                if row["organization"] == caller.user["owner"] and row["user"] == caller.user["name"]:
                    row["expiresIn"] = 0
        elif caller.token is not None:
            caller.token["expiresIn"] = 0
    return envelope.ok()
