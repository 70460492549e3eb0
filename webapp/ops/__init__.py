"""Operating Storehouse on several hosts: liveness, readiness (and their checks).

``checks`` (what readiness asks of each dependency), ``metrics`` (what
``/metrics`` shows), ``views`` (``/healthz``, ``/readyz``, ``/metrics``). These answer load balancers and orchestrators: no sign-in, no
session row, no rate limit, and nothing about any store.
"""


def init_app(app):
    """The health and metrics endpoints: exempt from rate limits, and never a user behind them."""
    from webapp.auth.current import NO_USER_ENDPOINTS
    from webapp.extensions import limiter
    from webapp.ops.blueprint import bp

    app.register_blueprint(bp)
    limiter.exempt(bp)
    # /metrics carries its own Bearer token, which is not a Casdoor token to verify.
    app.extensions.setdefault(NO_USER_ENDPOINTS, set()).update({"ops.healthz", "ops.readyz", "ops.metrics"})
