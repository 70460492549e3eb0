"""Absolute URLs the app hands out (to Casdoor, in emails, in billing records).

They are built from PUBLIC_URL when it is set, never from the request's Host
header, which the client chooses: a request sent with ``Host: evil.example``
must not make Storehouse tell Casdoor to send the user's code to evil.example.
Without PUBLIC_URL, the request's host is used, and TRUSTED_HOSTS (when set)
refuses requests for any other host.
"""
from flask import current_app, request, url_for


def public_origin():
    """``https://storehouse.example.com`` (PUBLIC_URL), else the request's own origin."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    return request.host_url.rstrip("/")


def external_url(endpoint, **values):
    """``url_for(endpoint, **values)`` as an absolute URL on the public origin."""
    return public_origin() + url_for(endpoint, **values)
