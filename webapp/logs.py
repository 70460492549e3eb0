"""Logging: named loggers per feature, a request id on every line.

Feature code logs through ``logging.getLogger("webapp.<feature>")``; this
module only installs the handler and the filter that stamps each record with
the id of the request it belongs to (``-`` outside a request).
"""
import logging
import re
import uuid

from flask import g, has_request_context, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{6,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def assign_request_id():
    """Take a sane ``X-Request-ID`` from a proxy, else make one."""
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex[:16]


def add_request_id_header(response):
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    return response


def init_logging(app):
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("webapp")
    # Replace, not add: create_app runs many times in tests.
    logger.handlers = [handler]
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = True  # lets pytest's caplog see our records
    app.before_request(assign_request_id)
    app.after_request(add_request_id_header)
