"""App-wide error handling: HTML pages, or JSON under /api/.

Domain errors of each feature subclass ``StorehouseError``; they carry the HTTP
status and a message a person can act on. Anything unexpected becomes a 500
page with the request id, never a stack trace, and the database session is
rolled back so a half-done change is not saved.
"""
import logging

from flask import g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.security import describe_size

log = logging.getLogger("webapp.errors")

#: code -> (error slug, message shown when the exception carries none of its own)
DEFAULT_MESSAGES = {
    400: ("bad_request", "The request could not be understood. Check the form and try again."),
    401: ("unauthorized", "Sign in to continue."),
    403: ("forbidden", "You do not have access to this page."),
    404: ("not_found", "There is nothing here. Check the address, or go back to your store."),
    405: ("method_not_allowed", "This address does not accept that kind of request."),
    409: ("conflict", "This conflicts with the current state. Reload and try again."),
    413: ("too_large", "What you sent is larger than this server accepts. Send less at a time."),
    422: ("invalid_fields", "Some fields are not valid. Check them and try again."),
    429: ("too_many_requests", "Too many attempts. Wait a minute, then try again."),
    500: ("internal_error", "Something went wrong on our side. Try again; if it keeps happening, "
          "give the request id below to your administrator."),
    503: ("service_unavailable", "A service Storehouse depends on is unavailable. Try again shortly."),
}


def wants_json():
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(code, message=None, error=None, *, template=None, headers=None, extra=None, **context):
    slug, default = DEFAULT_MESSAGES.get(code, ("error", "Something went wrong."))
    message = message or default
    error = error or slug
    from flask import globals as flask_globals

    if flask_globals.request_ctx.url_adapter is None:
        # The request was refused before Flask could route it (an untrusted Host):
        # no URLs can be built, so no page shell; plain words instead.
        from flask import make_response

        response = make_response(f"{message}\n", code)
        response.mimetype = "text/plain"
        return response
    if wants_json():
        response = jsonify(error=error, message=message, request_id=g.get("request_id"), **(extra or {}))
    else:
        response = render_template(
            template or "errors/error.html", code=code, error=error, message=message,
            request_id=g.get("request_id"), **context,
        )
    if isinstance(response, str):
        from flask import make_response

        response = make_response(response)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_http_exception(exc):
    if exc.code is None or exc.code < 400:
        return exc
    description = exc.description
    # werkzeug's stock descriptions are written for developers; ours for people.
    if type(exc).description == description:
        description = None
    headers = {}
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    if exc.code == 429:
        description = DEFAULT_MESSAGES[429][1]
    if exc.code == 413:
        return too_large_response()
    return error_response(exc.code, description, headers=headers)


def too_large_response():
    """413 naming the limit that applied to this request (MAX_CONTENT_LENGTH or the view's own)."""
    limit = request.max_content_length
    if not limit:
        return error_response(413)
    return error_response(
        413,
        f"What you sent is larger than this server accepts here: at most {describe_size(limit)} per request. "
        "Send less at a time, for example a shorter text.",
        extra={"limit_bytes": limit},
    )


def handle_csrf_error(exc):
    log.warning("CSRF check failed on %s %s: %s", request.method, request.path, exc.description)
    if request.path.startswith("/api/"):
        # An API client, not a person at a form: say what an API request must look like.
        return error_response(
            400,
            "Send the body as JSON with Content-Type: application/json, or authenticate with an "
            "Authorization header ('Token <key>' from /api/v1/auth/login/, or 'Bearer <Casdoor token>'). "
            "Anything else sent with a browser's session cookie needs its CSRF token in an X-CSRFToken header.",
            "csrf_failed",
        )
    return error_response(
        400,
        "The form expired or was sent from somewhere else (missing or invalid CSRF token). "
        "Reload the page and submit it again.",
        "csrf_failed",
    )


def handle_domain_error(exc):
    db.session.rollback()
    return error_response(exc.status_code, exc.message, exc.error, extra=exc.payload())


def handle_unexpected(exc):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    try:
        db.session.rollback()
    except Exception:  # the database itself may be what failed
        log.warning("Rollback after the error failed too")
    # Render as for a visitor: the page shell must not need the database
    # (the store selector, the admin links) when the database is what failed.
    g.user = None
    return error_response(500)


DATABASE_DOWN = ("Storehouse cannot reach its database right now. Try again in a minute; if it keeps "
                 "happening, give the request id below to your administrator.")


def handle_database_down(exc):
    """The database refused or dropped the connection: a 503 saying so, rendered without it."""
    log.error("Database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
    try:
        db.session.rollback()
    except Exception:
        pass
    g.user = None
    return error_response(503, DATABASE_DOWN, "database_unavailable")


BUSY = ("Storehouse is busy right now: every database connection of this server is in use. "
        "Try again in a few seconds.")
#: Seconds a client is asked to wait after a 503 "busy".
BUSY_RETRY_AFTER = 5


def handle_pool_exhausted(exc):
    """Every pooled connection stayed taken for DATABASE_POOL_TIMEOUT: 503 "busy", with Retry-After.

    Not a fault of the request nor a crash: the server is saturated, and a
    load balancer or client should retry (see ``webapp.database.pool_options``).
    """
    log.warning("Connection pool exhausted on %s %s: %s", request.method, request.path, exc)
    try:
        db.session.rollback()
    except Exception:
        pass
    g.user = None
    return error_response(503, BUSY, "busy", headers={"Retry-After": str(BUSY_RETRY_AFTER)})


def init_app(app):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    # Registered in tests too: a saturated pool is an expected condition, not a bug to surface.
    app.register_error_handler(PoolTimeout, handle_pool_exhausted)
    if not app.testing:
        app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StorehouseError, handle_domain_error)
    if not app.testing:
        # In tests an unexpected exception should fail the test loudly.
        app.register_error_handler(Exception, handle_unexpected)
