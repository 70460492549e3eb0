"""Every URL of the account settings: ``/settings/...`` (signed-in people, their own account)."""
from flask import Blueprint

from webapp.accounts import views
from webapp.routing import moved

bp = Blueprint("accounts", __name__, url_prefix="/settings")

bp.add_url_rule("/accounts/", view_func=views.connected)
bp.add_url_rule("/accounts/casdoor/unlink", view_func=views.unlink_casdoor, methods=["POST"])
bp.add_url_rule("/password", view_func=views.set_password, methods=["POST"])
bp.add_url_rule("/sessions/", view_func=views.sessions)
bp.add_url_rule("/sessions/<id:session_id>/revoke", view_func=views.revoke_session, methods=["POST"])

# Former addresses (before collections ended with "/").
moved(bp, "/accounts", ".connected")
moved(bp, "/sessions", ".sessions")
