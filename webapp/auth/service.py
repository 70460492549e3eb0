"""Local sign-in: authenticate an email and password, record a sign-in.

Services take explicit objects, ``flush`` and never ``commit``: the view
commits once per request.
"""
import logging

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
        raise InvalidCredentials()
    if not user.is_active:
        raise AccountDisabled()
    return user


def record_sign_in(user, method):
    user.last_login_at = utcnow()
    log.info("User %s signed in (%s)", user.username, method)
    db.session.flush()
