"""Who is asking: ``g.user`` for every request, and signing in and out.

Credentials, in order: a server-side session (cookie or ``Authorization:
Token``), then ``Authorization: Bearer <Casdoor JWT>`` through the bearer
loaders that the Casdoor feature registers. ``g.user`` is None for anonymous
requests; access rules live in ``webapp.auth.decorators`` and
``webapp.stores.access``.

What a session may do depends on how it was opened (``g.auth_method``): the
privileges Casdoor grants (its admin flag, every store for an unbound user)
need a session that came through Casdoor, while Casdoor's profile is fresh
(CASDOOR_PROFILE_MAX_AGE_HOURS). A local password is not a way around Casdoor.
"""
from datetime import timedelta

from flask import current_app, g, request, session
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ServiceUnavailable

from webapp.audit import record_event
from webapp.auth import service
from webapp.auth.identities import check_linked_account_gate
from webapp.core.clock import utcnow
from webapp.errors import DATABASE_DOWN
from webapp.security import view_authenticates_itself
from webapp.sessions.interface import end_session, rotate_session
from webapp.users.cache import get_user

#: Session keys of sign-in flows in progress; a completed sign-in clears them.
FLOW_KEYS = ("casdoor_flow", "casdoor_pending")
#: How each way in is named in ``sessions.auth_method`` / ``g.auth_method``.
CASDOOR_METHODS = {"casdoor", "bearer"}


def casdoor_profile_is_fresh(user, now=None):
    """True while the Casdoor facts of ``user`` are recent enough to grant privileges."""
    if user.casdoor_sub is None or user.casdoor_last_login_at is None:
        return False
    max_age = timedelta(hours=current_app.config["CASDOOR_PROFILE_MAX_AGE_HOURS"])
    return (now or utcnow()) - user.casdoor_last_login_at <= max_age


def apply_session_kind(user, auth_method):
    """Decide, for this request, whether Casdoor's privileges apply to ``user``."""
    user.casdoor_privileges = auth_method in CASDOOR_METHODS and casdoor_profile_is_fresh(user)
    return user


#: ``app.extensions`` key: endpoints that serve machines (health checks, metrics) and
#: never have a user; their ``Authorization`` header is their own business.
NO_USER_ENDPOINTS = "storehouse_no_user_endpoints"


def load_current_user():
    g.user = None
    g.auth_method = None
    if request.endpoint in current_app.extensions.get(NO_USER_ENDPOINTS, ()):
        return
    if getattr(session, "unavailable", False):
        # The session could not be read: the database is down (or every pooled
        # connection is busy: re-raised, answered 503 "busy" by webapp.errors).
        # Say so rather than treat a signed-in person as a stranger.
        if isinstance(getattr(session, "unavailable_error", None), PoolTimeout):
            raise session.unavailable_error
        raise ServiceUnavailable(DATABASE_DOWN)
    if view_authenticates_itself():
        return  # its Authorization header is the endpoint's own secret, not a sign-in
    user_id = getattr(session, "user_id", None)
    if user_id is not None:
        user = get_user(user_id)
        # casdoor_blocked_reason: Casdoor deleted or forbade the person; their sessions were
        # revoked when Storehouse learned it, and one opened meanwhile counts for nothing.
        if user is not None and user.is_active and not user.casdoor_blocked_reason:
            g.user = apply_session_kind(user, session.auth_method)
            g.auth_method = session.auth_method
        return
    for loader in current_app.extensions.get("storehouse_bearer_loaders", ()):
        user = loader()
        if user is not None:
            g.user = apply_session_kind(user, "bearer")
            g.auth_method = "bearer"
            return


def clear_sign_in_flows():
    """Forget unfinished sign-ins (Casdoor flow and pending link, Authlib's state)."""
    for key in [key for key in session if key in FLOW_KEYS or key.startswith("_state_")]:
        del session[key]


def sign_in(user, method, *, api=False, **session_data):
    """Start a signed-in session for ``user`` on a fresh key; returns the key.

    The caller commits. ``session_data`` is stored server-side with the session
    (for example the encrypted Casdoor id_token needed for sign-out). ``api=True``
    is for JSON clients: they get the key in the response body and no cookie.

    :raises GroupGateError: a password sign-in of a Casdoor-linked account that
        Casdoor last saw outside CASDOOR_REQUIRED_GROUPS (a local password is
        not a way around the gate).
    """
    if method == "password" and user.casdoor_sub is not None:
        check_linked_account_gate(user)
    clear_sign_in_flows()
    key = rotate_session(session, user, method)
    if api:
        session.from_header = True
    for name, value in session_data.items():
        session[name] = value
    service.record_sign_in(user, method, api=api)
    g.user = apply_session_kind(user, method)
    g.auth_method = method
    return key


def sign_out():
    """End this session (the caller commits: the security log's sign-out goes with it)."""
    if g.get("user") is not None:
        record_event("sign-out", user=g.user, source=g.get("auth_method") or "")
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
