"""Who is calling a REST endpoint, following Casdoor's ``AutoSigninFilter`` order.

1. an access token (query ``accessToken``, query ``access_token``, or
   ``Authorization: Bearer``), checked by looking the string up among issued
   token rows and by ``createdTime + expiresIn``; the JWT signature is never
   checked, so a well-signed token that was never issued is refused;
2. application credentials: HTTP Basic (a non-matching Basic header is ignored
   silently and then the query is not consulted), else ``clientId`` +
   ``clientSecret`` in the query or form;
3. nobody.

Application callers are the pseudo-user ``app/<name>``, which passes every
authorization check; so does a ``client_credentials`` token.
"""
import datetime
import time
from dataclasses import dataclass

from flask import request

from . import envelope


@dataclass
class Caller:
    """The authenticated subject of a REST request."""

    #: "<org>/<name>", "app/<app name>" or "" for anonymous callers.
    subject: str = ""
    #: The user dict, for user callers.
    user: dict | None = None
    #: The application the credentials or token belong to.
    app: dict | None = None
    #: The token row, for bearer callers.
    token: dict | None = None

    @property
    def is_app(self):
        return self.subject.startswith("app/")

    @property
    def is_anonymous(self):
        return not self.subject

    def is_global_admin(self):
        return self.is_app or bool(self.user and self.user["owner"] == "built-in")

    def is_admin_of(self, owner):
        """Casdoor's ``IsAdmin`` for an object owned by ``owner``."""
        if self.is_global_admin():
            return True
        return bool(self.user and self.user.get("isAdmin") and self.user["owner"] == owner)


def _bearer_token():
    token = request.args.get("accessToken") or request.args.get("access_token")
    if token:
        return token
    header = request.headers.get("Authorization", "")
    parts = header.split(" ")
    if len(parts) == 2 and parts[0] == "Bearer":
        return parts[1]
    return ""


def resolve_caller(state):
    """Return ``(caller, error_response)``; ``error_response`` is set when the filter refuses."""
    token = _bearer_token()
    if token:
        with state.lock:
            row = state.token_by("accessToken", token)
            if row is None:
                return None, envelope.filter_error("Access token doesn't exist in database")
            expires_at = row["_createdAt"] + row["expiresIn"]
            if expires_at < time.time():
                stamp = datetime.datetime.fromtimestamp(expires_at).astimezone().isoformat(timespec="seconds")
                return None, envelope.filter_error(f"Access token has expired, expireTime = {stamp}")
            app = state.applications.get(row["application"])
            if row["_isApp"]:
                return Caller(subject=f"app/{row['application']}", app=app, token=row), None
            user = state.user(row["organization"], row["user"])
            if user is None or user.get("isForbidden") or user.get("isDeleted"):
                return None, envelope.filter_error(
                    "The user is forbidden to sign in, please contact the administrator")
            return Caller(subject=f"{user['owner']}/{user['name']}", user=user, app=app, token=row), None

    authorization = request.authorization
    if authorization is not None and authorization.type == "basic":
        with state.lock:
            app = state.application_by_client_id(authorization.username or "")
        if app and app.get("clientSecret") == authorization.password:
            return Caller(subject=f"app/{app['name']}", app=app), None
        # A Basic header that is not ours may be a reverse proxy's password.
        return Caller(), None

    client_id = request.values.get("clientId", "")
    client_secret = request.values.get("clientSecret", "")
    if client_id and client_secret:
        with state.lock:
            app = state.application_by_client_id(client_id)
        if app is None:
            return None, envelope.filter_error(f"Invalid clientId: {client_id}")
        if app.get("clientSecret") != client_secret:
            return None, envelope.filter_error(f"Invalid clientSecret for application: {app['name']}")
        return Caller(subject=f"app/{app['name']}", app=app), None
    return Caller(), None


def unauthorized():
    """Casdoor's authz refusal: HTTP 200, four-key struct."""
    return envelope.filter_error("Unauthorized operation")
