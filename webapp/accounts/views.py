"""Settings > Connected accounts: the Casdoor link, a local password, sessions."""
import logging

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask import session as flask_session

from webapp.accounts import bp
from webapp.auth import identities
from webapp.auth.decorators import login_required
from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import IdentityConflict
from webapp.extensions import db
from webapp.sessions.models import Session
from webapp.users.models import utcnow

log = logging.getLogger("webapp.accounts")


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


@bp.get("/sessions")
@login_required
def sessions():
    """The user's signed-in sessions (browsers and API tokens), newest first."""
    rows = [row for row in db.session.execute(
        db.select(Session).filter(Session.user_id == g.user.id, Session.revoked_at.is_(None))
        .order_by(Session.last_seen_at.desc())
    ).scalars() if row.is_active]
    current_id = getattr(getattr(flask_session, "row", None), "id", None)
    return render_template("accounts/sessions.html", rows=rows, current_id=current_id)


@bp.post("/sessions/<int:session_id>/revoke")
@login_required
def revoke_session(session_id):
    """Revoke one of the user's own sessions; another user's id answers 404."""
    row = db.session.get(Session, session_id)
    if row is None or row.user_id != g.user.id:
        abort(404)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
        log.info("User %s revoked session %s", g.user.username, row.id)
    flash("Session revoked: that browser or API token is signed out.", "success")
    if row.id == getattr(getattr(flask_session, "row", None), "id", None):
        return redirect(url_for("auth.login"))
    return redirect(url_for("accounts.sessions"))
