from flask import current_app, g, jsonify

from webapp.api import bp
from webapp.api.schemas import parse_body
from webapp.auth import current, service
from webapp.auth.decorators import login_required
from webapp.auth.ratelimit import limit_failed_signins
from webapp.auth import schemas as auth_schemas
from webapp.extensions import db


@bp.get("/handshake/")
def handshake():
    """The running version, from the shipped VERSION file or BACKEND_VERSION."""
    return jsonify(version=current_app.config["VERSION"], name=current_app.config["APP_NAME"])


@bp.post("/auth/login/")
@limit_failed_signins(success_status=200)
def login():
    """Email/password sign-in for API clients; answers the session payload."""
    data = parse_body(auth_schemas.PasswordSignIn)
    user = service.authenticate_local(data.email, data.password)
    key = current.sign_in(user, "password", api=True)
    db.session.commit()
    return jsonify(current.session_payload(user, key))


@bp.post("/auth/logout/")
@login_required
def logout():
    current.sign_out()
    db.session.commit()
    return jsonify(ok=True)


@bp.get("/me/")
@login_required
def me():
    return jsonify(user=current.user_payload(g.user), auth_method=g.auth_method)
