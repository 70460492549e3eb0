"""Casdoor changes take effect in seconds: the webhook, the sync, back-channel logout.

``service`` (apply what Casdoor says now about a person; flushes), ``webhook``
(whom a webhook record concerns), ``sync`` (the periodic job and ``flask
casdoor sync``), ``backchannel`` (OpenID Connect back-channel logout tokens), ``models`` (sync runs, logout token ids); ``views``, ``cli``;
URLs in ``blueprint.py``.
"""


def init_app(app):
    """The webhook endpoint, ``flask casdoor``, and the periodic sync job."""
    from webapp.identity import sync
    from webapp.identity.blueprint import api_bp, oidc_bp
    from webapp.identity.cli import casdoor_cli
    from webapp.jobs import schedule_periodic

    app.register_blueprint(api_bp)
    app.register_blueprint(oidc_bp)
    app.cli.add_command(casdoor_cli)
    if app.extensions.get("casdoor") is None or app.config["CASDOOR_SYNC_MINUTES"] <= 0:
        return
    # Each process (a web process at its first request, a worker at its start) makes sure a run is
    # queued (one per time slot, deduplicated).
    schedule_periodic(app, sync.schedule_next, "the Casdoor sync")
