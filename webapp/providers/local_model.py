"""The local provider: a GGUF model (SmolLM2-135M-Instruct by default) run in this process.

The model is loaded once per process, on first use, and shared by every
request. A llama.cpp context is not thread-safe, so one generation runs at a
time per loaded model; a stream that finds it busy emits ``Waiting`` and
queues on the model's lock (polling ``should_stop``, and giving up after the
provider's timeout).

Counts are the model's own: the prompt's tokens are those of the chat template
rendered with the model's tokenizer, and every token generated is counted as
it comes, so usage is never estimated.
"""
import codecs
import logging
import os
import threading
import time

from webapp.providers.errors import LocalModelBusy, LocalModelFailed, LocalModelUnavailable, PromptTooLong
from webapp.providers.interface import (
    COMPLETE,
    ERROR,
    LENGTH,
    NO_USAGE,
    STOPPED,
    ChatProvider,
    Delta,
    Finish,
    Usage,
    Waiting,
    check_messages,
    never_stop,
)
from webapp.providers.process_cache import ProcessCache
from webapp.providers.tokens import get_tokenizer, import_llama_cpp, load_llama, model_path

log = logging.getLogger("webapp.providers.local_model")

#: Threads llama.cpp uses for one generation (prompt and answer): half the cores, at most 4.
#: Its threads spin while they wait for each other, so on a busy machine more threads is
#: slower, not faster: on 2 shared cores, 2 threads gave 1-3 tokens/s and a 6-13 s first
#: token where 1 thread gave 25-30 tokens/s and 0.5-0.8 s.
THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
#: Sampling when the provider sets no temperature: SmolLM2's authors suggest 0.2 / 0.9.
DEFAULT_TEMPERATURE = 0.2
TOP_P = 0.9
#: SmolLM2-135M repeats itself readily; a mild penalty keeps answers moving.
REPEAT_PENALTY = 1.1
#: How often a waiting stream checks should_stop, in seconds.
WAIT_POLL = 0.1


class LocalModel:
    """A loaded GGUF model and the lock that lets one generation use it at a time."""

    def __init__(self, path, context_length):
        started = time.perf_counter()
        self.path = path
        self.context_length = context_length
        self.llama = load_llama(path, n_ctx=context_length, n_threads=THREADS, n_threads_batch=THREADS)
        self.lock = threading.Lock()
        self._is_eog = import_llama_cpp().llama_vocab_is_eog
        self._vocab = self.llama._model.vocab  # what llama-cpp-python (pinned) passes itself
        log.info("Loaded the local model %s (n_ctx=%d, %d threads) in %.2f s",
                 path.name, context_length, THREADS, time.perf_counter() - started)

    def is_end(self, token):
        """True for the tokens that end a turn (end of turn, end of text)."""
        return self._is_eog(self._vocab, token)


_models = ProcessCache(close=lambda model: model.llama.close())


def get_local_model(path, context_length):
    """The ``LocalModel`` for this file and context length, loaded once per process.

    :raises LocalModelUnavailable: llama-cpp-python or the file is missing, or it does not load.
    """
    return _models.get((str(path), context_length), lambda: LocalModel(path, context_length))


class LocalProvider(ChatProvider):
    tokens_are_exact = True

    @property
    def is_loaded(self):
        """True once this process has loaded the model (nothing loads before the first answer)."""
        try:
            path = model_path(self.config.model)
        except LocalModelUnavailable:
            return False
        return _models.peek((str(path), self.config.context_length)) is not None

    def count_tokens(self, messages):
        check_messages(messages)
        return get_tokenizer(model_path(self.config.model)).count_prompt(messages)

    def stream(self, messages, *, max_tokens=None, should_stop=never_stop):
        check_messages(messages)
        budget = self.answer_budget(max_tokens)
        name = self.config.name
        context_length = self.config.context_length
        try:
            path = model_path(self.config.model)
            # The vocabulary-only tokenizer, not the model: counting needs no turn on the lock.
            prompt = get_tokenizer(path).prompt_tokens(messages)
            room = context_length - len(prompt)
            if room < 1:
                yield Finish(ERROR, NO_USAGE, PromptTooLong(name, len(prompt), context_length))
                return
            model = get_local_model(path, context_length)
        except LocalModelUnavailable as exc:
            log.warning("Local provider %r cannot run: %s", name, exc.message)
            yield Finish(ERROR, NO_USAGE, exc)
            return
        if should_stop():
            yield Finish(STOPPED, NO_USAGE)
            return

        if not model.lock.acquire(blocking=False):
            yield Waiting()
            waited_since = time.monotonic()
            while not model.lock.acquire(timeout=WAIT_POLL):
                if should_stop():
                    yield Finish(STOPPED, NO_USAGE)
                    return
                if time.monotonic() - waited_since > self.config.timeout:
                    yield Finish(ERROR, NO_USAGE, LocalModelBusy(name, self.config.timeout))
                    return
        try:
            reason, generated, error = yield from self._generate(model, prompt, min(budget, room),
                                                                 should_stop)
        finally:
            model.lock.release()
        # Finish goes out after the lock is released: a caller that stops reading at
        # the Finish must not keep the model from the next person.
        yield Finish(reason, Usage(len(prompt), generated), error)

    def _generate(self, model, prompt, max_tokens, should_stop):
        """Yield the answer's ``Delta``s; return ``(reason, tokens generated, error)``.

        Runs with the model's lock held.
        """
        llama = model.llama
        temperature = DEFAULT_TEMPERATURE if self.config.temperature is None else self.config.temperature
        # A token may end inside a multi-byte character; the decoder holds it until complete.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated = 0
        reason, error = LENGTH, None
        tokens = llama.generate(prompt, temp=temperature, top_p=TOP_P, repeat_penalty=REPEAT_PENALTY)
        try:
            for token in tokens:
                if model.is_end(token):
                    reason = COMPLETE
                    break
                generated += 1
                text = decoder.decode(llama.detokenize([token]))
                if text:
                    yield Delta(text)
                if generated >= max_tokens:
                    break
                if should_stop():
                    reason = STOPPED
                    break
        except RuntimeError as exc:
            # llama.cpp reports decode failures (out of memory, a full context) this way.
            log.warning("Local provider %r failed after %d tokens: %s", self.config.name, generated, exc)
            reason, error = ERROR, LocalModelFailed(self.config.name, str(exc))
        finally:
            # Stop llama's generator here, not whenever it is collected.
            tokens.close()
        tail = decoder.decode(b"", final=True)
        if tail:
            yield Delta(tail)
        return reason, generated, error
