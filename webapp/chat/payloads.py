"""What the chat API sends, and the links the pages share with it: chats, messages, sources."""
from flask import g, url_for

from webapp.chat.models import COMPLETE, STOPPED
from webapp.chat.rendering import cites_a_source, render_answer
from webapp.core.money import exact


def source_url(source, store_name=None):
    """The file page of a source (at its chunk), when the knowledge pages are installed.

    ``store_name``: needed inside an answer stream, whose ``g`` no longer holds the store.
    """
    store_name = store_name or g.store.name
    try:
        return url_for("knowledge.show_file", store=store_name, file_id=source["file_id"],
                       chunk=source["chunk_id"], _anchor=f"chunk-{source['chunk_id']}")
    except Exception:  # noqa: BLE001  (werkzeug BuildError: no file pages in this app)
        return None


def page_label(source):
    """", p. 12" or ", pp. 12–13" after a PDF source's file name; "" for other sources."""
    page, page_end = source.get("page"), source.get("page_end")
    if not page:
        return ""
    return f", pp. {page}–{page_end}" if page_end and page_end != page else f", p. {page}"


def sources_payload(sources, store_name=None):
    return [{**source, "url": source_url(source, store_name), "page_label": page_label(source)}
            for source in sources]


def cites_nothing(message):
    """True for a model's answer (complete or stopped) that had sources and cites none of them:
    the page marks it next to its sources, since nothing in it is tied to a source."""
    return (message.role == "assistant" and bool(message.sources) and bool(message.model)
            and message.status in (COMPLETE, STOPPED) and bool((message.text or "").strip())
            and not cites_a_source(message.text, len(message.sources)))


def chat_payload(chat):
    return {"id": chat.id, "title": chat.title, "user_id": chat.user_id,
            "created_at": chat.created_at.isoformat() + "Z", "updated_at": chat.updated_at.isoformat() + "Z"}


def message_payload(message, store_name=None):
    payload = {"id": message.id, "chat_id": message.chat_id, "role": message.role, "text": message.text,
               "status": message.status, "created_at": message.created_at.isoformat() + "Z"}
    if message.role == "assistant":
        payload.update(
            html=str(render_answer(message.text, len(message.sources), f"src-{message.id}")),
            sources=sources_payload(message.sources, store_name), error=message.error or None,
            provider=message.provider_name, model=message.model,
            usage={"prompt": message.prompt_tokens, "completion": message.completion_tokens,
                   "estimated": message.usage_estimated},
            price=exact(message.price), currency=message.currency,
            latency_ms=message.latency_ms, ttft_ms=message.ttft_ms,
            no_matching_knowledge=not message.sources and message.provider_id is None and not message.model,
            cites_nothing=cites_nothing(message),
        )
    return payload
