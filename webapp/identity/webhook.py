"""Casdoor's webhook: which people a record concerns, and applying what Casdoor says of them now.

Casdoor's webhooks are unsigned, so the payload is a hint, never the truth: it
tells which people to look at. Each is read again from Casdoor's API with the
application's credentials and what that answer says is applied. A forged or
stale payload can at most cause a re-read; a replay applies the same state
again, which changes nothing.

Whom a record concerns (``shared/casdoor-api.md`` §10): its ``user`` is the
caller, not necessarily the person changed (an administrator editing Alice is
a record of the administrator), so the person comes from the request Casdoor
recorded: ``id=<org>/<name>`` or ``userId`` in ``requestUri``, or the
``owner``/``name`` of the body in ``object``; without either, the caller edited
themselves. For ``logout`` and ``sso-logout`` the record's user is the person
who signed out: the only facts there are no API for, so they are taken from an
authenticated payload, bounded by its time (sessions opened later are kept).
"""
import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from webapp.core.bodies import InvalidFields
from webapp.core.clock import utcnow
from webapp.identity import service

log = logging.getLogger("webapp.identity")

#: Actions after which a person's record may differ: re-read them.
USER_ACTIONS = {"add-user", "update-user", "delete-user", "set-password", "new-user", "new-user-ldap",
                "new-user-syncer", "login", "signup", "unlink"}
#: Actions that sign a person out of Casdoor.
SIGN_OUT_ACTIONS = {"logout", "sso-logout"}
#: People re-read for one record at most (a body names one; the rest is noise).
MAX_PEOPLE = 3


def parse_payload(raw):
    """The record Casdoor sent (JSON, whatever the Content-Type said).

    :raises InvalidFields: not a JSON object with a text ``action`` (422, naming the field).
    """
    try:
        payload = json.loads(raw or b"")
    except (ValueError, RecursionError):
        raise InvalidFields({"body": "is not JSON; Casdoor sends its record as a JSON object"}) from None
    if not isinstance(payload, dict):
        raise InvalidFields({"body": "must be a JSON object (Casdoor's record)"})
    if not isinstance(payload.get("action"), str) or not payload["action"]:
        raise InvalidFields({"action": "is required: the Casdoor action the record is about"})
    return payload


def _text(value, limit=255):
    return value.strip()[:limit] if isinstance(value, str) else ""


def _object(payload):
    raw = payload.get("object")
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else None
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def people_named(payload, organization):
    """``[("name", owner, name) | ("id", owner, user_id)]`` the record concerns, at most MAX_PEOPLE."""
    record_org = _text(payload.get("organization")) or organization
    found = []

    def add(kind, owner, key):
        item = (kind, owner or record_org, key)
        if key and item not in found and len(found) < MAX_PEOPLE:
            found.append(item)

    if payload["action"] in SIGN_OUT_ACTIONS:
        add("name", record_org, _text(payload.get("user")))
        return found
    query = parse_qs(urlsplit(_text(payload.get("requestUri"), 2000)).query)
    for value in query.get("id", [])[:MAX_PEOPLE]:
        owner, _, name = value.partition("/")
        add("name", owner, name)
    for value in query.get("userId", [])[:1]:
        add("id", (query.get("owner") or [record_org])[0], value)
    body = _object(payload)
    if body is not None:
        add("name", _text(body.get("owner")), _text(body.get("name")))
    extended = payload.get("extendedUser")
    if isinstance(extended, dict):
        add("name", _text(extended.get("owner")), _text(extended.get("name")))
    if not found:
        add("name", record_org, _text(payload.get("user")))
    return found


def _created_at(payload):
    """The record's time (naive UTC), never later than now; now when it has none."""
    try:
        moment = datetime.fromisoformat(_text(payload.get("createdTime"), 64))
    except ValueError:
        return utcnow()
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return min(moment, utcnow())


def _succeeded(payload):
    """False when the record says Casdoor refused the call (nothing happened there)."""
    response = payload.get("response")
    if isinstance(response, str) and 'status:"error"' in response.replace(" ", ""):
        return False
    status = payload.get("statusCode")
    return not (isinstance(status, int) and status >= 400)


def handle(casdoor, payload):
    """Apply one webhook record; returns ``{"action", "people", "changed", "sessions_ended"}``.

    :raises CasdoorUnavailable, CasdoorError: Casdoor could not be read; nothing was
        applied (the caller rolls back; Casdoor retries the webhook).
    """
    action = payload["action"]
    settings = casdoor.settings
    result = {"action": action, "people": 0, "changed": [], "sessions_ended": 0}
    if action not in USER_ACTIONS | SIGN_OUT_ACTIONS or not _succeeded(payload):
        return result
    people = []
    for kind, owner, key in people_named(payload, settings.organization):
        if kind == "id":
            people += service.read_user_by_id(casdoor.api, owner, key)
        else:
            people += service.read_named_user(casdoor.api, owner, key)
    result["people"] = len(people)
    for user, record in people:
        changed = service.apply_casdoor_user(settings, user, record, source="webhook")
        if changed:
            result["changed"].append({"user": user.username, "fields": changed})
        if action in SIGN_OUT_ACTIONS:
            result["sessions_ended"] += service.end_casdoor_sessions(user, _created_at(payload), source="webhook")
    return result
