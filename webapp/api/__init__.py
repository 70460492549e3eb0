"""JSON API under /api/v1/. Errors answer ``{"error", "message"}`` (see webapp.errors)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import casdoor, views  # noqa: E402,F401
