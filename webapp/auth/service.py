"""Local sign-in: authenticate an email and password, record a sign-in.

Services take explicit objects, ``flush`` and never ``commit``: the view
commits once per request.
"""
import logging

from webapp.audit import record_event, record_event_now
from webapp.auth.errors import AccountDisabled, InvalidCredentials
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.users.service import find_user_by_email, normalize_email

log = logging.getLogger("webapp.auth")


def authenticate_local(email, password):
    """Return the user whose email and password match.

    The same error for an unknown email and a wrong password, so the form
    cannot be used to find out who has an account.

    :raises InvalidCredentials: no such account, or a wrong password.
    :raises AccountDisabled: the account exists but is disabled.
    """
    user = find_user_by_email(email)
    if user is None or not user.check_password(password or ""):
        log.info("Failed local sign-in for %r", normalize_email(email))
        record_event_now("sign-in-failed", user=user, source="password", email=normalize_email(email)[:255],
                         reason="unknown email or wrong password")
        raise InvalidCredentials()
    if not user.is_active:
        record_event_now("sign-in-failed", user=user, source="password", reason="account switched off")
        raise AccountDisabled()
    return user


def record_sign_in(user, method, *, api=False):
    """The sign-in, on the account and in the security log (flushes)."""
    user.last_login_at = utcnow()
    log.info("User %s signed in (%s)", user.username, method)
    db.session.flush()
    record_event("sign-in", user=user, source=method, method=method)
    if api:
        record_event("api-token-issued", user=user, source=method, method=method)
