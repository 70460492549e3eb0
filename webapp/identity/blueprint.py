"""URLs of Casdoor's webhook and of OpenID Connect back-channel logout."""
from flask import Blueprint

from webapp.identity import views

api_bp = Blueprint("identity_api", __name__, url_prefix="/api/v1/casdoor")
api_bp.add_url_rule("/webhook", view_func=views.casdoor_webhook, methods=["POST"])

oidc_bp = Blueprint("oidc_backchannel", __name__, url_prefix="/auth/oidc")
oidc_bp.add_url_rule("/backchannel-logout", view_func=views.backchannel_logout, methods=["POST"])
