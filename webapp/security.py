"""CSRF enforcement and safe redirect targets."""
from urllib.parse import urlsplit

from flask import request, url_for

from webapp.extensions import csrf

_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def uses_header_credentials():
    """True when the caller authenticates with ``Authorization: Token|Bearer``.

    Such requests carry no ambient credential a third-party page could ride
    on (browsers never add that header by themselves), so CSRF does not apply
    to them. Everything else (cookie sessions, anonymous form posts) is checked.
    """
    scheme = request.headers.get("Authorization", "").split(" ", 1)[0].lower()
    return scheme in {"token", "bearer"}


def check_csrf():
    """before_request: every unsafe request without header credentials needs a CSRF token.

    The token comes from the form field ``csrf_token`` or the ``X-CSRFToken``
    header (fetch calls); JSON bodies under /api/ are exempt (see is_api_json). A missing or wrong token raises CSRFError -> 400.
    """
    if request.method in _UNSAFE_METHODS and not uses_header_credentials() and not is_api_json():
        csrf.protect()


def is_api_json():
    """A JSON body sent to the API.

    A third-party page cannot send ``Content-Type: application/json`` without
    a CORS preflight, which Storehouse never grants, so such requests cannot be
    forged cross-site. Forms (and JSON-less fetches such as DELETE) are checked.
    """
    return request.path.startswith("/api/") and request.is_json


def is_safe_next_url(target):
    """Only same-site relative paths are allowed as ``next`` targets.

    Rejected: absolute URLs and any scheme (``javascript:``), scheme-relative
    ``//host``, backslashes (browsers treat ``/\\host`` as ``//host``), control
    characters, and anything that does not start with a single ``/``.
    """
    if not target or not isinstance(target, str):
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    if "\\" in target or not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next_url(target, default_endpoint="main.index"):
    return target if is_safe_next_url(target) else url_for(default_endpoint)


def init_app(app):
    app.before_request(check_csrf)
