"""Account and user endpoints: userinfo, get-account, get-user(s), update-user, delete-user."""
import copy
import json

from flask import Blueprint, current_app, g, request

from . import envelope, tokens
from .callers import unauthorized
from .routes_wellknown import current_origins
from .users import FORBIDDEN_NAME_CHARS, apply_update, mask_user

bp = Blueprint("users", __name__)


def _state():
    return current_app.extensions["devcasdoor"].state


@bp.get("/api/userinfo")
def userinfo():
    """Raw ``Userinfo`` JSON, fields gated by substring tests on the token's scope.

    ``email_verified`` is always true here, whatever the user says; there is no
    ``homepage``. Without a caller it is the "Please login first" envelope.
    """
    caller = g.caller
    if caller.is_anonymous:
        return envelope.error("Please login first", "Please login first")
    _, backend = current_origins()
    scope = caller.token["scope"] if caller.token else ""
    aud = caller.token and caller.app and caller.app["clientId"] or ""
    user = caller.user
    info = {"sub": user["id"] if user else caller.subject, "iss": backend, "aud": aud}
    if user is None:
        return envelope.raw(info)
    whitelist = (caller.app or {}).get("tokenFields") or []

    def allowed(field):
        return not whitelist or field in whitelist

    if "profile" in scope:
        for key, field, value in (("preferred_username", "Name", user["name"]),
                                  ("name", "DisplayName", user["displayName"]),
                                  ("picture", "Avatar", user["avatar"]),
                                  ("groups", "Groups", user.get("groups") or []),
                                  ("roles", "Roles", [r.get("name") for r in user.get("roles") or []]),
                                  ("permissions", "Permissions",
                                   [p.get("name") for p in user.get("permissions") or []]),
                                  ("real_name", "RealName", user.get("realName")),
                                  ("is_verified", "IsVerified", user.get("isVerified"))):
            if value and allowed(field):
                info[key] = value
    if "email" in scope and allowed("Email") and user["email"]:
        info["email"] = user["email"]
        info["email_verified"] = True
    if "address" in scope and allowed("Location") and user.get("location"):
        info["address"] = user["location"]
    if "phone" in scope and allowed("Phone") and user.get("phone"):
        info["phone"] = user["phone"]
    return envelope.raw(info)


@bp.get("/api/get-account")
def get_account():
    """The caller's masked user; ``data.accessToken`` is a freshly minted token for
    bearer callers (one new token row per call, as in Casdoor)."""
    caller = g.caller
    state = _state()
    if caller.user is None:
        return envelope.error("Please login first")
    with state.lock:
        user = mask_user(caller.user)
        app = caller.app or next((a for a in state.applications.values()
                                  if a["organization"] == caller.user["owner"]), None)
        if app is not None:
            row = tokens.mint_token_row(state, app, caller.user, issuer=current_origins()[1],
                                        scope=caller.token["scope"] if caller.token else "")
            user["accessToken"] = row["accessToken"]
        org = copy.deepcopy(state.organizations.get(caller.user["owner"]))
    return envelope.ok(user, org, sub=caller.user["id"], name=caller.user["name"])


def _find_user(state, args):
    user_id = args.get("id", "")
    if user_id:
        owner, _, name = user_id.partition("/")
        return state.user(owner, name)
    owner = args.get("owner") or None
    for param, field in (("email", "email"), ("phone", "phone"), ("userId", "id")):
        if args.get(param):
            return state.user_by_field(owner, field, args[param])
    return None


@bp.get("/api/get-user")
def get_user():
    """One user; a missing user is ``status: ok`` with ``data: null``."""
    state = _state()
    with state.lock:
        user = _find_user(state, request.args)
        return envelope.ok(mask_user(user) if user else None)


@bp.get("/api/get-users")
def get_users():
    caller = g.caller
    owner = request.args.get("owner", "")
    if not caller.is_admin_of(owner):
        return unauthorized()
    state = _state()
    with state.lock:
        users = [mask_user(u) for u in state.users.values() if u["owner"] == owner]
    page, size = request.args.get("p"), request.args.get("pageSize")
    if page and size:
        start = (int(page) - 1) * int(size)
        return envelope.ok(users[start:start + int(size)], len(users))
    return envelope.ok(users)


@bp.get("/api/get-organization")
def get_organization():
    state = _state()
    owner, _, name = request.args.get("id", "").partition("/")
    with state.lock:
        org = copy.deepcopy(state.organizations.get(name))
    return envelope.ok(org)


def parse_json_body():
    """The request body as JSON whatever the Content-Type (the Python SDK sends none)."""
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def name_is_invalid(body):
    """Casdoor's FieldValidationFilter for add-*/update-* bodies."""
    name = body.get("name")
    return isinstance(name, str) and any(c in name for c in FORBIDDEN_NAME_CHARS)


NAME_ERROR = f"The name field should not contain any of these characters: {FORBIDDEN_NAME_CHARS}"


@bp.post("/api/update-user")
def update_user():
    """Update a user; ``columns`` merges, no columns overwrites the default column set."""
    caller = g.caller
    state = _state()
    body = parse_json_body()
    if body is None:
        return envelope.error("invalid JSON body")
    if name_is_invalid(body):
        return envelope.filter_error(NAME_ERROR)
    with state.lock:
        user_id = request.args.get("id", "")
        if user_id:
            owner, _, name = user_id.partition("/")
            user = state.user(owner, name)
        elif request.args.get("userId"):
            owner = request.args.get("owner", "")
            user = state.user_by_field(owner, "id", request.args["userId"])
        else:
            user = caller.user
            owner = user["owner"] if user else ""
        is_self = caller.user is not None and user is caller.user
        if not (caller.is_admin_of(owner) or is_self):
            return unauthorized()
        if user is None:
            return envelope.error(f"The user: {user_id} doesn't exist")
        if body.get("owner") and body["owner"] != user["owner"] and not caller.is_global_admin():
            return envelope.error("Only global administrators can change the user's owner")
        columns = [c for c in request.args.get("columns", "").split(",") if c]
        old_key = (user["owner"], user["name"])
        old_balance = user["balance"]
        changed = apply_update(user, body, columns, caller.is_admin_of(owner))
        new_key = (user["owner"], user["name"])
        if new_key != old_key:
            state.users.pop(old_key, None)
            state.users[new_key] = user
        org = state.organizations.get(user["owner"])
        if org is not None and user["balance"] != old_balance:
            org["userBalance"] = round(org["userBalance"] + user["balance"] - old_balance, 8)
    return envelope.ok("Affected" if changed else "Unaffected")


@bp.post("/api/delete-user")
def delete_user():
    """Delete a user: the body is the User JSON (``owner`` and ``name`` are read); the caller must be
    an administrator of its organization. Recorded, so a ``delete-user`` webhook follows."""
    caller = g.caller
    body = parse_json_body()
    if body is None:
        return envelope.error("invalid JSON body")
    owner, name = str(body.get("owner") or ""), str(body.get("name") or "")
    if not caller.is_admin_of(owner):
        return unauthorized()
    state = _state()
    with state.lock:
        user = state.users.pop((owner, name), None)
        organization = state.organizations.get(owner)
        if user is not None and organization is not None:
            organization["userBalance"] = round(organization["userBalance"] - user["balance"], 8)
    return envelope.ok("Affected" if user is not None else "Unaffected")
