"""Every URL of chat: pages under ``/s/<store>/chat/`` and ``/s/<store>/usage/``, JSON under
``/api/v1/s/<store>/chats/``. Both go through the tenancy chokepoint."""
from flask import Blueprint

from webapp.chat import api, views
from webapp.routing import moved
from webapp.stores import scoping

pages = Blueprint("chat", __name__, url_prefix="/s/<store>")
scoping.init_scoped_blueprint(pages, work=True)
pages.add_url_rule("/chat/", view_func=views.workspace)
pages.add_url_rule("/chat/<id:chat_id>", view_func=views.show_chat)
pages.add_url_rule("/chat/new", view_func=views.new_chat, methods=["POST"])
pages.add_url_rule("/chat/<id:chat_id>/rename", view_func=views.rename_chat, methods=["POST"])
pages.add_url_rule("/chat/<id:chat_id>/delete", view_func=views.delete_chat, methods=["POST"])
pages.add_url_rule("/usage/", view_func=views.usage)

api_bp = Blueprint("chat_api", __name__, url_prefix="/api/v1/s/<store>/chats")
scoping.init_scoped_blueprint(api_bp)
api_bp.add_url_rule("/", view_func=api.list_chats)
api_bp.add_url_rule("/", view_func=api.create_chat, methods=["POST"])
api_bp.add_url_rule("/<id:chat_id>", view_func=api.get_chat)
api_bp.add_url_rule("/<id:chat_id>", view_func=api.update_chat, methods=["PATCH"])
api_bp.add_url_rule("/<id:chat_id>", view_func=api.delete_chat, methods=["DELETE"])
api_bp.add_url_rule("/<id:chat_id>/messages/", view_func=api.list_messages)
api_bp.add_url_rule("/<id:chat_id>/messages/", view_func=api.ask, methods=["POST"])
api_bp.add_url_rule("/<id:chat_id>/regenerate", view_func=api.regenerate, methods=["POST"])
api_bp.add_url_rule("/<id:chat_id>/messages/<id:message_id>/resend", view_func=api.resend, methods=["POST"])
api_bp.add_url_rule("/<id:chat_id>/messages/<id:message_id>/stop", view_func=api.stop, methods=["POST"])

# Former addresses (before collections ended with "/").
moved(api_bp, "/<id:chat_id>/messages", ".list_messages")
moved(api_bp, "/<id:chat_id>/messages", ".ask", methods=["POST"])
