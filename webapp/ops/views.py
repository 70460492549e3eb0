"""Liveness and readiness, in JSON, never cached."""
from flask import current_app, jsonify

from webapp.ops import checks


def _uncached(response, status=200):
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def healthz():
    """200 while the process can answer at all: no dependency is asked (a restart would not fix them)."""
    return _uncached(jsonify(status="ok"))


def readyz():
    """200 when every configured dependency answers; 503 naming the ones that do not."""
    results = checks.run_all(current_app)
    failed = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "unavailable" if failed else "ready", "failed": failed, "checks": results}
    return _uncached(jsonify(body), 503 if failed else 200)
