"""Webhook configuration over the REST API (``get-webhooks``, ``add-webhook``, ...).

Only global admins and applications may manage webhooks. Unlike Casdoor, whose
delivery worker starts at boot only if a webhook exists, the worker here always
runs, so a webhook added at runtime is delivered without a restart.
"""
import copy

from flask import Blueprint, current_app, g, request

from . import envelope
from .callers import unauthorized
from .routes_users import NAME_ERROR, name_is_invalid, parse_json_body

bp = Blueprint("webhooks", __name__)


def _state():
    return current_app.extensions["devcasdoor"].state


@bp.get("/api/get-webhooks")
def get_webhooks():
    if not g.caller.is_global_admin():
        return unauthorized()
    state = _state()
    organization = request.args.get("organization", "")
    with state.lock:
        hooks = [copy.deepcopy(w) for w in state.webhooks
                 if not organization or w.get("organization") == organization]
    return envelope.ok(hooks)


@bp.get("/api/get-webhook")
def get_webhook():
    if not g.caller.is_global_admin():
        return unauthorized()
    state = _state()
    _, _, name = request.args.get("id", "").partition("/")
    with state.lock:
        hook = next((copy.deepcopy(w) for w in state.webhooks if w["name"] == name), None)
    return envelope.ok(hook)


@bp.post("/api/add-webhook")
@bp.post("/api/update-webhook")
def add_webhook():
    if not g.caller.is_global_admin():
        return unauthorized()
    body = parse_json_body()
    if body is None or not body.get("name"):
        return envelope.error("invalid webhook")
    if name_is_invalid(body):
        return envelope.filter_error(NAME_ERROR)
    _state().add_webhook(body)
    return envelope.ok("Affected")


@bp.post("/api/delete-webhook")
def delete_webhook():
    if not g.caller.is_global_admin():
        return unauthorized()
    body = parse_json_body() or {}
    state = _state()
    with state.lock:
        before = len(state.webhooks)
        state.webhooks = [w for w in state.webhooks if w["name"] != body.get("name")]
        changed = len(state.webhooks) != before
    return envelope.ok("Affected" if changed else "Unaffected")
