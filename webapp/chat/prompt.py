"""The prompt: the store's system prompt, the numbered sources, recent history, the question,
within the model's context budget counted in tokens.

Budget: ``context_length - answer room``, where the answer room is the
provider's ``max_tokens`` (but at least a quarter of the context is left for
the prompt). What does not fit is left out in this order: the oldest history
first, then the lowest-ranked sources (the numbering of those kept stays
1..k, contiguous). The question and the system prompt are always sent; if
they alone do not fit, the provider reports ``PromptTooLong``.

Pieces are counted one at a time with the provider's own counter (a message
alone costs its text plus the template's framing, so the sum overestimates
slightly: the prompt never overflows), then the whole prompt is counted once
exactly: that count is what billing reserves.
"""
from dataclasses import dataclass

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and precisely."
GROUNDING = (
    "Answer the question using the numbered sources below. Cite the sources you use as [1], [2] and so on. "
    "If the sources do not contain the answer, say that the store's knowledge does not cover it."
)
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


def source_block(source):
    where = source.file_name + (f" — {source.heading}" if source.heading else "")
    return f"[{source.n}] {where}\n{source.text.strip()}"


def system_text(system_prompt, sources):
    head = (system_prompt or "").strip() or DEFAULT_SYSTEM_PROMPT
    if not sources:
        return f"{head}\n\n{NO_KNOWLEDGE}"
    return head + "\n\n" + GROUNDING + "\n\nSources:\n\n" + "\n\n".join(source_block(s) for s in sources)


def build_prompt(provider, config, system_prompt, sources, history, question):
    """The messages for ``provider`` (a ``ChatProvider``) within ``config``'s context.

    :param sources: ``retrieval.Source`` list, best first, numbered 1..k.
    :param history: earlier ``(role, text)`` pairs of the chat, oldest first.
    """
    context = config.context_length
    answer_room = min(config.max_tokens, context - context // 4)
    budget = context - answer_room

    def cost(role, text):
        return provider.count_tokens([{"role": role, "content": text}])

    used = cost("user", question) + cost("system", system_text(system_prompt, []))
    kept_sources = []
    for source in sources:
        piece = provider.count_tokens([{"role": "user", "content": source_block(source)}])
        if used + piece > budget:
            break
        kept_sources.append(source)
        used += piece
    kept_history = []
    for role, text in reversed(history):
        piece = cost(role, text)
        if used + piece > budget:
            break
        kept_history.append({"role": role, "content": text})
        used += piece
    kept_history.reverse()
    # A chat template wants turns to alternate starting with the user: drop a leading answer.
    while kept_history and kept_history[0]["role"] != "user":
        kept_history.pop(0)
    messages = [{"role": "system", "content": system_text(system_prompt, kept_sources)},
                *kept_history, {"role": "user", "content": question}]
    return Prompt(messages=messages, sources=kept_sources, history_kept=len(kept_history),
                  max_tokens=answer_room)
