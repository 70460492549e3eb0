"""The base of every domain error, and the error that stops the app at start.

Each feature derives its errors from ``StorehouseError``: an HTTP status and a
message a person can act on. ``webapp.errors`` turns them into pages or JSON.
"""


class StorehouseError(Exception):
    """Base of every domain error: an HTTP status and a message for a person."""

    status_code = 400
    error = None

    def __init__(self, message, *, status_code=None, error=None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if error is not None:
            self.error = error

    def payload(self):
        """Extra JSON keys for API callers (e.g. ``fields`` of a validation error)."""
        return {}


class ConfigurationError(SystemExit):
    """A setting is unusable; raised at start so the app does not run half-configured.

    A SystemExit, so ``flask run``, ``flask db upgrade`` or a WSGI server stop
    with this one line (naming the variable) instead of a stack trace.
    """

    def __init__(self, message):
        super().__init__(f"Storehouse cannot start: {message}")
        self.message = message

    def __str__(self):
        return str(self.code)
