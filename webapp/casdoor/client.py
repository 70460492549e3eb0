"""HTTP to Casdoor: discovery, keys and the REST API, with timeouts and clear errors.

Casdoor's REST endpoints answer HTTP 200 even for errors, with an envelope
``{"status": "error", "msg": ...}``; every call here checks ``status`` and
raises ``CasdoorError`` with Casdoor's message. A network failure or timeout
raises ``CasdoorUnavailable``, which names the endpoint. Application
credentials go in HTTP Basic, as Casdoor's Go SDK sends them.
"""
import logging
import threading
import time

import requests

from webapp import metrics
from webapp.casdoor.errors import CasdoorError, CasdoorRefused, CasdoorUnavailable, NotCasdoor
from webapp.casdoor.sessions import HostSession

log = logging.getLogger("webapp.casdoor")

#: How long discovery metadata is trusted before it is fetched again.
METADATA_TTL = 3600


def unavailable(settings, exc):
    """The CasdoorUnavailable for a ``requests`` failure, in words a person can use."""
    if isinstance(exc, requests.Timeout):
        return CasdoorUnavailable(settings.endpoint, f"no answer within {settings.timeout:g} s")
    if isinstance(exc, requests.ConnectionError):
        if "Connection aborted" in str(exc):
            # The request may have reached Casdoor: the connection closed before any answer.
            return CasdoorUnavailable(settings.endpoint, "the connection closed before an answer")
        return CasdoorUnavailable(settings.endpoint, "connection refused or host unreachable")
    return CasdoorUnavailable(settings.endpoint, type(exc).__name__)


class CasdoorClient:
    def __init__(self, settings, http=None):
        self.settings = settings
        self.http = http or HostSession()
        self._lock = threading.Lock()
        self._metadata = None
        self._metadata_at = 0.0
        self._jwks = None

    # -- transport ---------------------------------------------------------

    def _request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.settings.timeout)
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, **kwargs)
        except requests.RequestException as exc:
            metrics.casdoor_errors.labels(method).inc()
            raise unavailable(self.settings, exc) from exc
        finally:
            metrics.casdoor_latency.labels(method).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            metrics.casdoor_errors.labels(method).inc()
            raise CasdoorUnavailable(self.settings.endpoint, f"HTTP {response.status_code}")
        return response

    def _json(self, response, what, **loads_kwargs):
        try:
            return response.json(**loads_kwargs)
        except ValueError:
            raise CasdoorError(f"Casdoor answered {what} with something that is not JSON "
                               f"(HTTP {response.status_code}); check CASDOOR_ENDPOINT.") from None

    def _app_auth(self):
        return (self.settings.client_id, self.settings.client_secret)

    def call(self, method, path, *, what, params=None, json=None, parse_float=None):
        """Call a Casdoor REST endpoint with application credentials; return the envelope
        (a dict whose ``data``, ``data2`` ... hold the answer).

        :param what: what the call does, in words for error messages ("look up the user").
        :param parse_float: how JSON numbers with a fraction are read, e.g.
            ``decimal.Decimal`` so that money never passes through a float.
        :raises CasdoorRefused: Casdoor answered with an error envelope.
        :raises CasdoorError: the answer is not a Casdoor envelope.
        :raises CasdoorUnavailable: no usable answer (network, timeout, HTTP 5xx).
        """
        response = self._request(method, f"{self.settings.endpoint}{path}", params=params, json=json,
                                 auth=self._app_auth())
        body = self._json(response, what, **({"parse_float": parse_float} if parse_float else {}))
        if not isinstance(body, dict) or body.get("status") not in ("ok", "error"):
            raise CasdoorError(f"Casdoor refused to {what}: unexpected answer.")
        if body["status"] == "error":
            message = body.get("msg") or ""
            raise CasdoorRefused(f"Casdoor refused to {what}: {message or 'no reason given'}.", message)
        return body

    # -- discovery and keys ------------------------------------------------

    def metadata(self):
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_TTL:
                return self._metadata
        response = self._request("GET", self.settings.discovery_url)
        data = self._json(response, "the discovery request")
        if not isinstance(data, dict) or "issuer" not in data:
            raise CasdoorError(f"{self.settings.discovery_url} is not an OpenID discovery document; "
                               "check CASDOOR_ENDPOINT.")
        with self._lock:
            self._metadata, self._metadata_at = data, time.monotonic()
        return data

    def cached_metadata(self):
        """The discovery document if it was fetched already, else {} (never calls Casdoor)."""
        return self._metadata or {}

    def jwks(self, force=False):
        if self._jwks is not None and not force:
            return self._jwks
        uri = self.metadata().get("jwks_uri") or f"{self.settings.endpoint}/.well-known/jwks"
        data = self._json(self._request("GET", uri), "the key set request")
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise CasdoorError(f"{uri} did not return a JSON Web Key Set.")
        self._jwks = data
        return data

    def introspect(self, token):
        """True when Casdoor's introspection endpoint says ``token`` is active (RFC 7662).

        :raises CasdoorUnavailable: Casdoor did not answer (the request is refused
            rather than trusted blindly).
        """
        url = self.metadata().get("introspection_endpoint") or f"{self.settings.endpoint}/api/login/oauth/introspect"
        response = self._request("POST", url, data={"token": token, "token_type_hint": "access_token"},
                                 auth=self._app_auth())
        body = self._json(response, "the introspection request")
        return isinstance(body, dict) and body.get("active") is True

    # -- users -------------------------------------------------------------

    def get_user(self, *, user_id=None, name=None, owner=None):
        """The Casdoor user as a dict, or None when Casdoor has no such user.

        :raises NotCasdoor: the server has no ``/api/get-user`` (not a Casdoor).
        """
        owner = owner or self.settings.organization
        params = {"owner": owner, "userId": user_id} if user_id else {"id": f"{owner}/{name}"}
        response = self._request("GET", f"{self.settings.endpoint}/api/get-user", params=params,
                                 auth=self._app_auth())
        if response.status_code in (404, 405):
            raise NotCasdoor(f"{self.settings.endpoint} has no Casdoor user API (HTTP {response.status_code}).")
        try:
            body = response.json()
        except ValueError:
            raise NotCasdoor(f"{self.settings.endpoint}/api/get-user did not answer JSON.") from None
        if not isinstance(body, dict) or body.get("status") not in ("ok", "error"):
            raise NotCasdoor(f"{self.settings.endpoint}/api/get-user did not answer as Casdoor does.")
        if body["status"] == "error":
            message = body.get("msg") or ""
            raise CasdoorRefused(f"Casdoor refused to look up the user: {message or 'no reason given'}.", message)
        return body["data"]

    def get_users(self, *, page, page_size, owner=None):
        """One page (1-based) of the organization's users: ``(users, total)``.

        :raises CasdoorRefused, CasdoorError, CasdoorUnavailable: as ``call``.
        """
        body = self.call("GET", "/api/get-users", what="list the organization's users",
                         params={"owner": owner or self.settings.organization, "p": page, "pageSize": page_size})
        users = body.get("data") or []
        if not isinstance(users, list):
            raise CasdoorError("Casdoor answered the user list with something that is not a list.")
        total = body.get("data2")
        return users, (total if isinstance(total, int) else None)

    def userinfo(self, access_token):
        """The standard OpenID Connect userinfo claims for ``access_token`` ({} when unavailable).

        Casdoor answers HTTP 200 even for a bad token, so a claim set without
        ``sub`` counts as no answer.
        """
        url = self.metadata().get("userinfo_endpoint")
        if not url or not access_token:
            return {}
        response = self._request("GET", url, headers={"Authorization": f"Bearer {access_token}"})
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) and body.get("sub") else {}

    def set_homepage(self, casdoor_name, homepage, owner=None):
        """Set a user's Homepage at Casdoor (``columns=homepage``, nothing else is touched).

        :raises CasdoorError: the user does not exist, or Casdoor refused the update.
        """
        owner = owner or self.settings.organization
        user = self.get_user(name=casdoor_name, owner=owner)
        if user is None:
            raise CasdoorError(f"Casdoor has no user {owner}/{casdoor_name}.")
        user["homepage"] = homepage
        self.call("POST", "/api/update-user", params={"id": f"{owner}/{casdoor_name}", "columns": "homepage"},
                  json=user, what=f"update the Homepage of {owner}/{casdoor_name}")
        log.info("Set Casdoor Homepage of %s/%s to %r", owner, casdoor_name, homepage)
