from flask import Blueprint

bp = Blueprint("accounts", __name__, url_prefix="/settings")

from webapp.accounts import views  # noqa: E402,F401
