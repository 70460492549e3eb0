"""Backend and frontend origins, computed the way Casdoor does (``getOriginFromHost``).

The backend origin is the issuer: it goes into every token's ``iss`` and into
discovery. Without a configured ``origin`` it is guessed from the ``Host``
header: a host without a dot, or an IP address, gets ``http://``; any dotted
name gets ``https://`` even when served over plain HTTP. ``X-Forwarded-*``
headers are deliberately ignored, as Casdoor ignores them.
"""
import ipaddress


def _hostname(host):
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host


def _is_ip(hostname):
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def origins_for_host(host, origin=None, origin_frontend=None):
    """Return ``(frontend, backend)`` origins for a request's ``Host``.

    :param origin: configured origin; when set it is both origins.
    :param origin_frontend: configured frontend origin; overrides the frontend only.
    """
    if origin:
        frontend = backend = origin.rstrip("/")
    else:
        scheme = "https://"
        if "." not in host or _is_ip(_hostname(host)):
            scheme = "http://"
        frontend = backend = scheme + host
    if origin_frontend:
        frontend = origin_frontend.rstrip("/")
    return frontend, backend
