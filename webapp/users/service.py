"""Accounts: find them by email or username, create local ones.

Services take explicit objects, ``flush`` and never ``commit``: the view or the
command commits once.
"""
import logging

from sqlalchemy import func

from webapp.audit import record_event
from webapp.extensions import db
from webapp.users.errors import SignupError
from webapp.users.models import User

log = logging.getLogger("webapp.users")


def normalize_email(email):
    return (email or "").strip().lower() or None


def find_user_by_email(email):
    email = normalize_email(email)
    if not email:
        return None
    return db.session.execute(db.select(User).filter(func.lower(User.email) == email)).scalar_one_or_none()


def find_user_by_username(username):
    return db.session.execute(
        db.select(User).filter(func.lower(User.username) == (username or "").lower())
    ).scalar_one_or_none()


def create_local_user(username, email, password, display_name="", *, is_admin=False, created_by=None):
    """Create an account that signs in with email and password.

    :param created_by: the administrator who created it (None: the person signed up, or a command).
    :raises SignupError: the username or email is already taken.
    """
    email = normalize_email(email)
    if find_user_by_username(username):
        raise SignupError(f"The username '{username}' is taken. Choose another one.")
    if find_user_by_email(email):
        raise SignupError("An account with this email already exists. Sign in instead, "
                          "or use 'Forgot password' with your administrator.")
    user = User(username=username, email=email, display_name=display_name or username, is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    log.info("Created local account %s (admin=%s)", user.username, is_admin)
    record_event("account-created", user=user, actor=created_by, source="admin" if created_by else "local",
                 is_admin=bool(is_admin))
    return user
