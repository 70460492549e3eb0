"""The HTTP session Casdoor is called through: keep-alive, the environment read once per host.

``requests`` reads the proxy and CA-bundle variables on every request
(``Session.merge_environment_settings``: ``os.environ`` walked for ``*_proxy``, then
``no_proxy`` matched against the host). With a process environment of a hundred
variables that cost more CPU than the rest of the request: profiled in a charge
delivery worker, half of each ``add-transaction`` call's own work. What it finds
depends only on the URL's scheme and host, and a running process's environment does
not change, so :class:`HostSession` keeps the answer per scheme and host.
"""
from urllib.parse import urlsplit

import requests


class HostSession(requests.Session):
    """A ``requests.Session`` that reads the proxy and CA-bundle environment once per
    scheme and host (not on every request); thread-safe like the Session itself.

    Requests that pass their own ``proxies``, ``stream``, ``verify`` or ``cert`` are
    merged by ``requests`` as usual, and so is everything when ``trust_env`` is False.
    """

    def __init__(self):
        super().__init__()
        self._environment = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env or proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environment.get(key)
        if found is None:
            # Races are harmless: two threads compute the same answer.
            found = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[key] = found
        return {**found, "proxies": dict(found["proxies"])}
