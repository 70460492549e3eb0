"""Outcomes a job handler can raise besides success.

Both are *controlled* outcomes: whatever the handler flushed before raising is
committed together with the job's new state (a charge marked "refused by
Casdoor", a file marked "failed: no extractable text"). Any other exception is
unexpected: the handler's changes are rolled back and the job is retried.
"""


class JobOutcome(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class RetryLater(JobOutcome):
    """Try again later (``delay`` seconds, else the handler's backoff with jitter)."""

    def __init__(self, message, *, delay=None):
        super().__init__(message)
        self.delay = delay


class PermanentFailure(JobOutcome):
    """Never retry: the job is marked failed with ``message`` for an administrator to read."""
