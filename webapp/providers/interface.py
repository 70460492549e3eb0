"""The one interface over the local model and OpenAI-compatible servers.

::

    provider = get_provider(config)
    for event in provider.stream(messages, should_stop=stop_requested):
        if isinstance(event, Waiting):   # the local model is busy: show "waiting for the model"
            ...
        elif isinstance(event, Delta):   # the next piece of the answer
            ...
        else:                            # Finish: always the last event, exactly one
            record(event.reason, event.usage, event.error)

What billing relies on: the ``Finish`` always carries the usage, also when the
answer failed midway or was stopped, counting the tokens actually consumed.
Counts are the provider's own where it gave them (the local model always does),
else estimated with an offline tokenizer and flagged ``estimated=True``. A
request the server never accepted (unreachable, refused key, unknown model,
rate limited, no answer before the timeout) consumed nothing we can count:
zero tokens, not estimated.

Errors reach the caller inside ``Finish.error`` (a ``ProviderError`` with a
message for a person), never as exceptions out of ``stream``; programming
errors (a malformed ``messages`` list) raise ``ValueError``. Providers never
retry: ``error.is_retryable`` says whether the caller may.

Stopping: ``should_stop`` is called between tokens. When it returns True the
generation really stops (the local model stops generating, an HTTP stream is
closed, which makes the server stop) and the stream ends with
``Finish(reason="stopped")`` counting what was generated. To abandon a stream,
make ``should_stop`` return True and read on to the ``Finish``; closing the
generator early frees the model and the connection but delivers no usage.

This module is the interface and knows no SDK: ``webapp.providers.runtimes``
picks the implementation (``local_model``, ``openai_compatible``).
"""
from dataclasses import dataclass, field

from webapp.providers.errors import ProviderError
from webapp.providers.tokens import BUNDLED_MODEL

KINDS = ("local", "openai")
ROLES = ("system", "user", "assistant")

COMPLETE = "complete"  #: the model finished its answer
LENGTH = "length"  #: cut at the maximum answer tokens (or the end of the context)
STOPPED = "stopped"  #: should_stop asked for it
ERROR = "error"  #: see Finish.error
REASONS = (COMPLETE, LENGTH, STOPPED, ERROR)


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one model. Built by the chat service from a Provider row.

    ``api_key`` is left out of ``repr`` (and so of ``str`` and of logs that
    print a config); no message built from a config includes it.
    """

    #: "local" (a GGUF model in this process) or "openai" (any OpenAI-compatible server).
    kind: str
    #: Shown to people in messages ("The model server 'Research GPU' at ...").
    name: str
    #: The model the server serves; for "local", the bundled model's name or a .gguf path.
    model: str = ""
    #: For "openai": the API root, usually ending in /v1. Unused for "local".
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    #: Tokens the model reads at once (prompt + answer); for "local" also llama.cpp's n_ctx.
    context_length: int = 2048
    #: Maximum answer tokens, unless a call asks for fewer or more.
    max_tokens: int = 512
    #: Seconds: connect and each read for "openai"; the longest wait for a busy model for "local".
    timeout: float = 60.0
    #: None: the server's default (the local model uses 0.2, as SmolLM2's authors suggest).
    temperature: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == "openai" and not (self.base_url and self.model):
            raise ValueError("an OpenAI-compatible provider needs a base_url and a model")
        if self.context_length < 1 or self.max_tokens < 1:
            raise ValueError("context_length and max_tokens must be positive")
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")


def default_local_config():
    """The zero-configuration provider: SmolLM2-135M-Instruct in this process."""
    return ProviderConfig(kind="local", name=f"Local ({BUNDLED_MODEL})", model=BUNDLED_MODEL)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    #: True when the provider reported no usage and the counts come from an offline tokenizer.
    estimated: bool = False

    @property
    def total_tokens(self):
        return self.prompt_tokens + self.completion_tokens


NO_USAGE = Usage(0, 0)


@dataclass(frozen=True)
class Waiting:
    """The local model is answering someone else; this answer starts when it is free."""


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finish:
    """The last event of every stream. ``error`` is set exactly when ``reason`` is "error"."""

    reason: str
    usage: Usage
    error: ProviderError | None = None

    def __post_init__(self):
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}, not {self.reason!r}")
        if (self.reason == ERROR) != (self.error is not None):
            raise ValueError("a Finish carries an error exactly when its reason is 'error'")


@dataclass(frozen=True)
class Completion:
    """A whole answer: its text (partial when ``finish.reason`` is not "complete") and its Finish."""

    text: str
    finish: Finish


def check_messages(messages):
    """:raises ValueError: ``messages`` is not a non-empty list of {"role", "content": str}."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise ValueError(f"each message needs a role in {ROLES} and a str content, not {message!r:.80}")


def never_stop():
    """The default should_stop: run to the end."""
    return False


class ChatProvider:
    """One model behind the provider interface. Subclasses implement ``stream`` and ``count_tokens``."""

    #: True when ``count_tokens`` is the model's own count, False for an estimate.
    tokens_are_exact = False

    def __init__(self, config):
        self.config = config

    def __repr__(self):
        return f"<{type(self).__name__} {self.config.name!r} {self.config.model!r}>"

    def stream(self, messages, *, max_tokens=None, should_stop=never_stop):
        """Generate the answer to ``messages``: ``Waiting``?, ``Delta``*, then one ``Finish``.

        :param messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
        :param max_tokens: the most answer tokens; the config's ``max_tokens`` when None.
        :param should_stop: polled between tokens; True stops the generation for real.
        :raises ValueError: ``messages`` is malformed (nothing else is raised: see the module doc).
        """
        raise NotImplementedError

    def count_tokens(self, messages):
        """Prompt tokens ``messages`` take, before anything runs (the context budget, the
        billing dry run). Deterministic; exact when ``tokens_are_exact``.

        :raises ProviderError: the tokenizer cannot be loaded (local model missing).
        """
        raise NotImplementedError

    def complete(self, messages, *, max_tokens=None):
        """The whole answer at once, as a ``Completion``; errors are in ``completion.finish.error``."""
        parts = []
        for event in self.stream(messages, max_tokens=max_tokens):
            if isinstance(event, Delta):
                parts.append(event.text)
            elif isinstance(event, Finish):
                return Completion("".join(parts), event)
        raise AssertionError("a provider stream ended without a Finish")

    def answer_budget(self, max_tokens):
        """The most answer tokens a call may generate: ``max_tokens``, else the config's."""
        budget = self.config.max_tokens if max_tokens is None else max_tokens
        if budget < 1:
            raise ValueError("max_tokens must be positive")
        return budget
