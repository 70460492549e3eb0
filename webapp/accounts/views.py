"""Settings > Connected accounts: the Casdoor link, a local password, sessions."""
import logging

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask import session as flask_session

from webapp.audit import record_event
from webapp.auth import identities
from webapp.auth.decorators import login_required
from webapp.auth.ratelimit import limit_failed_signins
from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import IdentityConflict
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.sessions import service as session_service
from webapp.sessions.models import Session

log = logging.getLogger("webapp.accounts")


@login_required
def connected():
    return render_template("accounts/connected.html", casdoor=get_casdoor())


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


@login_required
@limit_failed_signins(success_status=302)
def set_password():
    """Set or change the local password; every other session of the account is signed out.

    Changing it needs the current password. An account without one (it signs
    in through Casdoor only) may set one from a Casdoor session, the proof of
    identity being that sign-in.
    """
    errors = {}
    password, confirm = request.form.get("password", ""), request.form.get("confirm", "")
    if g.user.has_password:
        if not g.user.check_password(request.form.get("current_password", "")):
            errors["current_password"] = "This is not your current password."
    elif g.auth_method != "casdoor":
        errors["password"] = "Sign in through Casdoor to set a first password for this account."
    if len(password) < 8:
        errors.setdefault("password", "Choose a password of at least 8 characters.")
    elif len(password) > 200:
        errors.setdefault("password", "A password has at most 200 characters.")
    if password != confirm:
        errors["confirm"] = "The two new passwords differ."
    if not g.user.email:
        errors["password"] = "Your account has no email address, which local sign-in needs. Ask an administrator."
    if errors:
        return render_template("accounts/connected.html", casdoor=get_casdoor(), password_errors=errors), 400
    g.user.set_password(password)
    record_event("password-changed", user=g.user, source="self")
    signed_out = session_service.revoke_user_sessions(g.user, keep_id=flask_session.row_id, source="self",
                                                      reason="password changed")
    db.session.commit()
    log.info("User %s changed their password; %d other session(s) signed out", g.user.username, signed_out)
    flash("Password saved. " + (f"{signed_out} other session(s) were signed out." if signed_out else ""), "success")
    return redirect(url_for("accounts.connected"))


@login_required
def sessions():
    """The user's signed-in sessions (browsers and API tokens), most recent first."""
    page = paginate(
        db.select(Session).filter(Session.user_id == g.user.id, Session.revoked_at.is_(None),
                                  Session.expires_at > utcnow()),
        order=[(Session.last_seen_at, "desc"), (Session.id, "desc")],
        cursor=request.args.get("cursor"), limit=page_size(default=50, maximum=100))
    return render_template("accounts/sessions.html", rows=page.items, page=page, current_id=flask_session.row_id)


@login_required
def revoke_session(session_id):
    """Revoke one of the user's own sessions; another user's id answers 404."""
    row = db.session.get(Session, session_id)
    if row is None or row.user_id != g.user.id:
        abort(404)
    if session_service.revoke(Session.id == row.id):
        db.session.commit()
        log.info("User %s revoked session %s", g.user.username, row.id)
    flash("Session revoked: that browser or API token is signed out.", "success")
    if row.id == flask_session.row_id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("accounts.sessions"))
