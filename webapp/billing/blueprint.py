"""Every URL of billing: your charges (``/billing/``), administrators' delivery health and
ledgers (``/admin/billing/``), and ``/api/v1/billing/charges/``."""
from flask import Blueprint

from webapp.billing import api, views
from webapp.routing import moved

pages = Blueprint("billing", __name__)
pages.add_url_rule("/billing/", view_func=views.my_charges)
pages.add_url_rule("/admin/billing/", view_func=views.admin_overview)
pages.add_url_rule("/admin/billing/users/<id:user_id>", view_func=views.admin_user_ledger)

api_bp = Blueprint("billing_api", __name__, url_prefix="/api/v1/billing")
api_bp.add_url_rule("/charges/", view_func=api.list_charges)
# Former address (before collections ended with "/").
moved(api_bp, "/charges", ".list_charges")
