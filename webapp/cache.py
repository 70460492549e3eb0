"""Short-lived caches for the request hot path, in this process or shared through Redis.

Who is asking (the session behind a key, the user behind an id, the identity
behind a Bearer token) is read on every request but changes rarely. Caching it
for a few seconds takes the database off the hot path; the price is that a
change made elsewhere (a revoked session, a disabled user) takes effect within
``AUTH_CACHE_SECONDS`` on every worker. Changes made here delete their entries
at once, in this process and, with ``CACHE_URL=redis://…``, in every process
sharing that Redis, so revocation there is immediate everywhere.

Values must be JSON-serialisable (they may travel through Redis).
"""
import json
import logging
import threading

from webapp.core import clock
from webapp.metrics import cache_lookups

log = logging.getLogger("webapp.cache")


class MemoryCache:
    """A TTL cache in this process. Bounded: the oldest entries go first when full."""

    def __init__(self, namespace, ttl, max_entries=50_000):
        self.namespace = namespace
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key):
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires <= clock.monotonic():
                self._entries.pop(key, None)
                return None
            return value

    def set(self, key, value, ttl=None):
        ttl = self.ttl if ttl is None else min(ttl, self.ttl)
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = clock.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
                while len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (value, clock.monotonic() + ttl)

    def delete(self, key):
        with self._lock:
            self._entries.pop(key, None)

    def clear(self):
        with self._lock:
            self._entries.clear()


class RedisCache:
    """The same interface over Redis, shared by every worker and host.

    A Redis outage degrades to "no cache" (the database answers), never to an
    error page: the cache is an optimisation, not a source of truth.
    """

    def __init__(self, client, namespace, ttl):
        self.client = client
        self.namespace = namespace
        self.ttl = ttl

    def _key(self, key):
        return f"storehouse:{self.namespace}:{key}"

    def get(self, key):
        if self.ttl <= 0:
            return None
        try:
            raw = self.client.get(self._key(key))
        except Exception as exc:  # redis.RedisError and socket errors alike
            log.warning("Cache %s unavailable (%s); reading from the database", self.namespace, exc)
            return None
        return json.loads(raw) if raw is not None else None

    def set(self, key, value, ttl=None):
        ttl = self.ttl if ttl is None else min(ttl, self.ttl)
        if ttl <= 0:
            return
        try:
            self.client.set(self._key(key), json.dumps(value), px=max(1, int(ttl * 1000)))
        except Exception as exc:
            log.warning("Cache %s unavailable (%s)", self.namespace, exc)

    def delete(self, key):
        try:
            self.client.delete(self._key(key))
        except Exception as exc:
            # Revocation must not be silently lost: say so loudly; entries still
            # expire within the TTL.
            log.error("Could not delete %s from cache %s (%s); it expires within %ss",
                      key, self.namespace, exc, self.ttl)

    def clear(self):
        try:
            for key in self.client.scan_iter(self._key("*")):
                self.client.delete(key)
        except Exception as exc:
            log.warning("Cache %s unavailable (%s)", self.namespace, exc)


class CountedCache:
    """A cache whose lookups are counted as hits and misses (``storehouse_cache_lookups``)."""

    def __init__(self, inner):
        self.inner = inner
        self.namespace = inner.namespace
        self._hit = cache_lookups.labels(inner.namespace, "hit")
        self._miss = cache_lookups.labels(inner.namespace, "miss")

    def get(self, key):
        value = self.inner.get(key)
        (self._miss if value is None else self._hit).inc()
        return value

    def __getattr__(self, name):
        return getattr(self.inner, name)


def make_cache(app, namespace, ttl):
    """A cache for ``namespace`` according to ``CACHE_URL`` (``memory://`` or ``redis://…``)."""
    url = app.config["CACHE_URL"]
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        clients = app.extensions.setdefault("cache_redis_clients", {})
        if url not in clients:
            clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return CountedCache(RedisCache(clients[url], namespace, ttl))
    return CountedCache(MemoryCache(namespace, ttl))
