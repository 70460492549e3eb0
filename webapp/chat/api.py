"""Chat JSON: ``/api/v1/s/<store>/chats/...``.

Asking (``POST .../chats/<chat>/messages/``) answers with server-sent events when
the request's ``Accept`` is ``text/event-stream``::

    event: sources   data: {"sources": [{"n": 1, "file_id", "file_name", "heading", "snippet", "url"}, ...]}
    event: waiting   data: {}                      (the local model is busy: it starts when free)
    event: delta     data: {"text": "..."}         (repeated)
    event: end       data: {message_id, status, usage: {prompt, completion, estimated}, price, currency, html, ...}
    event: error     data: the same as end, plus {"error": message} (the answer failed; partial text kept)

and otherwise with the whole answer as one JSON object. Views are thin:
``webapp.chat.answering`` does the work; each view commits.
"""
import inspect
import json
import threading

from flask import Response, current_app, g, jsonify, request, stream_with_context

from webapp.auth.decorators import login_required
from webapp.chat import answering, chats, streams
from webapp.chat.errors import AnswerRefused
from webapp.chat.payloads import chat_payload, message_payload, sources_payload
from webapp.chat.schemas import Ask, CreateChat, Resend, UpdateChat
from webapp.core.bodies import parse_body
from webapp.core.errors import StorehouseError
from webapp.core.money import display
from webapp.extensions import db
from webapp.pagination import link_header, page_size, search_prefix


class TooManyStreams(StorehouseError):
    status_code = 429
    error = "too_many_streams"


# --- chats ----------------------------------------------------------------------------

@login_required
def list_chats():
    """The caller's chats, most recent first (``?q=`` title contains; ``?all=1``: everyone's, for
    administrators of the store)."""
    page = chats.list_chats(g.store, g.user, cursor=request.args.get("cursor"), limit=page_size(),
                            search=search_prefix(), everyone=request.args.get("all") == "1")
    return jsonify(items=[chat_payload(c) for c in page.items], next=page.next_cursor), link_header(page)


@login_required
def create_chat():
    data = parse_body(CreateChat)
    chat = chats.create_chat(g.store, g.user, data.title)
    db.session.commit()
    return jsonify(chat=chat_payload(chat)), 201


@login_required
def get_chat(chat_id):
    return jsonify(chat=chat_payload(chats.get_chat(g.store, g.user, chat_id)))


@login_required
def update_chat(chat_id):
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    chats.rename_chat(chat, parse_body(UpdateChat).title)
    db.session.commit()
    return jsonify(chat=chat_payload(chat))


@login_required
def delete_chat(chat_id):
    chats.delete_chat(chats.get_chat(g.store, g.user, chat_id, write=True))
    db.session.commit()
    return jsonify(ok=True)


@login_required
def list_messages(chat_id):
    """The chat's messages, oldest first, a page at a time."""
    chat = chats.get_chat(g.store, g.user, chat_id)
    page = chats.list_messages(chat, cursor=request.args.get("cursor"), limit=page_size())
    return jsonify(items=[message_payload(m) for m in page.items], next=page.next_cursor), link_header(page)


@login_required
def ask(chat_id):
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    text = parse_body(Ask).text
    return answer_response(lambda: answering.prepare(g.store, g.user, chat, text))


@login_required
def regenerate(chat_id):
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    return answer_response(lambda: answering.prepare_regenerate(g.store, g.user, chat))


@login_required
def resend(chat_id, message_id):
    """Edit the question ``message_id`` and answer it again (later messages are removed)."""
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    question = chats.get_message(chat, message_id)
    text = parse_body(Resend).text
    return answer_response(lambda: answering.prepare_resend(g.store, g.user, chat, question, text))


@login_required
def stop(chat_id, message_id):
    """Stop the answer ``message_id`` while it streams (its partial text and usage are saved)."""
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    stopped = streams.request_stop(chats.get_message(chat, message_id))
    db.session.commit()
    return jsonify(stopping=stopped)


# --- the answer stream ------------------------------------------------------------------

def wants_stream():
    return request.accept_mimetypes.best == "text/event-stream"


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _final(message, store_name=None):
    payload = message_payload(message, store_name)
    return {"message_id": message.id, "status": message.status, "usage": payload["usage"],
            "price": payload["price"], "price_display": display(message.price), "currency": message.currency,
            "html": payload["html"],
            "text": message.text, "error": message.error or None, "latency_ms": message.latency_ms,
            "ttft_ms": message.ttft_ms, "no_matching_knowledge": payload["no_matching_knowledge"],
            "cites_nothing": payload["cites_nothing"], "question_id": None}


def answer_response(prepare):
    """Run ``prepare`` (saves the question and the "streaming" answer), commit, then stream."""
    if streams.open_streams(g.user) >= streams.stream_cap():
        raise TooManyStreams(f"You already have {streams.stream_cap()} answers being written. Wait for one "
                             "to finish, or stop it, then ask again.")
    try:
        prepared = prepare()
    except AnswerRefused as exc:
        db.session.commit()  # the question stays, so it can be asked again later
        if wants_stream():
            return Response(sse("error", {"error": exc.message, "refused": True, "message_id": None}),
                            mimetype="text/event-stream", headers=_stream_headers())
        raise
    db.session.commit()
    switch = streams.StopSwitch(prepared.answer.id, db.engine)
    if wants_stream():
        return _stream_response(prepared, switch)
    question_id = prepared.question.id
    answer = None
    run = answering.stream_answer(prepared, switch, streamed=False)
    try:
        for event in run:
            if event[0] == "end":
                answer = event[1]
    finally:
        run.close()
        switch.close()
        db.session.commit()
    final = _final(answer)
    final["question_id"] = question_id
    return jsonify(message=message_payload(answer), **final), 201


def _stream_response(prepared, switch):
    """The answer as server-sent events; however the client leaves, the answer is saved and settled."""
    question_id, answer_id = prepared.question.id, prepared.answer.id
    store_name = g.store.name
    finished = threading.Event()
    app = current_app._get_current_object()

    def end_run(run):
        """Close the model run; one closed before it began is saved as abandoned."""
        if run is None or inspect.getgeneratorstate(run) == inspect.GEN_CREATED:
            answering.abandon(prepared)
        else:
            run.close()
        switch.close()
        db.session.commit()
        finished.set()

    def events():
        run = answering.stream_answer(prepared, switch)
        try:
            yield sse("start", {"question_id": question_id, "message_id": answer_id})
            for event in run:
                kind = event[0]
                if kind == "delta":
                    yield sse("delta", {"text": event[1]})
                elif kind == "sources":
                    yield sse("sources", {"sources": sources_payload(event[1], store_name)})
                elif kind == "waiting":
                    yield sse("waiting", {})
                elif kind == "end":
                    db.session.commit()
                    final = _final(event[1], store_name)
                    final["question_id"] = question_id
                    yield sse("error" if final["status"] == "failed" else "end", final)
        finally:
            # A client that went away closes this generator at a yield: the run then stops the
            # model, saves the partial answer with its usage, and this commits it. Gone before
            # the first event was written, the run has not begun and is saved as abandoned.
            end_run(run)

    def never_iterated():
        # The server closed the response without reading it (the client left before the
        # first byte): ``events`` never started, so nothing above ran. Save it here.
        if not finished.is_set():
            with app.app_context():
                try:
                    end_run(None)
                finally:
                    db.session.remove()

    response = Response(stream_with_context(events()), mimetype="text/event-stream", headers=_stream_headers())
    response.call_on_close(never_iterated)
    return response


def _stream_headers():
    return {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
