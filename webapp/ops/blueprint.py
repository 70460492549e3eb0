"""Health: ``/healthz`` (the process answers), ``/readyz`` (its dependencies answer), ``/metrics``."""
from flask import Blueprint

from webapp.ops import views

bp = Blueprint("ops", __name__)
bp.add_url_rule("/healthz", view_func=views.healthz)
bp.add_url_rule("/readyz", view_func=views.readyz)
bp.add_url_rule("/metrics", view_func=views.metrics)
