"""Test controls under ``/_dev/`` (registered only with ``enable_dev_controls``).

Nothing here exists in Casdoor. These endpoints let tests put the server into
states that are otherwise slow or impossible to reach: patch a user, inject a
failure, rotate a key, sign arbitrary claims, inspect transactions and webhook
deliveries, and go back to the seed.
"""
import copy
import time
import uuid

from flask import Blueprint, current_app, jsonify, request

from . import keys, tokens
from .faults import FAULT_KINDS
from .routes_wellknown import jwks
from .state import TRANSACTIONS_MODES
from .users import mask_user

bp = Blueprint("dev", __name__, url_prefix="/_dev")


def _server():
    return current_app.extensions["devcasdoor"]


def _json():
    return request.get_json(force=True, silent=True) or {}


@bp.get("/users")
def list_users():
    state = _server().state
    with state.lock:
        return jsonify([copy.deepcopy(u) for u in state.users.values()])


@bp.post("/users/<org>/<name>")
def patch_user(org, name):
    """Patch any fields of a user (no Casdoor rules applied; renames allowed) and return it."""
    state = _server().state
    with state.lock:
        user = state.user(org, name)
        if user is None:
            return jsonify({"error": f"no user {org}/{name}"}), 404
        fields = _json()
        old_balance = user["balance"]
        user.update(copy.deepcopy(fields))
        user["balance"] = float(user["balance"])
        user["balanceCredit"] = float(user["balanceCredit"])
        if (user["owner"], user["name"]) != (org, name):
            state.users.pop((org, name))
            state.users[(user["owner"], user["name"])] = user
        organization = state.organizations.get(org)
        if organization is not None:
            organization["userBalance"] = round(
                organization["userBalance"] + user["balance"] - old_balance, 8)
        return jsonify(mask_user(user))


@bp.post("/faults")
def inject_fault():
    """``{"path", "count", "kind", "seconds", "msg"}``: the next ``count`` calls to ``path`` fail
    (``kind`` among ``FAULT_KINDS``; see ``faults.py``)."""
    body = _json()
    if body.get("kind") not in FAULT_KINDS or not body.get("path"):
        return jsonify({"error": f"need a path and a kind among {list(FAULT_KINDS)}"}), 400
    state = _server().state
    with state.lock:
        state.faults[body["path"]] = {"path": body["path"], "kind": body["kind"],
                                      "count": int(body.get("count", 1)),
                                      "seconds": float(body.get("seconds") or 0),
                                      "msg": body.get("msg")}
        return jsonify(list(state.faults.values()))


@bp.delete("/faults")
def clear_faults():
    state = _server().state
    with state.lock:
        state.faults.clear()
    return jsonify([])


@bp.post("/rotate-key")
def rotate_key():
    """Replace a cert's key (same name, so same kid), or with ``new_name`` create a new
    cert, point the applications using the old one at it, and keep the old one in JWKS."""
    body = _json()
    state = _server().state
    with state.lock:
        cert = state.certs.get(body.get("cert", ""))
        if cert is None:
            return jsonify({"error": f"no cert {body.get('cert')}"}), 404
        new_name = body.get("new_name")
        if new_name:
            new_cert = {k: v for k, v in cert.items() if k not in ("privateKey", "certificate")}
            new_cert["name"] = new_name
            keys.replace_key_material(new_cert, state.state_dir)
            state.certs[new_name] = new_cert
            for app in state.applications.values():
                if app.get("cert") == cert["name"]:
                    app["cert"] = new_name
        else:
            keys.replace_key_material(cert, state.state_dir)
        body = jwks(list(state.certs.values()))
    return jsonify(body)


@bp.post("/sign")
def sign():
    """Sign arbitrary claims with a cert's key; ``register`` also stores an access-token row
    (for the application whose clientId is in ``aud``, else the first one, expiring at ``exp``)."""
    body = _json()
    state = _server().state
    with state.lock:
        cert = state.certs.get(body.get("cert") or "cert-storehouse")
        if cert is None:
            return jsonify({"error": "no such cert"}), 404
        claims = body.get("claims") or {}
        token = tokens.sign(claims, cert, body.get("header"))
        if body.get("register"):
            apps = list(state.applications.values())
            app = next((a for a in apps if a["clientId"] in (claims.get("aud") or [])), apps[0])
            user = state.user(claims.get("owner", ""), claims.get("name", "")) or \
                state.user_by_field(None, "id", claims.get("sub"))
            now = int(time.time())
            name = str(uuid.uuid4())
            state.tokens[name] = {
                "owner": "admin", "name": name, "createdTime": "", "application": app["name"],
                "organization": user["owner"] if user else "", "user": user["name"] if user else "",
                "code": "", "accessToken": token, "refreshToken": "",
                "expiresIn": int(claims.get("exp", now + 3600)) - now,
                "scope": claims.get("scope", ""), "tokenType": "Bearer", "codeChallenge": "",
                "codeIsUsed": True, "codeExpireIn": now,
                "_createdAt": now, "_isApp": user is None,
            }
    return jsonify({"token": token})


@bp.get("/transactions")
def list_transactions():
    state = _server().state
    with state.lock:
        return jsonify([copy.deepcopy(t) for t in state.transactions.values()])


@bp.get("/transactions-mode")
def get_transactions_mode():
    state = _server().state
    with state.lock:
        return jsonify({"mode": state.transactions_mode})


@bp.post("/transactions-mode")
def set_transactions_mode():
    """``{"mode": "current"|"legacy"}``: switch the transaction API's generation until
    the next reset (which restores the server's configured mode). Stored rows keep
    the shape they were written in."""
    mode = _json().get("mode")
    if mode not in TRANSACTIONS_MODES:
        return jsonify({"error": f"need a mode among {list(TRANSACTIONS_MODES)}"}), 400
    state = _server().state
    with state.lock:
        state.transactions_mode = mode
    return jsonify({"mode": mode})


@bp.get("/organizations")
def list_organizations():
    state = _server().state
    with state.lock:
        return jsonify([copy.deepcopy(o) for o in state.organizations.values()])


@bp.get("/webhook-deliveries")
def webhook_deliveries():
    state = _server().state
    with state.lock:
        return jsonify(copy.deepcopy(state.deliveries))


@bp.post("/reset")
def reset():
    """Back to the seed; keys are kept (reloaded from the state directory)."""
    _server().state.reset()
    return jsonify({"status": "ok"})
