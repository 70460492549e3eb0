"""Health: ``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""
from flask import Blueprint

from webapp.ops import views

bp = Blueprint("ops", __name__)
bp.add_url_rule("/healthz", view_func=views.healthz)
bp.add_url_rule("/readyz", view_func=views.readyz)
