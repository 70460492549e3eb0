"""Chats and their messages: who sees which, lists a page at a time, rename, delete.

Access rule: a chat is its owner's. Administrators who may edit a store
(``webapp.stores.access.can_edit_store``) may also read the store's other
chats (``?all=1`` lists; the pages say so), but never write in them. Every
read goes through ``Model.query_for(store)`` (the store chokepoint) first.
Flush only; the caller commits.
"""
from werkzeug.exceptions import NotFound

from webapp.chat.answering import TITLE_MAX, ChatError
from webapp.chat.models import Chat, Message
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.pagination import paginate
from webapp.stores.access import can_edit_store


def may_view_others(user, store):
    return can_edit_store(user, store)


def get_chat(store, user, chat_id, *, write=False):
    """The chat ``chat_id`` of ``store`` that ``user`` may read (``write``: may write in), else 404."""
    chat = db.session.execute(
        Chat.query_for(store).filter(Chat.id == chat_id, Chat.deleted_at.is_(None))).scalar_one_or_none()
    if chat is None:
        raise NotFound()
    if chat.user_id != user.id and (write or not may_view_others(user, store)):
        raise NotFound()
    return chat


def get_message(chat, message_id):
    message = db.session.execute(
        Message.query_for(chat.store).filter(Message.chat_id == chat.id, Message.id == message_id,
                                             Message.deleted_at.is_(None))
    ).scalar_one_or_none()
    if message is None:
        raise NotFound()
    return message


def list_chats(store, user, *, cursor=None, limit=20, search="", everyone=False):
    """A page of chats, most recently active first; ``search``: title contains (ignoring case)."""
    query = Chat.query_for(store).filter(Chat.deleted_at.is_(None))
    if not (everyone and may_view_others(user, store)):
        query = query.filter(Chat.user_id == user.id)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.filter(Chat.title.ilike(f"%{escaped}%", escape="\\"))
    return paginate(query, order=[(Chat.updated_at, "desc"), (Chat.id, "desc")], cursor=cursor, limit=limit)


def list_messages(chat, *, cursor=None, limit=50):
    """A page of ``chat``'s messages, oldest first (keyset on id)."""
    return paginate(Message.query_for(chat.store).filter(Message.chat_id == chat.id, Message.deleted_at.is_(None)),
                    order=[(Message.id, "asc")], cursor=cursor, limit=limit)


def latest_messages(chat, limit=50, before=None):
    """The newest ``limit`` messages (before the id ``before``, if given), oldest first,
    and whether older ones exist."""
    query = Message.query_for(chat.store).filter(Message.chat_id == chat.id, Message.deleted_at.is_(None))
    if before is not None:
        query = query.filter(Message.id < before)
    rows = db.session.execute(query.order_by(Message.id.desc()).limit(limit + 1)).scalars().all()
    return list(reversed(rows[:limit])), len(rows) > limit


def create_chat(store, user, title=""):
    chat = Chat(store_id=store.id, user_id=user.id, title=_title(title, allow_empty=True))
    db.session.add(chat)
    db.session.flush()
    return chat


def _title(title, allow_empty=False):
    title = " ".join((title or "").split())
    if not title and not allow_empty:
        raise ChatError("Give the chat a title.")
    if len(title) > TITLE_MAX:
        raise ChatError(f"A chat title has at most {TITLE_MAX} characters.")
    return title


def rename_chat(chat, title):
    chat.title = _title(title)
    chat.updated_at = utcnow()
    db.session.flush()


def delete_chat(chat):
    """Hide ``chat`` for good; its rows stay (usage and billing count its answers)."""
    chat.deleted_at = utcnow()
    db.session.flush()
