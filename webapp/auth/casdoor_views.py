"""Casdoor sign-in, callback, bind, and the "this email already has an account" step."""
import logging
from datetime import datetime, timedelta

from flask import flash, g, redirect, render_template, request, session, url_for

from webapp.auth import current, identities, service
from webapp.auth.decorators import login_required
from webapp.auth.errors import AuthError
from webapp.auth.oidc import StateExpired, authorize_redirect, complete_authorization, logout_url
from webapp.auth.ratelimit import limit_failed_signins
from webapp.casdoor import get_casdoor, require_casdoor
from webapp.casdoor.claims import ProviderIdentity, identity_from_claims
from webapp.casdoor.errors import CasdoorUnavailable, SignInError
from webapp.core.clock import utcnow
from webapp.crypto import decrypt, encrypt
from webapp.extensions import db
from webapp.security import safe_next_url
from webapp.sessions.models import ID_TOKEN_PURPOSE
from webapp.urls import PublicUrlRequired, external_url
from webapp.users.models import User

log = logging.getLogger("webapp.auth.casdoor")

FLOW_KEY = "casdoor_flow"
PENDING_KEY = "casdoor_pending"
#: A sign-in started (or a link pending) longer ago than this is not finished any more.
FLOW_LIFETIME = timedelta(minutes=10)


def _now():
    return utcnow().isoformat()


def _is_stale(started_at):
    try:
        return utcnow() - datetime.fromisoformat(started_at) > FLOW_LIFETIME
    except (TypeError, ValueError):
        return True


def _start(intent):
    casdoor = require_casdoor()
    session[FLOW_KEY] = {"intent": intent, "next": safe_next_url(request.values.get("next")), "started_at": _now()}
    return authorize_redirect(casdoor.oauth, external_url("casdoor.callback"))


def encrypted_id_token(token):
    """The id_token as stored with the session (encrypted: it is a usable credential)."""
    id_token = token.get("id_token")
    return encrypt(id_token, ID_TOKEN_PURPOSE) if id_token else None


def login():
    return _start("signin")


@login_required
def link():
    """Connected accounts > Link Casdoor: open Casdoor with the bind intent."""
    return _start("bind")


def callback():
    casdoor = require_casdoor()
    flow = session.pop(FLOW_KEY, None)
    if flow is not None and _is_stale(flow.get("started_at")):
        raise StateExpired()
    flow = flow or {"intent": "signin", "next": url_for("main.index")}
    claims, token = complete_authorization(casdoor.oauth)
    identity = identity_from_claims(casdoor.settings, claims, casdoor.api, token.get("access_token"))

    if flow["intent"] == "bind":
        if g.user is None:
            raise SignInError("Your Storehouse session ended before Casdoor answered. Sign in and link again.")
        identities.link_identity(casdoor.settings, g.user, identity)
        db.session.commit()
        flash(f"Linked Casdoor account {identity.organization}/{identity.casdoor_name}.", "success")
        return redirect(url_for("accounts.connected"))

    try:
        user = identities.resolve_sign_in(casdoor.settings, identity)
    except identities.LinkRequired as exc:
        session[PENDING_KEY] = {"identity": identity.to_dict(), "candidate_id": exc.candidate.id,
                                "id_token": encrypted_id_token(token), "next": flow["next"],
                                "started_at": _now()}
        return redirect(url_for("casdoor.link_account"))
    current.sign_in(user, "casdoor", casdoor_id_token=encrypted_id_token(token))
    db.session.commit()
    flash(f"Signed in as {user.label} through Casdoor.", "success")
    return redirect(flow["next"])


def _pending():
    pending = session.get(PENDING_KEY)
    if not pending:
        return None, None, None
    if _is_stale(pending.get("started_at")):
        del session[PENDING_KEY]
        return None, None, None
    candidate = db.session.get(User, pending["candidate_id"])
    return pending, ProviderIdentity.from_dict(pending["identity"]), candidate


@limit_failed_signins(success_status=302, methods=["POST"])
def link_account():
    """An unknown Casdoor identity matched a local account: prove it, or make a separate one."""
    casdoor = require_casdoor()
    pending, identity, candidate = _pending()
    if pending is None or candidate is None:
        flash("That Casdoor sign-in is no longer pending. Start again.", "warning")
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        if request.form.get("action") == "create":
            user = identities.provision_user(casdoor.settings, identity, keep_email=False)
            message = f"Created a separate account {user.username} for your Casdoor sign-in."
        else:
            try:
                user = service.authenticate_local(candidate.email, request.form.get("password", ""))
            except AuthError as exc:
                error = exc.message
                user = None
            else:
                identities.link_identity(casdoor.settings, user, identity)
                message = f"Linked Casdoor to your account {user.username}."
        if user is not None:
            session.pop(PENDING_KEY, None)
            current.sign_in(user, "casdoor", casdoor_id_token=pending["id_token"])
            db.session.commit()
            flash(message, "success")
            return redirect(pending["next"])
    return render_template("auth/casdoor_link_account.html", identity=identity, candidate=candidate,
                           error=error), (200 if error is None else 401)


def casdoor_logout_url():
    """Where sign-out continues when this session came from Casdoor (None otherwise)."""
    casdoor = get_casdoor()
    if casdoor is None or getattr(session, "auth_method", None) != "casdoor":
        return None
    id_token = decrypt(session.get("casdoor_id_token"), ID_TOKEN_PURPOSE)
    if not id_token:
        return None
    try:
        return logout_url(casdoor.oauth, id_token, external_url("auth.login"))
    except (CasdoorUnavailable, PublicUrlRequired, RuntimeError) as exc:
        # The local session ends regardless; Casdoor's may outlive it.
        log.warning("Could not build the Casdoor sign-out URL: %s", exc)
        return None
