"""Objects built once per process (a loaded model, a tokenizer, an HTTP client).

gunicorn forks its workers from a parent, and a llama.cpp context or a
connection pool inherited across ``fork`` must not be used by two processes.
So every cache empties itself in a forked child (``os.register_at_fork``),
with fresh locks: a lock another thread of the parent held at the fork would
stay held forever in the child.

Values with a ``close`` hook are closed at interpreter exit, while the
libraries they need are still there (llama-cpp-python's own finaliser runs
too late and prints a traceback).
"""
import atexit
import os
import threading
import weakref

_caches = weakref.WeakSet()


class ProcessCache:
    """``get(key, build)``: the value built for ``key`` in this process, building it once.

    ``build`` runs under a per-key lock, so two threads asking for the same key
    at once build it once; a failed build raises and caches nothing, so the
    next call tries again.
    """

    def __init__(self, close=None):
        #: Called with each value at interpreter exit, if given.
        self._close = close
        self._reset()
        _caches.add(self)

    def _reset(self):
        self._guard = threading.Lock()
        self._values = {}
        self._building = {}

    def get(self, key, build):
        with self._guard:
            if key in self._values:
                return self._values[key]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._guard:
                self._values[key] = value
            return value

    def peek(self, key):
        """The value for ``key`` if this process has built it, else None (never builds)."""
        with self._guard:
            return self._values.get(key)

    def close_all(self):
        with self._guard:
            values, self._values = list(self._values.values()), {}
        if self._close is not None:
            for value in values:
                self._close(value)


def _empty_in_child():
    # The child runs one thread here, so no lock is needed (nor trustworthy).
    for cache in list(_caches):
        cache._reset()


def _close_all():
    for cache in list(_caches):
        cache.close_all()


os.register_at_fork(after_in_child=_empty_in_child)
atexit.register(_close_all)
