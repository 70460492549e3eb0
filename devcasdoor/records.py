"""Audit records and the webhook events they trigger.

Casdoor writes a ``Record`` after each routed request and hands it to the
webhooks whose ``events`` list the record's action (the path minus ``/api/``).
With the default ``logPostOnly`` only POSTs count, plus GET logout/sso-logout.
Records of application callers (organization ``app``) are dropped, which is why
calls made with client credentials never trigger a webhook.
"""
import copy
import json
import time
import uuid
from urllib.parse import parse_qsl, urlencode

from flask import g, request

from .state import now_rfc3339
from .users import mask_user

#: Query parameters Casdoor strips from ``requestUri`` before recording it.
_SECRET_QUERY_KEYS = {"accessToken", "access_token", "id_token_hint"}


def _masked_body(raw):
    """The body as recorded: a JSON object's ``password`` masked, anything else as sent.

    Form bodies (the OAuth and logout endpoints take forms) arrive here empty:
    Flask has parsed, and so consumed, them by the time a request is recorded.
    """
    if not raw:
        return ""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(body, dict) and "password" in body:
        body["password"] = "***"
        return json.dumps(body, separators=(",", ":"))
    return raw


def _request_uri():
    query = [(k, v) for k, v in parse_qsl(request.query_string.decode(), keep_blank_values=True)
             if k not in _SECRET_QUERY_KEYS]
    return request.path + ("?" + urlencode(query) if query else "")


def should_record(action, method):
    return method == "POST" or action in ("logout", "sso-logout")


def build_record(action, organization, user, status, status_code, body_text=None):
    """A ``Record`` as Casdoor puts it into a webhook payload (``id`` is still 0)."""
    return {
        "id": 0,
        "owner": organization,
        "name": str(uuid.uuid4()),
        "createdTime": now_rfc3339(),
        "organization": organization,
        "clientIp": request.remote_addr or "",
        "user": user,
        "method": request.method,
        "requestUri": _request_uri(),
        "action": action,
        "language": (request.headers.get("Accept-Language") or "en")[:2],
        "object": _masked_body(body_text if body_text is not None
                               else request.get_data(as_text=True)),
        "response": f'{{status:"{status}", msg:""}}',
        "statusCode": status_code,
        "detail": "",
        "isTriggered": False,
    }


def _extended_user(state, webhook, organization, username):
    user = state.user(organization, username)
    if user is None:
        return None
    if webhook.get("tokenFields"):
        return {f[:1].lower() + f[1:]: copy.deepcopy(user.get(f[:1].lower() + f[1:]))
                for f in webhook["tokenFields"]}
    if webhook.get("isUserExtended"):
        return mask_user(user)
    return None


def _filtered_object(webhook, text):
    fields = webhook.get("objectFields") or []
    if not fields or "All" in fields or not text:
        return text
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if not isinstance(body, dict):
        return text
    return json.dumps({k: v for k, v in body.items() if k in fields}, separators=(",", ":"))


def enqueue_webhooks(state, record):
    """Queue one ``WebhookEvent`` per matching webhook. The caller need not hold the lock."""
    with state.lock:
        for webhook in state.webhooks:
            if not webhook.get("isEnabled", True):
                continue
            if record["action"] not in (webhook.get("events") or []):
                continue
            if webhook.get("singleOrgOnly") and webhook.get("organization") != record["organization"]:
                continue
            payload = dict(record)
            payload["object"] = _filtered_object(webhook, record["object"])
            payload["extendedUser"] = _extended_user(state, webhook, record["organization"], record["user"])
            state.webhook_events.append({
                "name": str(uuid.uuid4()), "webhook": webhook["name"], "payload": payload,
                "status": "pending", "attempts": 0, "nextTryAt": time.time(),
                "createdTime": now_rfc3339(), "lastError": "",
            })


def record_request(state, response):
    """``after_request`` hook for ``/api/`` paths: record and queue webhooks."""
    action = request.path[len("/api/"):]
    if not should_record(action, request.method):
        return response
    caller = getattr(g, "caller", None)
    organization, user = getattr(g, "record_user", (None, None))
    if organization is None:
        if caller is not None and caller.subject:
            organization, user = caller.subject.split("/", 1)
        else:
            organization, user = "", ""
    if organization == "app":
        return response
    status = "ok"
    try:
        body = json.loads(response.get_data(as_text=True))
        if isinstance(body, dict) and body.get("status") == "error":
            status = "error"
    except ValueError:
        pass
    record = build_record(action, organization, user, status, response.status_code)
    enqueue_webhooks(state, record)
    return response
