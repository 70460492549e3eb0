"""Answering a question: retrieval, prompt, billing seam, the model's stream, the saved answer.

Two steps, so that a view can commit between them:

1. ``prepare(store, user, chat, text)`` (or ``prepare_regenerate`` /
   ``prepare_resend``) saves the question, retrieves the store's sources,
   builds the prompt within the context budget, calls
   ``charging.before_answer`` and adds the answer row in state "streaming"
   with its ``charge_key``. Flush only; the view commits. When billing refuses
   (``AnswerRefused``) nothing but the question is saved and the refusal
   propagates before any model runs.
2. ``stream_answer(prepared, switch)`` runs the model and yields events
   (``("waiting",)``, ``("sources", [...])``, ``("delta", text)``, then one
   ``("end", message)``). However the stream ends (complete, stopped by the
   switch, failed, or closed by a client that went away, which counts as a
   stop), the answer row gets its text, status, usage, price, latency and
   error, and ``charging.after_answer`` runs in the same transaction; the
   caller commits right after the generator is exhausted or closed. A
   generator closed before it started runs none of that: the caller then
   calls ``abandon(prepared)``.

When no knowledge matches, the model does not run (unless
``CHAT_ANSWER_WITHOUT_KNOWLEDGE``): the answer says so, costs nothing, and
has no sources (the UI shows "no matching knowledge").
"""
import logging
import re
import time
from dataclasses import dataclass, field

from flask import current_app

from webapp import metrics
from webapp.chat import charging, retrieval, rollup
from webapp.chat import prompt as prompts
from webapp.chat.models import COMPLETE, FAILED, STOPPED, STREAMING, Message, new_charge_key
from webapp.core.clock import utcnow
from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.providers import service as provider_service
from webapp.providers.errors import ProviderError
from webapp.providers.interface import ERROR, NO_USAGE, Delta, Finish, Waiting
from webapp.providers.interface import STOPPED as REASON_STOPPED
from webapp.providers.models import Provider
from webapp.providers.pricing import answer_price
from webapp.providers.runtimes import get_provider

log = logging.getLogger("webapp.chat.answering")

NO_MATCH_TEXT = ("I found nothing in this store's knowledge that matches your question, so I cannot answer it "
                 "from the store. Try other words, or add files that cover it.")
TITLE_MAX = 80
#: Longest question, in characters.
QUESTION_MAX = 8000


class ChatError(StorehouseError):
    status_code = 400
    error = "invalid_chat"


@dataclass
class Prepared:
    chat: object
    question: Message
    answer: Message
    sources: list
    provider: object = None
    config: object = None
    messages: list = field(default_factory=list)
    max_tokens: int = 0
    reservation: object = None
    #: Ids, for ``stream_answer``: under a real server the stream runs in a new app context
    #: (and so a new session) after the view returns, where the rows above are detached.
    answer_id: int = None
    provider_id: int = None

    def __post_init__(self):
        self.answer_id = self.answer.id
        self.provider_id = self.provider.id if self.provider is not None else None

    @property
    def runs_model(self):
        return self.provider_id is not None


def title_from(text):
    line = " ".join(text.split())
    return line if len(line) <= TITLE_MAX else line[:TITLE_MAX - 1].rstrip() + "…"


def _history(chat, before_id, limit):
    """The ``limit`` messages of ``chat`` before ``before_id``, oldest first, as (role, text)."""
    if limit < 1:
        return []
    rows = db.session.execute(
        db.select(Message.role, Message.text, Message.status)
        .where(Message.chat_id == chat.id, Message.id < before_id, Message.deleted_at.is_(None))
        .order_by(Message.id.desc()).limit(limit)
    ).all()
    return [(role, text) for role, text, status in reversed(rows) if text and status != STREAMING]


def _question(store, user, chat, text):
    text = (text or "").strip()
    if not text:
        raise ChatError("Write a question first.")
    if len(text) > QUESTION_MAX:
        raise ChatError(f"A question has at most {QUESTION_MAX:,} characters; this one has {len(text):,}.")
    question = Message(store_id=store.id, chat_id=chat.id, user_id=chat.user_id, role="user", text=text,
                       status=COMPLETE, sources=[])
    db.session.add(question)
    if not chat.title:
        chat.title = title_from(text)
    chat.updated_at = utcnow()
    db.session.flush()
    return question


def _prepare_answer(store, user, chat, question):
    """Retrieval, prompt, billing reservation, the "streaming" answer row. Flush only.

    :raises AnswerRefused: from ``charging.before_answer``; nothing after the question is added.
    """
    sources = retrieval.retrieve(store, question.text, store.knowledge_count)
    answer = Message(store_id=store.id, chat_id=chat.id, user_id=chat.user_id, role="assistant", text="",
                     status=STREAMING, sources=[], charge_key=new_charge_key())
    if not sources and not current_app.config.get("CHAT_ANSWER_WITHOUT_KNOWLEDGE", False):
        answer.text, answer.status = NO_MATCH_TEXT, COMPLETE
        db.session.add(answer)
        db.session.flush()
        rollup.record(answer)  # final already: the model never runs, billing never sees it
        return Prepared(chat, question, answer, [])
    provider_row = provider_service.provider_for_store(store)
    config = provider_service.config_for(provider_row)
    provider = get_provider(config)
    history = _history(chat, question.id, store.memory_limit)
    try:
        built = prompts.build_prompt(provider, config, store.system_prompt, sources, history, question.text)
    except ProviderError as exc:
        # The tokenizer cannot load (the local model is missing): the model call will say why.
        log.warning("Counting the prompt for %r failed: %s", provider_row.name, exc.message)
        built = prompts.Prompt(messages=[{"role": "system", "content": prompts.system_text(store.system_prompt, sources)},
                                         {"role": "user", "content": question.text}],
                               sources=sources, history_kept=0, max_tokens=config.max_tokens)
    reservation = charging.before_answer(user, store, provider_row, built.prompt_tokens)
    answer.provider_id, answer.provider_name, answer.model = provider_row.id, provider_row.name, provider_row.model
    answer.currency = provider_row.currency
    answer.sources = [source.stored() for source in built.sources]
    db.session.add(answer)
    db.session.flush()
    return Prepared(chat, question, answer, built.sources, provider_row, config, built.messages,
                    built.max_tokens, reservation)


def prepare(store, user, chat, text):
    """Save the question ``text`` in ``chat`` and get its answer ready (see the module doc)."""
    question = _question(store, user, chat, text)
    return _prepare_answer(store, user, chat, question)


def last_messages(chat, limit=2):
    return db.session.execute(
        db.select(Message).where(Message.chat_id == chat.id, Message.deleted_at.is_(None))
        .order_by(Message.id.desc()).limit(limit)
    ).scalars().all()


def prepare_regenerate(store, user, chat):
    """Answer the last question again: its answer goes (the new one replaces it)."""
    last = last_messages(chat)
    question = next((m for m in last if m.role == "user"), None)
    if question is None:
        raise ChatError("There is no question to answer again in this chat.", status_code=409)
    _refuse_while_streaming(last)
    _delete_after(chat, question.id)
    chat.updated_at = utcnow()
    return _prepare_answer(store, user, chat, question)


def prepare_resend(store, user, chat, question, text):
    """Edit ``question`` to ``text`` and answer it again: every later message is removed."""
    if question.role != "user":
        raise ChatError("Only questions can be edited.", status_code=409)
    _refuse_while_streaming(last_messages(chat, 1))
    text = (text or "").strip()
    if not text:
        raise ChatError("Write a question first.")
    if len(text) > QUESTION_MAX:
        raise ChatError(f"A question has at most {QUESTION_MAX:,} characters; this one has {len(text):,}.")
    _delete_after(chat, question.id)
    question.text = text
    chat.updated_at = utcnow()
    db.session.flush()
    return _prepare_answer(store, user, chat, question)


def _refuse_while_streaming(messages):
    if any(m.status == STREAMING for m in messages):
        raise ChatError("An answer is still being written in this chat; stop it first.", status_code=409,
                        error="answer_streaming")


def _delete_after(chat, message_id):
    """Hide the messages after ``message_id`` (kept: their answers' usage was consumed and billed)."""
    db.session.execute(db.update(Message).where(Message.chat_id == chat.id, Message.id > message_id,
                                                Message.deleted_at.is_(None))
                       .values(deleted_at=utcnow()).execution_options(synchronize_session="fetch"))
    db.session.flush()


CITATION = re.compile(r"\[(\d{1,3})\](?!\()")


def drop_unresolved_citations(text, count):
    """``text`` without the ``[n]`` that name no source (1..``count``)."""
    return CITATION.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= count else "", text)


class _Run:
    def __init__(self):
        self.parts = []
        self.finish = None
        self.started = time.perf_counter()
        self.first_token = None


def _completed(provider, prepared):
    """A non-streamed answer as the events of a stream (the server's usage is then exact)."""
    completion = provider.complete(prepared.messages, max_tokens=prepared.max_tokens)
    if completion.text:
        yield Delta(completion.text)
    yield completion.finish


def stream_answer(prepared, switch, streamed=True):
    """Run the model for ``prepared`` and save the answer; yields events (see the module doc).

    ``streamed=False`` asks the provider for the whole answer in one request (the
    JSON API): no stop, but the server's own usage where a stream would have none.

    Rows are read again by id in the current session (see ``Prepared.answer_id``).
    """
    answer = prepared.answer = db.session.get(Message, prepared.answer_id)
    if prepared.provider_id is not None:
        prepared.provider = db.session.get(Provider, prepared.provider_id)
    if not prepared.runs_model:
        # No knowledge matched: the fixed answer, no model, nothing to charge.
        yield ("sources", [])
        yield ("delta", answer.text)
        answer.latency_ms = answer.ttft_ms = 0
        db.session.flush()
        yield ("end", answer)
        return
    run = _Run()
    provider = get_provider(prepared.config)
    if streamed:
        events = provider.stream(prepared.messages, max_tokens=prepared.max_tokens, should_stop=switch.should_stop)
    else:
        events = _completed(provider, prepared)
    try:
        yield ("sources", [source.stored() for source in prepared.sources])
        for event in events:
            if isinstance(event, Delta):
                if run.first_token is None:
                    run.first_token = time.perf_counter()
                run.parts.append(event.text)
                yield ("delta", event.text)
            elif isinstance(event, Waiting):
                yield ("waiting",)
            elif isinstance(event, Finish):
                run.finish = event
                break
    finally:
        if run.finish is None:
            # The client went away (or something broke): stop the model, read on to its usage.
            switch.set()
            run.finish = _drain(events, run)
        events.close()
        _save(prepared, run)
    yield ("end", answer)


def abandon(prepared):
    """Save the answer of a stream closed before its model run began (flush; the caller commits).

    A generator that never started runs no ``finally`` when it is closed, so a
    client that went away before the first event would otherwise leave the row
    "streaming" (holding one of the person's stream slots) with its reservation.
    It ends like any stopped answer: "stopped", with the usage it consumed (none:
    the model never saw the prompt), priced, and settled through ``charging``.
    Does nothing when the answer was saved already.
    """
    answer = prepared.answer = db.session.get(Message, prepared.answer_id)
    if answer is None or answer.status != STREAMING:
        return answer
    prepared.provider = db.session.get(Provider, prepared.provider_id) if prepared.provider_id else None
    run = _Run()
    run.finish = Finish(REASON_STOPPED, NO_USAGE)
    _save(prepared, run)
    return answer


def _drain(events, run):
    try:
        for event in events:
            if isinstance(event, Delta):
                run.parts.append(event.text)
            elif isinstance(event, Finish):
                return event
    except Exception:  # noqa: BLE001  (a provider bug must not lose the answer row)
        log.exception("The provider stream failed while stopping")
    return Finish(REASON_STOPPED, NO_USAGE)


def _save(prepared, run):
    """The final answer row and the charge, in one transaction (flush; the caller commits)."""
    answer, finish, provider = prepared.answer, run.finish, prepared.provider
    ended = time.perf_counter()
    answer.text = drop_unresolved_citations("".join(run.parts), len(prepared.sources))
    if finish.reason == ERROR:
        answer.status, answer.error = FAILED, finish.error.message
    elif finish.reason == REASON_STOPPED:
        answer.status = STOPPED
    else:
        answer.status = COMPLETE
    usage = finish.usage
    answer.prompt_tokens, answer.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    answer.usage_estimated = usage.estimated
    if provider is not None:  # None: deleted while the answer was written (the price stays 0)
        answer.price = answer_price(usage.prompt_tokens, usage.completion_tokens, provider.input_price,
                                    provider.output_price)
        answer.currency = provider.currency
    answer.latency_ms = round((ended - run.started) * 1000)
    answer.ttft_ms = round((run.first_token - run.started) * 1000) if run.first_token else None
    kind = provider.kind if provider is not None else "deleted"
    if run.first_token:
        metrics.model_ttft.labels(kind).observe(run.first_token - run.started)
    metrics.model_tokens.labels(kind, "prompt").inc(usage.prompt_tokens or 0)
    metrics.model_tokens.labels(kind, "completion").inc(usage.completion_tokens or 0)
    db.session.flush()
    charging.after_answer(prepared.reservation, answer)
    db.session.flush()
