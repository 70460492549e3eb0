"""Every URL of billing: your charges (``/billing/``), administrators' delivery health and
ledgers (``/admin/billing/``), ``/api/v1/billing/charges/``, and a store's spending limits
(``/api/v1/s/<store>/limits``, through the tenancy chokepoint)."""
from flask import Blueprint

from webapp.billing import api, views
from webapp.routing import moved
from webapp.stores import scoping

pages = Blueprint("billing", __name__)
pages.add_url_rule("/billing/", view_func=views.my_charges)
pages.add_url_rule("/admin/billing/", view_func=views.admin_overview)
pages.add_url_rule("/admin/billing/users/<id:user_id>", view_func=views.admin_user_ledger)
pages.add_url_rule("/admin/billing/limits/", view_func=views.admin_limits)

api_bp = Blueprint("billing_api", __name__, url_prefix="/api/v1/billing")
api_bp.add_url_rule("/charges/", view_func=api.list_charges)
# Former address (before collections ended with "/").
moved(api_bp, "/charges", ".list_charges")

limits_api = Blueprint("billing_limits_api", __name__, url_prefix="/api/v1/s/<store>/limits")
scoping.init_scoped_blueprint(limits_api)
limits_api.add_url_rule("", view_func=api.get_limits)
limits_api.add_url_rule("", view_func=api.put_limits, methods=["PUT"])
limits_api.add_url_rule("", view_func=api.delete_limits, methods=["DELETE"])
limits_api.add_url_rule("/people/<id:user_id>", view_func=api.get_person_limit)
limits_api.add_url_rule("/people/<id:user_id>", view_func=api.put_person_limit, methods=["PUT"])
limits_api.add_url_rule("/people/<id:user_id>", view_func=api.delete_person_limit, methods=["DELETE"])

limit_pages = Blueprint("billing_limits", __name__, url_prefix="/s/<store>/limits")
scoping.init_scoped_blueprint(limit_pages)
limit_pages.add_url_rule("", view_func=views.store_limits, methods=["GET", "POST"])
limit_pages.add_url_rule("/people/<id:user_id>", view_func=views.person_limit, methods=["GET", "POST"])
