"""The OAuth endpoints: token, refresh and introspection (``/api/login/oauth/*``).

Parameters come from the query or a form body; a JSON body then fills the
values still empty. HTTP Basic client credentials are read only when *both*
``client_id`` and ``client_secret`` are absent from those parameters. The
``redirect_uri`` is never read here. Errors are RFC 6749 JSON: 400, or 401 with
``WWW-Authenticate`` for ``invalid_client``.
"""
import base64
import hashlib
import json
import time

from flask import Blueprint, current_app, request
from joserfc import jwt
from joserfc.errors import JoseError

from . import envelope, keys, tokens
from .routes_login import FORBIDDEN_MSG, authenticate, is_code_expired
from .routes_wellknown import current_origins

bp = Blueprint("oauth", __name__)

TOKEN_PARAMS = ("client_id", "client_secret", "grant_type", "code", "code_verifier", "scope",
                "nonce", "username", "password", "refresh_token")


def _state():
    return current_app.extensions["devcasdoor"].state


def _json_body():
    raw = request.get_data(as_text=True)
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def read_token_params(use_json=True):
    """Query/form values, then a JSON body fills the empty ones, then HTTP Basic."""
    params = {name: request.values.get(name, "") for name in TOKEN_PARAMS}
    if use_json:
        body = _json_body()
        for name in TOKEN_PARAMS:
            if not params[name] and body.get(name):
                params[name] = str(body[name])
    if not params["client_id"] and not params["client_secret"]:
        authorization = request.authorization
        if authorization is not None and authorization.type == "basic":
            params["client_id"] = authorization.username or ""
            params["client_secret"] = authorization.password or ""
    return params


def _issuer():
    return current_origins()[1]


def _pkce_answer(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorization_code_grant(state, app, p):
    code = p["code"]
    if not code:
        return envelope.token_error("invalid_request", "authorization code should not be empty")
    row = state.token_by("code", code)
    if row is None:
        return envelope.token_error("invalid_grant", f"authorization code: [{code}] is invalid")
    if row["codeIsUsed"]:
        return envelope.token_error(
            "invalid_grant", f"authorization code has been used for token: [admin/{row['name']}]")
    if row["codeChallenge"]:
        answer = _pkce_answer(p["code_verifier"])
        if answer != row["codeChallenge"]:
            return envelope.token_error(
                "invalid_grant", f"verifier is invalid, challengeAnswer: [{answer}], "
                                 f"token.CodeChallenge: [{row['codeChallenge']}]")
    if app["clientSecret"] != p["client_secret"]:
        # A PKCE client may leave the secret out; a wrong one is still refused.
        if not row["codeChallenge"] or p["client_secret"]:
            return envelope.token_error(
                "invalid_client", f"client_secret is invalid for application: [admin/{app['name']}], "
                                  f"token.CodeChallenge: [{row['codeChallenge']}]")
    if row["application"] != app["name"]:
        return envelope.token_error(
            "invalid_grant", f"the token is for wrong application (client_id), "
                             f"application: [admin/{row['application']}]")
    if is_code_expired(row):
        return envelope.token_error(
            "invalid_grant", f"authorization code has expired, createdTime: [{row['createdTime']}]")
    row["codeIsUsed"] = True
    return envelope.raw(tokens.token_wrapper(row))


def _client_credentials_grant(state, app, p):
    if app["clientSecret"] != p["client_secret"]:
        return envelope.token_error("invalid_client", "client_secret is invalid")
    row = tokens.mint_token_row(state, app, tokens.application_pseudo_user(app), issuer=_issuer(),
                                scope=p["scope"])
    return envelope.raw(tokens.token_wrapper(row))


def _password_grant(state, app, p):
    if app["clientSecret"] != p["client_secret"]:
        return envelope.token_error("invalid_client", "client_secret is invalid")
    user, error = authenticate(state, app, p["username"], p["password"])
    if error:
        return envelope.token_error("invalid_grant", f"username or password is incorrect: {error}")
    row = tokens.mint_token_row(state, app, user, issuer=_issuer(), scope=p["scope"],
                                nonce=p["nonce"], signin_method="Password")
    return envelope.raw(tokens.token_wrapper(row))


def refresh_grant(state, app, p):
    """``RefreshToken``: secret checked only if sent; old row deleted (rotation)."""
    if p["client_secret"] and app["clientSecret"] != p["client_secret"]:
        return envelope.token_error("invalid_client", "client_secret is invalid")
    row = state.token_by("refreshToken", p["refresh_token"])
    if row is None:
        return envelope.token_error("invalid_grant", "refresh token is invalid or revoked")
    if row["expiresIn"] <= 0:
        return envelope.token_error("invalid_grant", "refresh token is expired")
    if row["application"] != app["name"]:
        return envelope.token_error("invalid_grant", "the token is for wrong application (client_id)")
    cert = state.cert_for_application(app)
    try:
        decoded = jwt.decode(p["refresh_token"], keys.signing_key(cert))
        jwt.JWTClaimsRegistry(exp={"essential": True}).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        return envelope.token_error("invalid_grant", f"cannot parse refresh token: {exc}")
    # Only user rows carry a refresh token (client_credentials issues none).
    user = state.user(row["organization"], row["user"])
    if user is None or user.get("isForbidden"):
        return envelope.token_error("invalid_grant", FORBIDDEN_MSG)
    scope = p["scope"] or row["scope"]
    new_row = tokens.mint_token_row(state, app, user, issuer=_issuer(), scope=scope,
                                    signin_method="Password")
    del state.tokens[row["name"]]
    return envelope.raw(tokens.token_wrapper(new_row))


@bp.post("/api/login/oauth/access_token")
def access_token():
    state = _state()
    p = read_token_params()
    with state.lock:
        app = state.application_by_client_id(p["client_id"])
        if app is None:
            return envelope.token_error("invalid_client", "client_id is invalid")
        grant = p["grant_type"]
        if grant != "authorization_code" and grant not in (app.get("grantTypes") or []):
            return envelope.token_error(
                "unsupported_grant_type", f"grant_type: {grant} is not supported in this application")
        try:
            if grant == "authorization_code":
                return _authorization_code_grant(state, app, p)
            if grant == "client_credentials":
                return _client_credentials_grant(state, app, p)
            if grant in ("password", "token", "id_token"):
                return _password_grant(state, app, p)
            if grant == "refresh_token":
                return refresh_grant(state, app, p)
        except tokens.TokenFormatError as exc:
            return envelope.error(str(exc))
    return envelope.token_error("unsupported_grant_type",
                                f"grant_type: {grant} is not supported in this application")


@bp.post("/api/login/oauth/refresh_token")
def refresh_token():
    """Refresh without the ``grantTypes`` check of the token endpoint."""
    state = _state()
    p = read_token_params(use_json=False)
    if not request.values.get("client_id"):
        body = _json_body()
        for name in TOKEN_PARAMS:
            if not p[name] and body.get(name):
                p[name] = str(body[name])
    if p["grant_type"] != "refresh_token":
        return envelope.token_error("unsupported_grant_type",
                                    f"grant_type: {p['grant_type']} is not supported")
    with state.lock:
        app = state.application_by_client_id(p["client_id"])
        if app is None:
            return envelope.token_error("invalid_client", "client_id is invalid")
        return refresh_grant(state, app, p)


@bp.post("/api/login/oauth/introspect")
def introspect():
    """RFC 7662 introspection; needs client authentication."""
    state = _state()
    client_id = request.values.get("client_id", "")
    client_secret = request.values.get("client_secret", "")
    if not client_id and not client_secret and request.authorization is not None:
        client_id = request.authorization.username or ""
        client_secret = request.authorization.password or ""
    token = request.values.get("token", "")
    hint = request.values.get("token_type_hint", "")
    with state.lock:
        app = state.application_by_client_id(client_id)
        if app is None or app["clientSecret"] != client_secret:
            return envelope.token_error("invalid_client", "client_id or client_secret is invalid")
        row = None
        if hint != "refresh_token":
            row = state.token_by("accessToken", token)
        if row is None and hint != "access_token":
            row = state.token_by("refreshToken", token)
        if row is None or row["expiresIn"] <= 0 or row["_createdAt"] + row["expiresIn"] < time.time():
            return envelope.raw({"active": False})
        if not row["_isApp"]:
            user = state.user(row["organization"], row["user"])
            if user is None or user.get("isForbidden") or user.get("isDeleted"):
                return envelope.raw({"active": False})
    claims = tokens.decode_unverified(token)
    return envelope.raw({
        "active": True, "scope": row["scope"], "client_id": claims.get("azp", client_id),
        "username": row["user"], "token_type": "Bearer", "exp": claims.get("exp"),
        "iat": claims.get("iat"), "nbf": claims.get("nbf"), "sub": claims.get("sub"),
        "aud": claims.get("aud"), "iss": claims.get("iss"), "jti": claims.get("jti"),
    })

