"""CSRF enforcement, request-size limits, security headers and safe redirect targets."""
from urllib.parse import urlsplit

from flask import current_app, g, request, url_for

from webapp.extensions import csrf

_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# --- CSRF ------------------------------------------------------------------------------

def uses_header_credentials():
    """True when the caller authenticates with ``Authorization: Token|Bearer``.

    Such requests carry no ambient credential a third-party page could ride
    on (browsers never add that header by themselves), so CSRF does not apply
    to them. Everything else (cookie sessions, anonymous form posts) is checked.
    """
    scheme = request.headers.get("Authorization", "").split(" ", 1)[0].lower()
    return scheme in {"token", "bearer"}


def authenticates_itself(view):
    """View decorator: the view authenticates its caller itself (a shared secret, a signed token).

    Such endpoints are called server to server (Casdoor's webhook, an identity
    provider's back-channel logout): no browser session rides on them, so no
    CSRF token applies, and their ``Authorization`` header is theirs to read
    (it is not a Storehouse credential the sign-in layer should verify).
    """
    view.authenticates_itself = True
    return view


def view_authenticates_itself():
    """True when the matched view is marked with ``authenticates_itself``."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "authenticates_itself", False))


def check_csrf():
    """before_request: every unsafe request without header credentials needs a CSRF token.

    The token comes from the form field ``csrf_token`` or the ``X-CSRFToken``
    header (fetch calls); JSON bodies under /api/ are exempt (see is_api_json).
    A missing or wrong token raises CSRFError -> 400 (``webapp.errors`` words it
    for API callers and for people). A request that matched no route (or not
    with this method) is left alone: it reaches no view, and its honest answer
    is the 404 or 405 routing already decided, not "the form expired".
    """
    if request.routing_exception is not None or view_authenticates_itself():
        return
    if request.method in _UNSAFE_METHODS and not uses_header_credentials() and not is_api_json():
        csrf.protect()


def is_api_json():
    """A JSON body sent to the API.

    A third-party page cannot send ``Content-Type: application/json`` without
    a CORS preflight, which Storehouse never grants, so such requests cannot be
    forged cross-site. Forms (and JSON-less fetches such as DELETE) are checked.
    """
    return request.path.startswith("/api/") and request.is_json


# --- request size ------------------------------------------------------------------------

def body_limit(max_bytes, *, form_memory=None):
    """View decorator: this view accepts bodies up to ``max_bytes`` (instead of MAX_CONTENT_LENGTH).

    The hook for routes that take more than the app-wide default, such as a
    knowledge upload::

        @bp.post("/files/")
        @body_limit(200 * 1024 * 1024, form_memory=1024 * 1024)
        @login_required
        def upload_file(): ...

    The limit is applied by ``apply_body_limit`` before any ``before_request``
    reads the body (the CSRF check parses forms), which setting
    ``request.max_content_length`` inside the view would be too late for.
    Put it directly under the route decorator; ``functools.wraps`` in the
    decorators below it carries the attribute up anyway.

    :param max_bytes: a number, or a function of the app returning one (a limit
        that follows the app's config, such as ``KNOWLEDGE_MAX_FILE_MB``).
    :param form_memory: the largest non-file field of a multipart form
        (``request.max_form_memory_size``); unchanged when None.
    """
    def decorator(view):
        view.max_content_length = max_bytes
        if form_memory is not None:
            view.max_form_memory_size = form_memory
        return view

    return decorator


def apply_body_limit():
    """before_request (registered before ``check_csrf``): the matched view's ``body_limit``."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return
    limit = getattr(view, "max_content_length", None)
    if callable(limit):
        limit = limit(current_app)
    if limit is not None:
        request.max_content_length = limit
    if getattr(view, "max_form_memory_size", None) is not None:
        request.max_form_memory_size = view.max_form_memory_size


def describe_size(size):
    """``2 MB``, ``500 KB``, ``300 bytes`` (binary units, as the limits are set)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


# --- security headers ------------------------------------------------------------------

def _origin(url):
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def casdoor_origins():
    """The origins a form of ours may end up at: Casdoor's sign-in and sign-out.

    "Link Casdoor" and "Sign out" are form POSTs answered with a redirect to
    Casdoor, and browsers (Chrome) apply ``form-action`` to that redirect too.
    The configured endpoint, plus the endpoints discovery announced when it was
    fetched already (Casdoor's public ``origin`` may differ from the address
    Storehouse reaches it by). Empty in shadow mode.
    """
    casdoor = current_app.extensions.get("casdoor")
    if casdoor is None:
        return []
    metadata = casdoor.api.cached_metadata()
    urls = [casdoor.settings.endpoint, metadata.get("authorization_endpoint"), metadata.get("end_session_endpoint")]
    origins = []
    for origin in map(_origin, urls):
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def content_security_policy():
    """CONTENT_SECURITY_POLICY with Casdoor's origins added to its ``form-action`` (empty: no header)."""
    policy = current_app.config["CONTENT_SECURITY_POLICY"].strip()
    origins = casdoor_origins()
    if not policy or not origins:
        return policy
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    for index, directive in enumerate(directives):
        name, *sources = directive.split()
        if name.lower() == "form-action" and "*" not in sources:
            directives[index] = " ".join([name, *sources, *(o for o in origins if o not in sources)])
    return "; ".join(directives)


def is_private_response():
    """Pages of signed-in users and every API answer: never kept by a browser or proxy cache.

    Static files stay cacheable: they are the same for everybody.
    """
    if request.endpoint == "static":
        return False
    return request.path.startswith("/api/") or g.get("user") is not None


def set_security_headers(response):
    """after_request: headers every answer carries (a view may set its own first)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # frame-ancestors in the CSP is the modern form; X-Frame-Options for browsers without it.
    headers.setdefault("X-Frame-Options", "DENY")
    policy = content_security_policy()
    if policy:
        headers.setdefault("Content-Security-Policy", policy)
    if is_private_response():
        headers["Cache-Control"] = "no-store"
    return response


# --- redirects --------------------------------------------------------------------------

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
    app.before_request(apply_body_limit)
    app.before_request(check_csrf)
    app.after_request(set_security_headers)
