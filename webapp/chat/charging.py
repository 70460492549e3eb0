"""The one seam between answering and billing. Billing owns these bodies.

The chat service (``webapp.chat.answering``) calls exactly two functions (the
chat's pages also read ``charges_of`` and ``limits_of`` to show what billing knows):

1. ``before_answer(user, store, provider, prompt_tokens)`` once the prompt is
   built and counted, BEFORE the model runs. It returns an opaque reservation
   (or None) that is handed back to ``after_answer``. To refuse the answer
   (balance too low, or a spending limit of the store reached) it raises ``webapp.chat.errors.AnswerRefused(message)``:
   the model then never runs, the message is shown in the chat, and only the
   question is saved. ``provider`` is the ``webapp.providers.models.Provider`` row
   (prices per million tokens, ``max_tokens``, ``currency``); the answer may
   use up to ``provider.max_tokens`` completion tokens.

2. ``after_answer(reservation, message)`` in the SAME database transaction
   that saves the final answer ``message`` (a ``webapp.chat.models.Message``
   with role "assistant", status complete / stopped / failed, its usage,
   ``price`` (Decimal), ``currency`` and ``charge_key`` (UUID, the idempotency
   key) already set and flushed). It may add rows and ``flush``; it never
   commits (the chat view commits once). It is called for every answer that
   reached the model, including stopped and failed ones (whose tokens were
   consumed), and also with a price of zero. The answer's usage goes into the
   usage rollup (``webapp.chat.rollup``) here too, before billing sees it, so
   the period spend limits read already holds this answer when it commits.

Neither function may do network I/O inside the answer's transaction beyond
what billing decides is safe; delivery to Casdoor belongs to a job.
"""
from flask import current_app

from webapp.billing import limits, service
from webapp.billing.ledger import charges_of_answers
from webapp.chat import rollup
from webapp.chat.errors import AnswerRefused


def before_answer(user, store, provider, prompt_tokens):
    """Reserve what the answer may cost, or refuse it.

    The bound is the counted prompt tokens at the input price plus the
    provider's maximum answer tokens at the output price; it must fit the
    user's Casdoor balance and every spending limit of ``store`` that applies
    to them. A price of zero costs nothing here (no query, no call); a user
    without a Casdoor identity, or no Casdoor at all, only meets the limits.

    :returns: an opaque reservation for ``after_answer``, or None.
    :raises webapp.chat.errors.AnswerRefused: the answer may not start.
    """
    if not (provider.input_price or provider.output_price):
        return None
    bound = service.upper_bound(prompt_tokens, provider.max_tokens, provider.input_price or 0,
                                provider.output_price or 0)
    try:
        return service.reserve(user, bound, provider.currency, store=store)
    except service.AnswerNotAllowed as exc:
        raise AnswerRefused(exc.message) from exc


def limits_of(user, store):
    """``[webapp.billing.limits.Status]``: each spending limit that applies to ``user`` in ``store``
    (what this period has spent, what is left, when it resets, past its alert threshold or not),
    for the chat to show beside the question box. One query when the store has no limits."""
    return limits.status_for(store.id, user.id)


def charges_of(messages):
    """``{message_id: AnswerCharge}`` for the priced answers among ``messages`` (one query):
    how each was billed, and the link to its transaction in Casdoor's UI."""
    return charges_of_answers([m.id for m in messages if m.role == "assistant" and m.price], current_app)


def after_answer(reservation, message):
    """Record ``message``'s usage in the rollup and its charge, in the current transaction (flush only)."""
    if reservation is None and not message.price:
        rollup.record(message)
        return None
    return service.settle(reservation, message, usage=rollup.usage_of(message))
