"""Operating Storehouse on several hosts: liveness, readiness (and their checks).

``checks`` (what readiness asks of each dependency), ``views`` (``/healthz``,
``/readyz``). These answer load balancers and orchestrators: no sign-in, no
session row, no rate limit, and nothing about any store.
"""


def init_app(app):
    """The health endpoints, exempt from rate limits."""
    from webapp.extensions import limiter
    from webapp.ops.blueprint import bp

    app.register_blueprint(bp)
    limiter.exempt(bp)
