"""Access rules stated where they are read: ``@login_required``, ``@admin_required``."""
from functools import wraps

from flask import g, redirect, request, url_for
from werkzeug.exceptions import Forbidden, Unauthorized


def login_required(view):
    """Signed-in users only. Pages redirect to sign-in (with ``next``); the API answers 401."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            if request.path.startswith("/api/"):
                raise Unauthorized("Sign in first: send 'Authorization: Token <session key>' "
                                   "or 'Authorization: Bearer <Casdoor JWT>'.")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    """Administrators only; always stack under ``login_required``."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not g.user.is_effective_admin:
            raise Forbidden("Only administrators can do this.")
        return view(*args, **kwargs)

    return login_required(wrapped)
