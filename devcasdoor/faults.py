"""Injected faults for tests (``POST /_dev/faults``), applied before a request is handled.

``timeout`` and ``delay`` sleep and then let the request proceed normally: a
client with a shorter timeout gives up, yet the server still does the work.
That is exactly the "Casdoor stored the transaction but the client never heard"
case an outbox has to survive.
"""
import time

from flask import Response, request

from . import envelope

FAULT_KINDS = ("envelope", "http500", "timeout", "delay")


def take_fault(state, path):
    """Consume one pending fault for ``path`` and return it, or None."""
    with state.lock:
        fault = state.faults.get(path)
        if not fault or fault["count"] <= 0:
            return None
        fault["count"] -= 1
        if fault["count"] <= 0:
            del state.faults[path]
        return dict(fault)


def apply_fault(state):
    """``before_request`` hook: answer with the injected failure, or sleep and continue."""
    fault = take_fault(state, request.path)
    if fault is None:
        return None
    if fault["kind"] == "envelope":
        return envelope.error(fault.get("msg") or "Injected error")
    if fault["kind"] == "http500":
        return Response("<html><body>Internal Server Error</body></html>", status=500,
                        mimetype="text/html")
    time.sleep(float(fault.get("seconds") or 0))
    return None
