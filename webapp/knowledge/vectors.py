"""The vector side of search: chunk vectors in the database, a per-process matrix, exact scoring.

One small interface, ``VectorIndex.nearest(store, key, query, k)``, so that an
engine (pgvector, an ANN library) can replace the implementation later without
touching search or the embedding stage.

``MatrixIndex``, the one here:

* the database (``knowledge_vectors``) is the source of truth: float16 blobs,
  768 bytes per 384-dimension chunk;
* a process loads one store's vectors of one model (``key``, see
  ``webapp.providers.service.vector_key``) into a float32 matrix on first use
  and scores it exactly (one matrix-vector product, then a partial sort);
* the matrix is cached per store, tagged with the store's ``vector_version``
  (bumped whenever a file's vectors are complete or the store's vectors are
  dropped) and the key: another version or key loads it again;
* the cache holds at most ``VECTOR_CACHE_MB`` of matrices in this process,
  least recently used evicted first; a store larger than the whole budget is
  scored from a fresh load each time (correct, slow) and never cached.

float32 in memory rather than float16: numpy has no fast half-precision
product (measured: ~10x slower).

**Memory and size** (bench/retrieval.py, 384 dimensions, measured 2026-12-07):
per 100,000 chunks the cache holds 147 MiB (the float32 matrix, 1,536 bytes a
chunk, plus 0.8 MiB of ids) and the database 73 MiB of float16 blobs; the
default ``VECTOR_CACHE_MB`` (512) keeps about 340,000 chunks' matrices. Scoring
is one pass over the matrix, so its time grows linearly with the store: at
100,000 chunks the vector side (the query's embedding, ~6 ms, included) took
p50 25 ms, p99 69 ms on SQLite's run of this 2-core machine while it was shared
(load 3-8), the matrix product alone ~20 ms. A hybrid search runs it beside
the full-text statement (``search._vector_search_aside``), so it costs about
the slower of the two. The largest store served within the 30 ms p99 target,
scaling that run's p99 linearly ((30 - 6) / 62 ms per 100,000 chunks), is
about 40,000 chunks on this machine under that load; a quiet machine was not
available to measure. Past that, an engine behind ``VectorIndex`` (int8
scoring, an approximate index) is the way on.

numpy is imported where vectors are handled, not with the module: a process that
handles none (``flask jobs worker`` delivering charges) starts without it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.knowledge.models import KnowledgeVector

if TYPE_CHECKING:
    import numpy as np

#: How vectors are stored: little-endian float16 (a numpy dtype spec).
STORED_DTYPE = "<f2"
MiB = 1024 * 1024


def encode(vectors):
    """Rows of ``vectors`` (float32, n x d) as stored blobs (float16 bytes), one per row."""
    import numpy as np

    half = np.asarray(vectors, dtype=np.float32).astype(STORED_DTYPE)
    return [row.tobytes() for row in half]


def decode(blobs, dimension):
    """Stored blobs of ``dimension`` as one float32 matrix (n x d)."""
    import numpy as np

    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=STORED_DTYPE).reshape(len(blobs), dimension).astype(np.float32)


def split_key(key):
    """``"<provider id>/<model>"`` as ``(provider_id, model)``."""
    provider_id, _, model = key.partition("/")
    return int(provider_id), model


class VectorIndex:
    """Nearest chunks of one store by cosine similarity, among vectors of one model."""

    def nearest(self, store, key, query, k):
        """The ``k`` chunks of ``store`` whose ``key`` vectors are most similar to ``query``.

        :param query: a unit float32 vector of the model's dimension.
        :returns: ``[(chunk_id, similarity), ...]``, most similar first; ``[]`` when
            the store has no vectors of ``key`` (or of ``query``'s dimension).
        """
        raise NotImplementedError


@dataclass
class _Matrix:
    version: int
    key: str
    ids: np.ndarray
    matrix: np.ndarray

    @property
    def nbytes(self):
        return self.ids.nbytes + self.matrix.nbytes


class MatrixIndex(VectorIndex):
    """Exact scoring of a cached per-store float32 matrix (see the module docstring)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache = OrderedDict()
        self._bytes = 0

    def nearest(self, store, key, query, k):
        return _score(self._matrix(store, key, query.shape[0]), query, k)

    def cached(self, store, key):
        """A scorer for ``store``'s cached ``key`` matrix, or None when it is not cached at the store's
        version. The scorer, ``scorer(query, k)``, answers as :meth:`nearest` without the database
        or the app: it may run in another thread."""
        entry = self._fresh(store, key)
        if entry is None:
            return None
        return lambda query, k: _score(entry if entry.matrix.shape[1] == query.shape[0] else None, query, k)

    def cached_bytes(self):
        return self._bytes

    def clear(self):
        with self._lock:
            self._cache.clear()
            self._bytes = 0

    def _fresh(self, store, key):
        """The cached entry of ``store`` at its current version and ``key`` (marked recently used), or None."""
        with self._lock:
            entry = self._cache.get(store.id)
            if entry is None or entry.version != store.vector_version or entry.key != key:
                return None
            self._cache.move_to_end(store.id)
            return entry

    def _matrix(self, store, key, dimension):
        entry = self._fresh(store, key)
        if entry is not None:
            return entry if entry.matrix.shape[1] == dimension else None
        entry = _load(store, key, dimension)
        budget = int(current_app.config.get("VECTOR_CACHE_MB", 512) * MiB)
        with self._lock:
            old = self._cache.pop(store.id, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes <= budget:
                while self._cache and self._bytes + entry.nbytes > budget:
                    _, evicted = self._cache.popitem(last=False)
                    self._bytes -= evicted.nbytes
                self._cache[store.id] = entry
                self._bytes += entry.nbytes
        return entry


def _score(entry, query, k):
    if entry is None or not len(entry.ids):
        return []
    import numpy as np

    scores = entry.matrix @ query
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(entry.ids[i]), float(scores[i])) for i in top]


def _load(store, key, dimension):
    provider_id, model = split_key(key)
    rows = db.session.execute(
        sa.select(KnowledgeVector.chunk_id, KnowledgeVector.vector)
        .where(KnowledgeVector.store_id == store.id, KnowledgeVector.provider_id == provider_id,
               KnowledgeVector.model == model, KnowledgeVector.dimension == dimension)
        .order_by(KnowledgeVector.chunk_id)
    ).all()
    import numpy as np

    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    return _Matrix(store.vector_version, key, ids, decode([row[1] for row in rows], dimension))


#: This process's index (each gunicorn worker has its own cache).
index = MatrixIndex()
