"""Prometheus metrics that features record as things happen (``GET /metrics`` is in ``webapp.ops``).

The metric objects live here, below every feature, so that any feature can
record without importing the ops feature; gauges that need the database (job
queue depth, pending charges) are not here: ``webapp.ops.metrics`` computes them
when Prometheus scrapes.

Under gunicorn every worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set
(``gunicorn.conf.py`` prepares the folder and forgets dead workers), prometheus-
client writes each process's values to files there and ``/metrics`` adds them up.
Without it, ``/metrics`` shows this process only (``flask run``, tests).

Labels are bounded by construction: a route is its URL rule (``/s/<store>/``),
never the path a client sent; unmatched paths share one label.
"""
import time

from flask import g, request
from prometheus_client import Counter, Histogram

#: Seconds: from a cache lookup to a page render to a whole non-streamed answer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED = "<unmatched>"

http_requests = Counter("storehouse_http_requests", "Requests answered, by route template and status.",
                        ["method", "route", "status"])
http_latency = Histogram("storehouse_http_request_duration_seconds",
                         "Time to the response (a stream's time to its first byte), by route template.",
                         ["method", "route"], buckets=LATENCY_BUCKETS)
job_failures = Counter("storehouse_job_failures", "Job attempts that failed (retried or given up), by kind.",
                       ["kind", "outcome"])
casdoor_latency = Histogram("storehouse_casdoor_request_duration_seconds", "Calls to Casdoor, by HTTP method.",
                            ["method"], buckets=LATENCY_BUCKETS)
casdoor_errors = Counter("storehouse_casdoor_errors", "Calls to Casdoor that got no usable answer "
                         "(network, timeout, HTTP 5xx).", ["method"])
model_ttft = Histogram("storehouse_model_time_to_first_token_seconds", "Time from the model run's start to its "
                       "first token, by provider kind.", ["kind"], buckets=LATENCY_BUCKETS)
model_tokens = Counter("storehouse_model_tokens", "Tokens the models consumed and wrote, by provider kind.",
                       ["kind", "direction"])
cache_lookups = Counter("storehouse_cache_lookups", "Short-lived cache lookups (who is asking), hits and misses, "
                        "by cache.", ["cache", "result"])


def route_label():
    """The request's URL rule (bounded), never its path."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _start_timer():
    g.metrics_started = time.perf_counter()


def _record_request(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        route = route_label()
        http_latency.labels(request.method, route).observe(time.perf_counter() - started)
        http_requests.labels(request.method, route, str(response.status_code)).inc()
    return response


def init_app(app):
    """Count and time every request by route template (unless ``METRICS_ENABLED`` is false)."""
    if not app.config.get("METRICS_ENABLED", True):
        return
    app.before_request(_start_timer)
    app.after_request(_record_request)
