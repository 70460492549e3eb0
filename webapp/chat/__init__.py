"""Chat over a store's knowledge: model providers, chats, streamed answers with sources, usage.

Blueprints, all scoped through ``webapp.stores.scoping``:

* ``chat``        pages under ``/s/<store>/chat/`` and ``/s/<store>/usage/``;
* ``chat_api``    JSON under ``/api/v1/s/<store>/chats/`` and ``/api/v1/providers/``;
* ``chat_admin``  ``/admin/providers/`` (administrators).

Modules: ``models``; ``providers`` (the one interface), ``local_model``,
``openai_compatible``, ``tokens``, ``process_cache``, ``errors`` (the model side);
``provider_service`` (provider rows, the default, a store's choice);
``retrieval`` (the one call into knowledge search), ``prompt`` (the token budget),
``answering`` (the answer pipeline), ``streams`` (stop and the per-user cap),
``charging`` (the seam to billing), ``pricing`` (decimal prices),
``rendering`` (Markdown made safe), ``chats`` (chat rows and access), ``usage``
(aggregates, chart, CSV).
"""
from flask import Blueprint

from webapp.navigation import nav_item
from webapp.stores import scoping

bp = Blueprint("chat", __name__, url_prefix="/s/<store>")
api_bp = Blueprint("chat_api", __name__, url_prefix="/api/v1")
admin_bp = Blueprint("chat_admin", __name__, url_prefix="/admin")

scoping.init_scoped_blueprint(bp, work=True)
scoping.init_scoped_blueprint(api_bp)

from webapp.chat import admin, api, views  # noqa: E402,F401


def init_app(app):
    """Register the blueprints, ``flask chat`` and the navigation entries."""
    from webapp.chat.cli import chat_cli
    from webapp.chat.pricing import display

    app.add_template_filter(display, "price")

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(chat_cli)
    nav_item(app, "store", "chat.workspace", "Chat", "chat", order=15,
             also_current=("chat.show_chat",), testid="nav-chat")
    nav_item(app, "store", "chat.usage", "Usage", "chart", order=40, testid="nav-usage")
    nav_item(app, "admin", "chat_admin.list_providers", "Providers", "settings", order=30, admin_only=True,
             store_scoped=False, also_current=("chat_admin.create_provider", "chat_admin.edit_provider",
                                               "chat_admin.delete_provider"))
