"""Logging: named loggers per feature, a request id on every line; plain text or JSON.

Feature code logs through ``logging.getLogger("webapp.<feature>")``; this
module only installs the handler and the filter that stamps each record with
the id of the request it belongs to (``-`` outside a request).

``LOG_FORMAT=json`` writes every line of the process (the app's, the libraries',
gunicorn's through ``gunicorn.conf.py``, the worker's) as one JSON object, and
adds one line per answered request (``webapp.requests``: route template, status,
duration, user id). A line holds the message and those fields only: never a
header, a cookie, a query string or a request body, where credentials travel.
"""
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

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


#: Fields a record may carry into a JSON line (set with ``extra=``), besides the message.
JSON_FIELDS = ("request_id", "method", "route", "status", "duration_ms", "user_id", "job_id", "job_kind")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the known fields present."""

    def format(self, record):
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            line.update(_gunicorn_access(record.args))
            # Not gunicorn's request line: its query string may carry what must not be logged.
            line["message"] = f"{line['method']} {line['path']} {line['status']}"
        for name in JSON_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _gunicorn_access(atoms):
    """gunicorn's access-log atoms, without the query string, headers or client address."""
    fields = {"method": atoms.get("m"), "path": atoms.get("U"), "status": atoms.get("s"),
              "duration_ms": round(int(atoms.get("D") or 0) / 1000, 1)}
    request_id = atoms.get("{x-request-id}o")
    if request_id and request_id != "-":
        fields["request_id"] = request_id
    return fields


def _start_request_log():
    g.log_started = time.perf_counter()


def _log_request(response):
    """``LOG_FORMAT=json``: one line per answered request (the app's own access log)."""
    started = g.pop("log_started", None)
    if started is not None:
        rule = request.url_rule
        user = g.get("user")
        logging.getLogger("webapp.requests").info(
            "%s %s %s", request.method, rule.rule if rule else "<unmatched>", response.status_code,
            extra={"method": request.method, "route": rule.rule if rule else "<unmatched>",
                   "status": response.status_code, "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                   "user_id": getattr(user, "id", None)})
    return response


def json_handler():
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def init_logging(app):
    logger = logging.getLogger("webapp")
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = True  # lets pytest's caplog see our records
    if app.config.get("LOG_FORMAT") == "json":
        # Every logger of the process, libraries included, through one JSON handler on the root.
        root = logging.getLogger()
        root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
        root.addHandler(json_handler())
        if root.level > logging.INFO:
            root.setLevel(logging.INFO)
        logger.handlers = []
        logging.getLogger("webapp.requests").setLevel(logging.INFO)
        app.before_request(_start_request_log)
        app.after_request(_log_request)
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
        handler.addFilter(RequestIdFilter())
        # Replace, not add: create_app runs many times in tests.
        logger.handlers = [handler]
    app.before_request(assign_request_id)
    app.after_request(add_request_id_header)
