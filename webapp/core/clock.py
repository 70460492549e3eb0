"""The app's clock: wall time for rows, monotonic time for what expires in memory.

Everything that stamps a row (``utcnow``) or lets a cached value expire
(``monotonic``) asks this module, never ``datetime.now`` or ``time.monotonic``
directly, so a test can hold time still (a query count must not change because
a cache entry expired on a busy machine) or move it on (a period boundary, a
lease that lapses) without sleeping::

    with frozen() as clock:
        ...            # utcnow() and monotonic() do not move
        clock.advance(seconds=6)

Pure: no Flask, no database.
"""
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


class SystemClock:
    """Real time: naive UTC for rows (the columns are ``DateTime`` without zone)."""

    def now(self):
        return datetime.now(UTC).replace(tzinfo=None)

    def monotonic(self):
        return time.monotonic()


class FrozenClock:
    """Time that moves only when told to (``advance``); both readings move together."""

    def __init__(self, start=None):
        self._now = start or SystemClock().now()
        self._monotonic = time.monotonic()
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return self._now

    def monotonic(self):
        with self._lock:
            return self._monotonic

    def advance(self, **delta):
        """Move on by ``timedelta(**delta)``: ``clock.advance(seconds=6)``."""
        step = timedelta(**delta)
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()

    def set(self, when):
        """Jump to the naive-UTC datetime ``when`` (monotonic time moves by the same amount)."""
        with self._lock:
            self._monotonic += (when - self._now).total_seconds()
            self._now = when


_clock = SystemClock()


def utcnow():
    """The current time as a naive UTC ``datetime`` (what every timestamp column holds)."""
    return _clock.now()


def monotonic():
    """Seconds on a clock that never goes back (expiry of in-memory entries)."""
    return _clock.monotonic()


def epoch():
    """The current time in seconds since 1970 (what a token's ``exp`` and ``iat`` count)."""
    return _clock.now().replace(tzinfo=UTC).timestamp()


@contextmanager
def frozen(start=None):
    """Hold the process's clock still inside the block; yields the ``FrozenClock``."""
    global _clock
    previous, _clock = _clock, FrozenClock(start)
    try:
        yield _clock
    finally:
        _clock = previous
