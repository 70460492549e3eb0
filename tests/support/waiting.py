"""Waiting for what another thread, process, server or page does: a poll with a deadline."""
import time


def wait_until(condition, timeout=30.0, interval=0.05, message=None):
    """Call ``condition()`` every ``interval`` seconds until it returns a true value, and return
    that value.

    ``timeout`` bounds how long a failing test waits, not a passing one (which goes on as soon
    as ``condition`` holds), so deadlines can be generous enough for a loaded two-core machine.
    ``condition`` is called at least once, and once more at the deadline.

    :param message: what was awaited, for the error; a callable is called only then (to read a
        log or a count at that moment).
    :raises AssertionError: ``condition`` was still false after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            said = message() if callable(message) else message
            raise AssertionError(f"not within {timeout} s: {said or getattr(condition, '__name__', condition)}")
        time.sleep(min(interval, left))
