"""Every URL of model providers: pages under ``/admin/providers/``, JSON under ``/api/v1/providers/``.

Administrators only; changes need server-wide management (``webapp.providers.access``).
"""
from flask import Blueprint

from webapp.providers import api, views

pages = Blueprint("providers", __name__, url_prefix="/admin/providers")
pages.add_url_rule("/", view_func=views.list_providers)
pages.add_url_rule("/new", view_func=views.create_provider, methods=["GET", "POST"])
pages.add_url_rule("/<id:provider_id>/edit", view_func=views.edit_provider, methods=["GET", "POST"])
pages.add_url_rule("/<id:provider_id>/default", view_func=views.make_default, methods=["POST"])
pages.add_url_rule("/<id:provider_id>/delete", view_func=views.delete_provider, methods=["GET", "POST"])

api_bp = Blueprint("providers_api", __name__, url_prefix="/api/v1/providers")
api_bp.add_url_rule("/", view_func=api.list_providers)
api_bp.add_url_rule("/", view_func=api.create_provider, methods=["POST"])
api_bp.add_url_rule("/<id:provider_id>", view_func=api.get_provider)
api_bp.add_url_rule("/<id:provider_id>", view_func=api.update_provider, methods=["PATCH"])
api_bp.add_url_rule("/<id:provider_id>", view_func=api.delete_provider, methods=["DELETE"])
