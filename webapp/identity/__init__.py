"""Casdoor changes take effect in seconds: the webhook, the sync, back-channel logout.

``service`` (apply what Casdoor says now about a person; flushes), ``webhook``
(whom a webhook record concerns), ``sync`` (the periodic job and ``flask
casdoor sync``), ``backchannel`` (OpenID Connect back-channel logout tokens),
``models`` (sync runs, logout token ids); ``views``, URLs in ``blueprint.py``.
"""


def init_app(app):
    """The webhook and back-channel logout endpoints, ``flask casdoor``, the sync job."""
    from webapp.identity.blueprint import api_bp

    app.register_blueprint(api_bp)
