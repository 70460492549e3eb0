"""Every URL of account administration: ``/admin/users/...`` (administrators)."""
from flask import Blueprint

from webapp.routing import moved
from webapp.useradmin import views

bp = Blueprint("useradmin", __name__, url_prefix="/admin/users")
bp.add_url_rule("/", view_func=views.list_users)
bp.add_url_rule("/new", view_func=views.create_user, methods=["GET", "POST"])
bp.add_url_rule("/<id:user_id>", view_func=views.show_user)
bp.add_url_rule("/<id:user_id>/grants/", view_func=views.grant_store, methods=["POST"])
bp.add_url_rule("/<id:user_id>/grants/<id:store_id>/revoke", view_func=views.revoke_store, methods=["POST"])
bp.add_url_rule("/<id:user_id>/active", view_func=views.set_active, methods=["POST"])

# Former address (before collections ended with "/").
moved(bp, "/<id:user_id>/grants", ".grant_store", methods=["POST"])
