"""Absolute URLs the app hands out (to Casdoor, in emails, in billing records).

They are built from PUBLIC_URL when it is set, never from the request's Host
header, which the client chooses: a request sent with ``Host: evil.example``
must not make Storehouse tell Casdoor to send the user's code to evil.example.

Without PUBLIC_URL the request's origin is used only when it cannot have been
forged to point elsewhere: the host is a loopback address (what ``make run``
serves), or TRUSTED_HOSTS is set (then Werkzeug already answered 400 to every
other host before a view ran). Any other host raises ``PublicUrlRequired``, so a
sign-in is refused with a message for the administrator instead of handing
Casdoor an address the client picked.
"""
import ipaddress

from flask import current_app, request, url_for

from webapp.core.errors import StorehouseError


class PublicUrlRequired(StorehouseError):
    """No trustworthy origin: PUBLIC_URL is unset and the request names a non-loopback host."""

    status_code = 400
    error = "public_url_required"

    def __init__(self, host):
        super().__init__(
            f"Storehouse cannot build its own address from the host '{host}' named by this request: "
            "the administrator must set PUBLIC_URL (e.g. https://storehouse.example.com) or "
            "TRUSTED_HOSTS (the host names people use) before single sign-on can start."
        )


def is_loopback_host(host):
    """True for ``localhost``, ``*.localhost``, 127.0.0.0/8 and ``::1`` (with or without a port)."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:5000
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:  # 127.0.0.1:5000, localhost:5000
        name = name.partition(":")[0]
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def public_origin():
    """``https://storehouse.example.com`` (PUBLIC_URL), else the request's own origin when trusted.

    :raises PublicUrlRequired: PUBLIC_URL and TRUSTED_HOSTS are unset and the
        request's host is not a loopback address.
    """
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    if not current_app.config.get("TRUSTED_HOSTS") and not is_loopback_host(request.host):
        raise PublicUrlRequired(request.host)
    return request.host_url.rstrip("/")


def external_url(endpoint, **values):
    """``url_for(endpoint, **values)`` as an absolute URL on the public origin.

    :raises PublicUrlRequired: see :func:`public_origin`.
    """
    return public_origin() + url_for(endpoint, **values)
