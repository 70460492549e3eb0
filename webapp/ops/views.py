"""Liveness and readiness, in JSON, never cached; metrics for Prometheus behind a token."""
import hmac

from flask import Response, abort, current_app, jsonify, request

from webapp.ops import checks
from webapp.ops.metrics import exposition


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


def metrics():
    """Prometheus text format, for ``Authorization: Bearer <METRICS_TOKEN>`` only.

    Without METRICS_TOKEN the endpoint does not exist (404), so nothing about the
    server is shown by default; a wrong or missing token gets 401.
    """
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        abort(404)
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), expected.encode()):
        response = jsonify(error="unauthorized", message="Send Authorization: Bearer <METRICS_TOKEN>.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _uncached(response, 401)
    body = exposition(current_app.config["PROMETHEUS_MULTIPROC_DIR"])
    return _uncached(Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8"))
