"""Casdoor's webhook and OpenID Connect back-channel logout: server-to-server endpoints.

Both authenticate their caller themselves (a shared secret; a signed token)
and carry no browser session, so neither CSRF nor the sign-in layer applies.
"""
import hmac
import logging

from flask import abort, current_app, jsonify, request

from webapp.audit import record_event, record_event_now
from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import TokenVerificationError
from webapp.extensions import db
from webapp.identity import backchannel, webhook
from webapp.security import authenticates_itself, body_limit

log = logging.getLogger("webapp.identity")


def _webhook_secret_matches():
    """Constant-time check of ``Authorization: Bearer <CASDOOR_WEBHOOK_SECRET>``."""
    secret = current_app.config["CASDOOR_WEBHOOK_SECRET"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    return hmac.compare_digest(given.strip().encode(), secret.encode())


@body_limit(lambda app: app.config["CASDOOR_WEBHOOK_MAX_BYTES"])
@authenticates_itself
def casdoor_webhook():
    """``POST /api/v1/casdoor/webhook``: a Casdoor record names people to read again.

    404 without CASDOOR_WEBHOOK_SECRET (or without Casdoor); 401 for a missing or
    wrong secret, before the body is read; 413 past CASDOOR_WEBHOOK_MAX_BYTES; 422
    for a body that is not Casdoor's record; 503 when Casdoor cannot be read back
    (nothing applied; Casdoor retries). Commits what the re-read applied.
    """
    casdoor = get_casdoor()
    if not current_app.config["CASDOOR_WEBHOOK_SECRET"] or casdoor is None:
        abort(404)
    if not _webhook_secret_matches():
        log.warning("Refused a Casdoor webhook from %s: missing or wrong secret", request.remote_addr)
        record_event_now("webhook-refused", source="webhook", reason="missing or wrong secret")
        return jsonify(error="webhook_unauthorized",
                       message="Send the webhook secret as 'Authorization: Bearer <CASDOOR_WEBHOOK_SECRET>' "
                               "(a custom header of the webhook in Casdoor)."), 401
    payload = webhook.parse_payload(request.get_data(cache=False))
    result = webhook.handle(casdoor, payload)
    record_event("webhook-received", source="webhook", action=result["action"][:100], people=result["people"],
                 changed=len(result["changed"]))
    db.session.commit()
    log.info("Casdoor webhook %s: %d person(s) read, %d changed, %d session(s) ended", result["action"],
             result["people"], len(result["changed"]), result["sessions_ended"])
    return jsonify(status="ok", **result)


@authenticates_itself
def backchannel_logout():
    """``POST /auth/oidc/backchannel-logout`` (form ``logout_token``): 200 when accepted; 400
    ``invalid_request`` with the reason otherwise (nothing changes); 404 without Casdoor."""
    casdoor = get_casdoor()
    if casdoor is None:
        abort(404)
    token = request.form.get("logout_token", "")
    try:
        ended = backchannel.accept_logout_token(casdoor, token)
    except TokenVerificationError as exc:
        db.session.rollback()
        log.warning("Refused a back-channel logout token: %s", exc.reason)
        response = jsonify(error="invalid_request", error_description=f"logout_token refused: {exc.reason}")
        response.status_code = 400
    else:
        db.session.commit()
        response = jsonify(status="ok", sessions_ended=ended)
    response.headers["Cache-Control"] = "no-store"
    return response
