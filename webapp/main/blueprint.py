"""The front door: ``/`` and ``/api/v1/handshake/`` (the path the Notechondria runbook gives it)."""
from flask import Blueprint

from webapp.main import views

bp = Blueprint("main", __name__)
bp.add_url_rule("/", view_func=views.index)
bp.add_url_rule("/api/v1/handshake/", view_func=views.handshake)
