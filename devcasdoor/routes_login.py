"""Sign-in: the authorize page and the SPA's JSON APIs behind it.

Real Casdoor serves ``/login/oauth/authorize`` from its React app, which calls
``GET /api/get-app-login`` to validate the request and ``POST /api/login`` to
sign in and get a code. This module offers both: a small server-rendered page
(username, password, "Sign In") and the two JSON APIs.

Errors are shown on the page and never redirected back to the client, as in
Casdoor. On success the browser goes to ``redirect_uri?code=...&state=...`` with
``state`` inserted *without* URL-encoding, which is what Casdoor's SPA does.
"""
import json
import re
import time

from flask import Blueprint, Response, current_app, g, render_template, request

from . import envelope, records, tokens
from .redirects import is_redirect_uri_valid
from .routes_wellknown import current_origins

bp = Blueprint("login", __name__)

FORBIDDEN_MSG = "The user is forbidden to sign in, please contact the administrator"


def _state():
    return current_app.extensions["devcasdoor"].state


def check_oauth_login(state, client_id, response_type, redirect_uri, scope):
    """Casdoor's ``CheckOAuthLogin``: return ``(app, error message or "")``."""
    app = state.application_by_client_id(client_id)
    if app is None:
        return None, "Invalid client_id"
    if response_type not in ("code", "token", "id_token") or (
            response_type != "code" and response_type not in (app.get("grantTypes") or [])):
        return app, f"Grant_type: {response_type} is not supported in this application"
    if not is_redirect_uri_valid(app, redirect_uri):
        return app, f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list"
    custom_scopes = [s.get("name") for s in app.get("scopes") or []]
    if custom_scopes and scope:
        for item in scope.split(" "):
            if item and not any(_scope_matches(item, c) for c in custom_scopes if c):
                return app, "Invalid scope"
    return app, ""


def _scope_matches(scope, allowed):
    """An application scope matches literally or as an anchored regex."""
    if scope == allowed:
        return True
    try:
        return re.fullmatch(allowed, scope) is not None
    except re.error:
        return False


def check_challenge_method(method):
    if method not in ("", "S256", "null"):
        return "Challenge method should be S256"
    return ""


def masked_application(app):
    masked = {k: v for k, v in app.items() if not k.startswith("_")}
    masked["clientSecret"] = "***"
    return masked


def authenticate(state, app, username, password):
    """Check a local password in the application's organization.

    :return: ``(user, error message or "")``; the caller holds the lock.
    """
    owner = app["organization"]
    user = (state.user(owner, username) or state.user_by_field(owner, "email", username)
            or state.user_by_field(owner, "phone", username))
    if user is None:
        return None, f"The user: {owner}/{username} doesn't exist"
    if user.get("isForbidden") or user.get("isDeleted"):
        return None, FORBIDDEN_MSG
    if not user.get("password") or user["password"] != password:
        return None, "password or code is incorrect"
    return user, ""


def issue_code(state, app, user, *, scope, nonce, code_challenge):
    """``GetOAuthCode``: mint the tokens now and store them with a fresh 20-hex code."""
    _, backend = current_origins()
    row = tokens.mint_token_row(state, app, user, issuer=backend, scope=scope, nonce=nonce,
                                code=tokens.new_code(), code_challenge=code_challenge,
                                signin_method="Password")
    return row


def code_redirect_location(redirect_uri, code, state_value):
    """``redirect_uri`` plus ``code`` and the raw, unencoded ``state`` (the SPA's quirk)."""
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}code={code}&state={state_value}"


def raw_redirect(location):
    """A 302 whose Location is not re-quoted by Flask's ``redirect`` helper."""
    response = Response(status=302)
    response.headers["Location"] = location
    return response


def _authorize_params():
    args = request.args
    return {
        "client_id": args.get("client_id", ""),
        "response_type": args.get("response_type", ""),
        "redirect_uri": args.get("redirect_uri", ""),
        "scope": args.get("scope", ""),
        "state": args.get("state", ""),
        "nonce": args.get("nonce", ""),
        "code_challenge_method": args.get("code_challenge_method", ""),
        "code_challenge": args.get("code_challenge", ""),
    }


def _render(app, error, show_form, username="", status=200):
    title = (app or {}).get("displayName") or (app or {}).get("name") or "Casdoor"
    return render_template("authorize.html", title=title, error=error, show_form=show_form,
                           username=username), status


@bp.route("/login/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """The sign-in page; POST is the form submission (the SPA's ``POST /api/login``)."""
    state = _state()
    params = _authorize_params()
    with state.lock:
        app, error = check_oauth_login(state, params["client_id"], params["response_type"],
                                       params["redirect_uri"], params["scope"])
    error = error or check_challenge_method(params["code_challenge_method"])
    if error:
        return _render(app, error, show_form=False)
    if request.method == "GET":
        return _render(app, "", show_form=True)

    username = request.form.get("username", "")
    password = request.form.get("password", "")
    with state.lock:
        user, error = authenticate(state, app, username, password)
        row = None
        if not error:
            row = _issue_for_response_type(state, app, user, params)
    body = json.dumps({"application": app["name"], "organization": app["organization"],
                       "username": username, "password": password, "type": params["response_type"]})
    org, name = (user["owner"], user["name"]) if user else ("", "")
    record = records.build_record("login", org, name, "error" if error else "ok", 200, body_text=body)
    records.enqueue_webhooks(state, record)
    if error:
        return _render(app, error, show_form=True, username=username)
    if params["response_type"] == "code":
        return raw_redirect(code_redirect_location(params["redirect_uri"], row["code"], params["state"]))
    key = "access_token" if params["response_type"] == "token" else "id_token"
    return raw_redirect(f"{params['redirect_uri']}#{key}={row['accessToken']}"
                        f"&state={params['state']}&token_type=bearer")


def _issue_for_response_type(state, app, user, params):
    return issue_code(state, app, user, scope=params["scope"], nonce=params["nonce"],
                      code_challenge=params["code_challenge"])


def _spa_params():
    args = request.args
    return {
        "client_id": args.get("clientId", ""),
        "response_type": args.get("responseType", ""),
        "redirect_uri": args.get("redirectUri", ""),
        "scope": args.get("scope", ""),
        "state": args.get("state", ""),
        "nonce": args.get("nonce", ""),
        "code_challenge_method": args.get("code_challenge_method", ""),
        "code_challenge": args.get("code_challenge", ""),
    }


@bp.get("/api/get-app-login")
def get_app_login():
    """Validate an authorize request; data = the masked application."""
    state = _state()
    params = _spa_params()
    with state.lock:
        app, error = check_oauth_login(state, params["client_id"], params["response_type"],
                                       params["redirect_uri"], params["scope"])
        masked = masked_application(app) if app else None
    if error:
        return envelope.error(error, masked)
    return envelope.ok(masked)


@bp.post("/api/login")
def api_login():
    """Sign in with a password for an OAuth client: ``data`` is the authorization code
    (``type: "code"``) or the access token (``"token"``, ``"id_token"``)."""
    state = _state()
    params = _spa_params()
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        return envelope.error("invalid JSON body")
    login_type = body.get("type", "")
    if login_type not in ("code", "token", "id_token"):
        # Casdoor's other types sign in to its own session, which this server does not keep.
        return envelope.error(f"devcasdoor: /api/login supports type code, token or id_token, "
                              f"not {login_type!r}")
    with state.lock:
        app, error = check_oauth_login(state, params["client_id"], params["response_type"] or login_type,
                                       params["redirect_uri"], params["scope"])
        if error:
            return envelope.error(error)
        error = check_challenge_method(params["code_challenge_method"])
        if error:
            return envelope.error(error)
        user, error = authenticate(state, app, body.get("username", ""), body.get("password", ""))
        if error:
            return envelope.error(error)
        g.record_user = (user["owner"], user["name"])
        row = _issue_for_response_type(state, app, user, params)
    return envelope.ok(row["code"] if login_type == "code" else row["accessToken"])


def is_code_expired(row):
    return time.time() > row["codeExpireIn"]
