"""Who is asking: ``g.user`` for every request, and signing in and out.

Credentials, in order: a server-side session (cookie or ``Authorization:
Token``), then ``Authorization: Bearer <Casdoor JWT>`` through the bearer
loaders that the Casdoor feature registers. ``g.user`` is None for anonymous
requests; access rules live in ``webapp.auth.decorators``.
"""
from flask import current_app, g, session

from webapp.auth import service
from webapp.extensions import db
from webapp.sessions.interface import end_session, rotate_session
from webapp.users.models import User


def load_current_user():
    g.user = None
    g.auth_method = None
    user_id = getattr(session, "user_id", None)
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is not None and user.is_active:
            g.user = user
            g.auth_method = session.auth_method
        return
    for loader in current_app.extensions.get("storehouse_bearer_loaders", ()):
        user = loader()
        if user is not None:
            g.user = user
            g.auth_method = "bearer"
            return


def sign_in(user, method, *, api=False, **session_data):
    """Start a signed-in session for ``user`` on a fresh key; returns the key.

    The caller commits. ``session_data`` is stored server-side with the session
    (for example the Casdoor id_token needed for sign-out). ``api=True`` is for
    JSON clients: they get the key in the response body and no cookie.
    """
    key = rotate_session(session, user, method)
    if api:
        session.from_header = True
    session.update(session_data)
    service.record_sign_in(user, method)
    g.user = user
    g.auth_method = method
    return key


def sign_out():
    end_session(session)
    g.user = None


def session_payload(user, key):
    """What API clients receive after signing in, whichever way they did."""
    return {
        "token": key,
        "token_type": "Token",
        "user": user_payload(user),
    }


def user_payload(user):
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "is_admin": user.is_effective_admin,
        "casdoor_linked": user.casdoor_sub is not None,
    }
