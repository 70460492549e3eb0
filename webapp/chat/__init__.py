"""Chat over a store's knowledge: chats, streamed answers with sources, usage.

Pages under ``/s/<store>/chat/`` and ``/s/<store>/usage/``, JSON under
``/api/v1/s/<store>/chats/``: URLs in ``blueprint.py``, all scoped through
``webapp.stores.scoping``. The models that answer are ``webapp.providers``.

Modules: ``models`` (``Chat``, ``Message``); ``retrieval`` (the one call into
knowledge search), ``prompt`` (the token budget), ``answering`` (the answer
pipeline), ``streams`` (stop and the per-user cap), ``charging`` (the seam to
billing), ``rendering`` (Markdown made safe), ``chats`` (chat rows and access),
``payloads`` (what the API and the pages send), ``rollup`` (the usage rollup
kept with every answer, ``flask usage verify``), ``usage`` (aggregates, chart,
CSV), ``errors``; ``views``, ``api``, ``forms``, ``schemas``, ``cli``.
"""
from webapp.navigation import nav_item


def init_app(app):
    """Register the pages, the API, ``flask chat`` and the navigation entries."""
    from webapp.chat.blueprint import api_bp, pages
    from webapp.chat.cli import chat_cli, usage_cli
    from webapp.chat.streams import stop_streams_of_user
    from webapp.users.signals import access_revoked

    app.register_blueprint(pages)
    app.register_blueprint(api_bp)
    app.cli.add_command(chat_cli)
    app.cli.add_command(usage_cli)
    # weak=False: the receiver is a module function, kept for the life of the process.
    access_revoked.connect(stop_streams_of_user, weak=False)
    nav_item(app, "store", "chat.workspace", "Chat", "chat", order=15,
             also_current=("chat.show_chat",), testid="nav-chat")
    nav_item(app, "store", "chat.usage", "Usage", "chart", order=40, testid="nav-usage")
