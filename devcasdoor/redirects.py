"""Redirect-URI validation, as Casdoor HEAD (>= v2.389.0) does it.

Used for ``redirect_uri`` at authorize time and for ``post_logout_redirect_uri``
at logout. The token endpoint never looks at ``redirect_uri``.
"""
import re
from urllib.parse import urlsplit

#: ``scheme://hostname`` prefixes Casdoor accepts for any application, any port and path.
ALWAYS_ALLOWED = ("http://localhost", "https://localhost", "http://127.0.0.1",
                  "http://casdoor-authenticator")


def _is_same_or_subdomain(host, target):
    return host == target or host.endswith("." + target)


def _port(parts):
    try:
        return parts.port
    except ValueError:
        return None


def _matches_entry(candidate, parsed, entry):
    if candidate == entry:
        return True
    if not parsed.hostname:
        return False
    target = urlsplit(entry)
    if target.scheme and target.hostname:
        return (parsed.scheme == target.scheme and _port(parsed) == _port(target)
                and parsed.path == target.path
                and _is_same_or_subdomain(parsed.hostname, target.hostname))
    schemeless = urlsplit("https://" + entry)
    if schemeless.hostname and not entry.startswith("^"):
        if parsed.scheme not in ("http", "https"):
            return False
        if entry.startswith("."):
            host_ok = parsed.hostname.endswith(entry.split("/", 1)[0])
        else:
            host_ok = _is_same_or_subdomain(parsed.hostname, schemeless.hostname)
        path_ok = schemeless.path in ("", "/") or parsed.path == schemeless.path
        return host_ok and path_ok
    try:
        return re.fullmatch(f"(?:{entry})", candidate) is not None
    except re.error:
        return False


def is_redirect_uri_valid(app, candidate):
    """True when ``candidate`` is acceptable for ``app`` (``IsRedirectUriValid``).

    Loopback origins are accepted first, whatever the application lists; that
    bypass is Casdoor's, and it is why a dev app can send users anywhere on
    localhost.
    """
    parsed = urlsplit(candidate)
    if parsed.scheme and parsed.hostname:
        if f"{parsed.scheme}://{parsed.hostname}" in ALWAYS_ALLOWED:
            return True
        if parsed.hostname.endswith(".chromiumapp.org"):
            return True
    return any(entry and _matches_entry(candidate, parsed, entry)
               for entry in app.get("redirectUris") or [])
