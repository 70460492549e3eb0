"""Every URL of signing in: local pages (``/auth/``), Casdoor single sign-on (``/auth/casdoor/``),
and the JSON sign-in API (``/api/v1/auth/...``, ``/api/v1/me/``).

The API keeps the paths of the Notechondria runbook, trailing slashes included
(its clients call them as written there).
"""
from flask import Blueprint

from webapp.auth import api, casdoor_views, views

pages = Blueprint("auth", __name__, url_prefix="/auth")
pages.add_url_rule("/login", view_func=views.login, methods=["GET", "POST"])
pages.add_url_rule("/signup", view_func=views.signup, methods=["GET", "POST"])
pages.add_url_rule("/logout", view_func=views.logout, methods=["POST"])

casdoor = Blueprint("casdoor", __name__, url_prefix="/auth/casdoor")
casdoor.add_url_rule("/login", view_func=casdoor_views.login)
casdoor.add_url_rule("/link", view_func=casdoor_views.link, methods=["POST"])
casdoor.add_url_rule("/callback", view_func=casdoor_views.callback)
casdoor.add_url_rule("/link-account", view_func=casdoor_views.link_account, methods=["GET", "POST"])

api_bp = Blueprint("auth_api", __name__, url_prefix="/api/v1")
api_bp.add_url_rule("/auth/login/", view_func=api.login, methods=["POST"])
api_bp.add_url_rule("/auth/logout/", view_func=api.logout, methods=["POST"])
api_bp.add_url_rule("/me/", view_func=api.me)
api_bp.add_url_rule("/auth/casdoor/config/", view_func=api.casdoor_config)
api_bp.add_url_rule("/auth/casdoor/exchange/", view_func=api.casdoor_exchange, methods=["POST"])
api_bp.add_url_rule("/auth/casdoor/bind/", view_func=api.casdoor_bind, methods=["POST"])
api_bp.add_url_rule("/auth/casdoor/bind/", view_func=api.casdoor_unbind, methods=["DELETE"])
