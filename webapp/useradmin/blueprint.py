"""Every URL of account administration: ``/admin/users/...``, the security log ``/admin/security-log/``
and its API ``/api/v1/audit/events`` (administrators)."""
from flask import Blueprint

from webapp.routing import moved
from webapp.useradmin import security_log, views

bp = Blueprint("useradmin", __name__, url_prefix="/admin/users")
bp.add_url_rule("/", view_func=views.list_users)
bp.add_url_rule("/new", view_func=views.create_user, methods=["GET", "POST"])
bp.add_url_rule("/<id:user_id>", view_func=views.show_user)
bp.add_url_rule("/<id:user_id>/grants/", view_func=views.grant_store, methods=["POST"])
bp.add_url_rule("/<id:user_id>/grants/<id:store_id>/revoke", view_func=views.revoke_store, methods=["POST"])
bp.add_url_rule("/<id:user_id>/active", view_func=views.set_active, methods=["POST"])

# Former address (before collections ended with "/").
moved(bp, "/<id:user_id>/grants", ".grant_store", methods=["POST"])

log_bp = Blueprint("securitylog", __name__, url_prefix="/admin/security-log")
log_bp.add_url_rule("/", view_func=security_log.security_log)
log_bp.add_url_rule("/export.csv", view_func=security_log.export_security_log)

api_bp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")
api_bp.add_url_rule("/events", view_func=security_log.list_events)
