"""Redirect-URI validation, as Casdoor HEAD (>= v2.389.0) does it for full-URL entries.

Used for ``redirect_uri`` at authorize time and for ``post_logout_redirect_uri``
at logout. The token endpoint never looks at ``redirect_uri``. Casdoor also
accepts schemeless, leading-dot and regular-expression entries in an
application's ``redirectUris``; no seed here uses them, so they are not matched.
"""
from urllib.parse import urlsplit

#: ``scheme://hostname`` prefixes Casdoor accepts for any application, any port and path.
ALWAYS_ALLOWED = ("http://localhost", "https://localhost", "http://127.0.0.1")


def _port(parts):
    try:
        return parts.port
    except ValueError:
        return None


def _matches_entry(candidate, parsed, entry):
    """The entry itself, or the same scheme, port and path on the entry's host or one of
    its subdomains (the query is not compared)."""
    if candidate == entry:
        return True
    target = urlsplit(entry)
    if not (parsed.hostname and target.scheme and target.hostname):
        return False
    host = parsed.hostname
    return (parsed.scheme == target.scheme and _port(parsed) == _port(target)
            and parsed.path == target.path
            and (host == target.hostname or host.endswith("." + target.hostname)))


def is_redirect_uri_valid(app, candidate):
    """True when ``candidate`` is acceptable for ``app`` (``IsRedirectUriValid``).

    Loopback origins are accepted first, whatever the application lists; that
    bypass is Casdoor's, and it is why a dev app can send users anywhere on
    localhost.
    """
    parsed = urlsplit(candidate)
    if parsed.scheme and parsed.hostname and f"{parsed.scheme}://{parsed.hostname}" in ALWAYS_ALLOWED:
        return True
    return any(entry and _matches_entry(candidate, parsed, entry)
               for entry in app.get("redirectUris") or [])
