"""The prompt: the store's system prompt, the numbered sources, recent history, the question,
within the model's context budget counted in tokens.

Budget: ``context_length - answer room``, where the answer room is the
provider's ``max_tokens`` (but at least a quarter of the context is left for
the prompt). What does not fit is left out in this order: the oldest history
first, then the lowest-ranked sources (the numbering of those kept stays
1..k, contiguous). The question and the system prompt are always sent; if
they alone do not fit, the provider reports ``PromptTooLong``.

Pieces are counted one at a time as plain text with SmolLM2's tokenizer (the
local model's own; the usual estimate for other servers) plus ``FRAMING``
tokens for a message's template markup, which overestimates slightly; then
the whole prompt is counted once with the provider's own counter (what billing
reserves). Should that exact count still exceed the budget, the oldest history
goes until it fits. Rendering the chat template for every piece cost some
10 ms per question; plain-text counts cost a tenth of that.
"""
from dataclasses import dataclass

from webapp.providers.tokens import estimate_text_tokens

#: Tokens a message's template markup may add around its text (ChatML: about 5).
FRAMING = 8

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and precisely."
GROUNDING = (
    "Answer the question using the numbered sources below. Cite the sources you use as [1], [2] and so on. "
    "If the sources do not contain the answer, say that the store's knowledge does not cover it."
)
#: Added after the question whenever sources are sent: models follow the last thing they read
#: best. Measured with ``bench/answers.py`` (the table is in the README, "Grounded answers"):
#: with this line the 1.5B model cited the right source far more often; an example sentence
#: in its place made models copy the example into their answers.
CITE_LINE = "Answer from the sources above and cite each fact's source as [n]."
NO_KNOWLEDGE = "No knowledge of the store matched this question; say so, then answer briefly if you can."


@dataclass(frozen=True)
class Prompt:
    messages: list
    #: The sources kept, numbered 1..k (a prefix of the retrieved ones).
    sources: list
    #: How many earlier messages were kept.
    history_kept: int
    #: The most answer tokens left by the context.
    max_tokens: int
    #: The provider's own count of ``messages`` (an estimate for OpenAI-compatible servers).
    prompt_tokens: int = 0


def source_block(source):
    where = source.file_name + (f" — {source.heading}" if source.heading else "")
    return f"[{source.n}] {where}\n{source.text.strip()}"


def system_text(system_prompt, sources):
    head = (system_prompt or "").strip() or DEFAULT_SYSTEM_PROMPT
    if not sources:
        return f"{head}\n\n{NO_KNOWLEDGE}"
    return head + "\n\n" + GROUNDING + "\n\nSources:\n\n" + "\n\n".join(source_block(s) for s in sources)


def user_text(question, sources, cite_line=CITE_LINE):
    """The last user turn: the question, then ``cite_line`` when there are sources to cite."""
    if not sources or not cite_line:
        return question
    return f"{question}\n\n{cite_line}"


def build_prompt(provider, config, system_prompt, sources, history, question, cite_line=CITE_LINE):
    """The messages for ``provider`` (a ``ChatProvider``) within ``config``'s context.

    :param sources: ``retrieval.Source`` list, best first, numbered 1..k.
    :param history: earlier ``(role, text)`` pairs of the chat, oldest first.
    :param cite_line: the instruction after the question (``CITE_LINE``; the grounding bench
        passes other wordings, or "" for none, to compare them).
    """
    context = config.context_length
    answer_room = min(config.max_tokens, context - context // 4)
    budget = context - answer_room

    def cost(text):
        return estimate_text_tokens(text) + FRAMING

    used = cost(user_text(question, sources, cite_line)) + cost(system_text(system_prompt, []))
    kept_sources = []
    for source in sources:
        piece = cost(source_block(source)) - FRAMING + 2
        if used + piece > budget:
            break
        kept_sources.append(source)
        used += piece
    kept_history = []
    for role, text in reversed(history):
        piece = cost(text)
        if used + piece > budget:
            break
        kept_history.append({"role": role, "content": text})
        used += piece
    kept_history.reverse()
    # A chat template wants turns to alternate starting with the user: drop a leading answer.
    while kept_history and kept_history[0]["role"] != "user":
        kept_history.pop(0)
    def assemble():
        return [{"role": "system", "content": system_text(system_prompt, kept_sources)},
                *kept_history, {"role": "user", "content": user_text(question, kept_sources, cite_line)}]

    messages = assemble()
    prompt_tokens = provider.count_tokens(messages)
    while prompt_tokens > budget and kept_history:
        del kept_history[:2 if len(kept_history) > 1 else 1]
        messages = assemble()
        prompt_tokens = provider.count_tokens(messages)
    return Prompt(messages=messages, sources=kept_sources, history_kept=len(kept_history),
                  max_tokens=answer_room, prompt_tokens=prompt_tokens)
