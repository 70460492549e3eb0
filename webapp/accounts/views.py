"""Settings > Connected accounts: the Casdoor link, a local password, sessions."""
from flask import flash, g, redirect, render_template, request, url_for

from webapp.accounts import bp
from webapp.auth import identities
from webapp.auth.decorators import login_required
from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import IdentityConflict
from webapp.extensions import db


@bp.get("/accounts")
@login_required
def connected():
    return render_template("accounts/connected.html", casdoor=get_casdoor())


@bp.post("/accounts/casdoor/unlink")
@login_required
def unlink_casdoor():
    try:
        identities.unlink_identity(g.user)
    except IdentityConflict as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("Unlinked your Casdoor account. Sign in with your email and password from now on.", "success")
    return redirect(url_for("accounts.connected"))


@bp.post("/password")
@login_required
def set_password():
    """Give an account a local password (SSO-only accounts need one before unlinking)."""
    password = request.form.get("password", "")
    if len(password) < 8:
        flash("Choose a password of at least 8 characters.", "error")
    elif password != request.form.get("confirm", ""):
        flash("The passwords differ.", "error")
    elif not g.user.email:
        flash("Your account has no email address, which local sign-in needs. Ask an administrator.", "error")
    else:
        g.user.set_password(password)
        db.session.commit()
        flash("Password set. You can sign in with your email and this password.", "success")
    return redirect(url_for("accounts.connected"))
