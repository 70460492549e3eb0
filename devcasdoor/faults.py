"""Injected faults for tests (``POST /_dev/faults``).

Two families, because a client must survive both:

* **Before the work** (``envelope``, ``http500``, ``http404``, ``timeout``,
  ``delay``): the request fails, or is held up, before it is handled.
  ``http404`` makes the path look absent, as a plain OpenID Connect provider
  (which has no Casdoor REST API) answers it. ``timeout`` and
  ``delay`` sleep and then let the request proceed normally: a client with a
  shorter timeout gives up, yet the server still does the work *after* the
  client has gone.
* **After the work** (``http500_after``, ``timeout_after``, ``drop_after``): the
  request is handled and its effects are stored (a transaction is recorded,
  a balance moved), and only then does the answer go wrong: an HTTP 500, an
  answer held back ``seconds`` (a client with a shorter timeout gives up), or
  a connection closed without any answer. That is exactly the "Casdoor
  stored the transaction but the client never heard" case an outbox has to
  survive.

A fault applies to the next ``count`` requests to its path.
"""
import socket
import time

from flask import Response, g, request

from . import envelope

BEFORE_KINDS = ("envelope", "http500", "http404", "timeout", "delay")
AFTER_KINDS = ("http500_after", "timeout_after", "drop_after")
FAULT_KINDS = BEFORE_KINDS + AFTER_KINDS

#: WSGI environ key telling :class:`DropConnectionMiddleware` to close the socket.
DROP_KEY = "devcasdoor.drop_connection"


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


def _http500():
    return Response("<html><body>Internal Server Error</body></html>", status=500,
                    mimetype="text/html")


def apply_fault(state):
    """``before_request`` hook: answer with the injected failure, sleep and continue,
    or remember an after-the-work fault for :func:`apply_fault_after`."""
    fault = take_fault(state, request.path)
    if fault is None:
        return None
    if fault["kind"] in AFTER_KINDS:
        g.devcasdoor_fault_after = fault
        return None
    if fault["kind"] == "envelope":
        return envelope.error(fault.get("msg") or "Injected error")
    if fault["kind"] == "http500":
        return _http500()
    if fault["kind"] == "http404":
        return Response("404 page not found\n", status=404, mimetype="text/plain")
    time.sleep(float(fault.get("seconds") or 0))
    return None


def apply_fault_after(response):
    """``after_request`` hook (runs once the work is stored): spoil the answer."""
    fault = g.pop("devcasdoor_fault_after", None)
    if fault is None:
        return response
    if fault["kind"] == "http500_after":
        return _http500()
    if fault["kind"] == "timeout_after":
        time.sleep(float(fault.get("seconds") or 0))
        return response
    request.environ[DROP_KEY] = True
    return response


class DropConnectionMiddleware:
    """Close the client's connection without an answer when a ``drop_after`` fault asks.

    Flask cannot refuse to answer, so this sits around the WSGI app: the app has
    already handled the request (and stored its work), its response is thrown
    away, the socket is shut down, and werkzeug is told the connection dropped
    (a ``ConnectionError`` it handles quietly). The client sees the connection
    closed before any status line: ``requests`` raises ``ConnectionError``.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        if not environ.get(DROP_KEY):
            return result
        if hasattr(result, "close"):
            result.close()
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionAbortedError("devcasdoor: connection dropped on purpose (drop_after fault)")
