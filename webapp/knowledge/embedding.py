"""The second indexing stage: vectors for a file's chunks (``knowledge.embed_file``), and bringing
a store's vectors in line with its embedding model (``knowledge.reconcile_vectors``).

A file is searchable by full text as soon as its chunks are written (the first
stage, ``webapp.knowledge.jobs``); that stage then queues this one
(``queue_embedding``). The embedder never fails the file:

* **batched and resumable**: chunks are embedded ``EMBED_BATCH`` at a time; each
  batch's vectors and the file's progress are written in a short transaction of
  their own, and only while this claim still holds the job's lease. A worker
  killed midway leaves the vectors written so far; the next claim embeds only
  the chunks that still have none of the current model;
* **retried with backoff** when the embedder is down, too slow, or answers
  garbage (wrong count or dimension, NaN): the file shows ``queued`` with the
  reason, search keeps working by full text, and after ``MAX_ATTEMPTS`` the
  vectors are ``failed`` (Reindex runs both stages again);
* **never across models**: vectors carry their provider, model and dimension;
  a store's ``vector_key`` names the model whose vectors cover all its ready
  files, and search uses vectors only while that is the store's current model.
  When the model changes, ``reconcile_vectors`` queues every file again and
  search uses full text until the last file is done.
"""
import logging

import sqlalchemy as sa

from webapp.extensions import db
from webapp.jobs import PermanentFailure, RetryLater, enqueue, job_handler
from webapp.jobs.models import RUNNING, Job
from webapp.knowledge.models import (
    READY,
    VECTORS_EMBEDDING,
    VECTORS_FAILED,
    VECTORS_OFF,
    VECTORS_QUEUED,
    VECTORS_READY,
    KnowledgeChunk,
    KnowledgeFile,
    KnowledgeVector,
)
from webapp.knowledge.search import HEADING_JOINER
from webapp.knowledge.vectors import encode
from webapp.providers.embeddings import get_embedder
from webapp.providers.errors import ProviderError
from webapp.providers.service import RECONCILE_VECTORS_JOB, config_for, embedding_provider_for_store, vector_key
from webapp.stores.models import Store

log = logging.getLogger("webapp.knowledge")

EMBED_JOB = "knowledge.embed_file"
#: Chunks per embedding call: ~1 s of the local model on one core, so progress moves
#: and a killed worker loses little.
EMBED_BATCH = 16
MAX_ATTEMPTS = 8
LEASE_SECONDS = 120
#: Files per reconcile pass (each gets its own job).
RECONCILE_BATCH = 500


def queue_embedding(file, store):
    """Queue the vectors of ``file`` (just indexed), or mark them "off" when ``store`` embeds nothing. Flushes.

    Runs in the transaction that writes the chunks: the vector job exists exactly
    when the chunks do. Creates the built-in embedding provider on first use.
    """
    provider = embedding_provider_for_store(store)
    if provider is None or file.status != READY or not file.chunk_count:
        file.vector_status, file.vector_progress, file.vector_reason = VECTORS_OFF, 0, None
        db.session.flush()
        return None
    file.vector_status, file.vector_progress, file.vector_reason = VECTORS_QUEUED, 0, None
    db.session.flush()
    return enqueue(EMBED_JOB, {"file_id": file.id}, dedupe_key=f"knowledge-embed:{file.id}")


def passage_text(chunk_heading, text):
    """What is embedded for a chunk: its heading path (context the text often lacks) and its text."""
    heading = HEADING_JOINER.join(chunk_heading.split("\n")) if chunk_heading else ""
    return f"{heading}\n{text}" if heading else text


@job_handler(EMBED_JOB, max_attempts=MAX_ATTEMPTS, lease_seconds=LEASE_SECONDS, backoff_base=10, backoff_cap=600)
def embed_file(job):
    """Embed the chunks of ``job.payload["file_id"]`` that have no vector of the store's model."""
    file = db.session.get(KnowledgeFile, job.payload["file_id"])
    if file is None or file.status != READY:
        return  # deleted, or being indexed again (that run queues this stage afresh)
    store = db.session.get(Store, file.store_id)
    provider = embedding_provider_for_store(store, create=False)
    if provider is None:
        file.vector_status, file.vector_progress, file.vector_reason = VECTORS_OFF, 0, None
        db.session.flush()
        return
    key = vector_key(provider)
    embedder = get_embedder(config_for(provider))
    dimension = _known_dimension(store, provider)
    done = _count(file, provider, missing=False)
    total = max(file.chunk_count, 1)
    try:
        while True:
            batch = _missing_chunks(file, provider)
            if not batch:
                break
            vectors = embedder.passages([passage_text(heading, text) for _, heading, text in batch],
                                        dimension=dimension)
            dimension = vectors.shape[1]
            done += len(batch)
            _write_batch(job, file, store, provider, [chunk_id for chunk_id, _, _ in batch], vectors,
                         min(99, int(100 * done / total)))
    except ProviderError as exc:
        _embedder_failed(job, file, exc.message)
    _finish(file, store, key)
    log.info("Embedded file %s with %s", file.id, key)


def _known_dimension(store, provider):
    """The dimension of the store's vectors of this model, when it has any (a model must not change it)."""
    return db.session.execute(
        sa.select(KnowledgeVector.dimension)
        .where(KnowledgeVector.store_id == store.id, KnowledgeVector.provider_id == provider.id,
               KnowledgeVector.model == provider.model).limit(1)
    ).scalar_one_or_none()


def _vector_join(provider):
    return sa.and_(KnowledgeVector.chunk_id == KnowledgeChunk.id, KnowledgeVector.provider_id == provider.id,
                   KnowledgeVector.model == provider.model)


def _count(file, provider, missing):
    query = (sa.select(sa.func.count()).select_from(KnowledgeChunk)
             .outerjoin(KnowledgeVector, _vector_join(provider))
             .where(KnowledgeChunk.file_id == file.id))
    query = query.where(KnowledgeVector.chunk_id.is_(None) if missing else KnowledgeVector.chunk_id.is_not(None))
    return db.session.execute(query).scalar_one()


def _missing_chunks(file, provider):
    """The next ``EMBED_BATCH`` chunks of ``file`` without a vector of ``provider``'s model (by id)."""
    return db.session.execute(
        sa.select(KnowledgeChunk.id, KnowledgeChunk.heading, KnowledgeChunk.text)
        .outerjoin(KnowledgeVector, _vector_join(provider))
        .where(KnowledgeChunk.file_id == file.id, KnowledgeVector.chunk_id.is_(None))
        .order_by(KnowledgeChunk.id).limit(EMBED_BATCH)
    ).all()


def _write_batch(job, file, store, provider, chunk_ids, vectors, percent):
    """One batch's vectors and the file's progress, in a transaction of their own, while we hold the job.

    :raises RetryLater: the lease went to another worker (nothing written).
    """
    rows = [{"chunk_id": chunk_id, "store_id": store.id, "provider_id": provider.id, "model": provider.model,
             "dimension": int(vectors.shape[1]), "vector": blob}
            for chunk_id, blob in zip(chunk_ids, encode(vectors), strict=True)]
    with db.engine.begin() as connection:
        held = connection.execute(sa.select(Job.id).where(Job.id == job.id, Job.lease_token == job.token,
                                                          Job.state == RUNNING)).first()
        if held is None:
            raise RetryLater("Another worker took this file's vectors over (this worker's lease lapsed).")
        # A vector of an earlier model goes: one vector per chunk.
        connection.execute(sa.delete(KnowledgeVector).where(KnowledgeVector.chunk_id.in_(chunk_ids)))
        connection.execute(sa.insert(KnowledgeVector), rows)
        connection.execute(sa.update(KnowledgeFile).where(KnowledgeFile.id == file.id)
                           .values(vector_status=VECTORS_EMBEDDING, vector_progress=percent, vector_reason=None))
    if not job.heartbeat():
        raise RetryLater("Another worker took this file's vectors over (this worker's lease lapsed).")


def _embedder_failed(job, file, message):
    """Say why on the file and retry later, or give up after the last attempt (the file stays searchable)."""
    if job.attempt >= job.max_attempts:
        file.vector_status = VECTORS_FAILED
        file.vector_reason = (f"{message} Gave up after {job.attempt} attempts; the file is searchable by "
                              "full text. Use Reindex to try again.")[:2000]
        db.session.flush()
        raise PermanentFailure(message)
    file.vector_status = VECTORS_QUEUED
    file.vector_reason = (f"{message} Trying again shortly (attempt {job.attempt} of {job.max_attempts}); "
                          "the file is searchable by full text meanwhile.")[:2000]
    db.session.flush()
    raise RetryLater(message)


def _finish(file, store, key):
    """The file's vectors are complete: bump the store's version, and when no other ready file of the
    store still waits, its vectors of ``key`` are complete too (``vector_key``)."""
    file.vector_status, file.vector_progress, file.vector_reason = VECTORS_READY, 100, None
    db.session.flush()
    if db.engine.dialect.name == "postgresql":
        # Two files finishing at once: the second waits here and then sees the first as ready.
        db.session.execute(sa.select(Store.id).where(Store.id == store.id).with_for_update())
    pending = db.session.execute(
        sa.select(KnowledgeFile.id)
        .where(KnowledgeFile.store_id == store.id, KnowledgeFile.status == READY,
               KnowledgeFile.vector_status.in_([VECTORS_QUEUED, VECTORS_EMBEDDING]))
        .limit(1)
    ).first()
    values = {"vector_version": Store.vector_version + 1}
    if pending is None:
        values["vector_key"] = key
    db.session.execute(sa.update(Store).where(Store.id == store.id).values(**values))
    db.session.expire(store, ["vector_version", "vector_key"])


@job_handler(RECONCILE_VECTORS_JOB, max_attempts=5, lease_seconds=300, backoff_base=5, backoff_cap=300)
def reconcile_vectors(job):
    """Re-embed the store ``job.payload["store_id"]`` (or every store) whose model changed; drop the
    vectors of a store that embeds nothing now."""
    query = sa.select(Store).order_by(Store.id)
    if job.payload.get("store_id") is not None:
        query = query.where(Store.id == job.payload["store_id"])
    for store in db.session.execute(query).scalars().all():
        _reconcile_store(store)


def _reconcile_store(store):
    provider = embedding_provider_for_store(store)
    key = vector_key(provider) if provider is not None else None
    if provider is None:
        db.session.execute(sa.delete(KnowledgeVector).where(KnowledgeVector.store_id == store.id))
        db.session.execute(sa.update(KnowledgeFile).where(KnowledgeFile.store_id == store.id)
                           .values(vector_status=VECTORS_OFF, vector_progress=0, vector_reason=None))
        store.vector_key, store.vector_version = None, store.vector_version + 1
        db.session.flush()
        return
    if store.vector_key == key:
        return
    # Search ignores vectors from here until every file has the new model's (vector_key).
    store.vector_key, store.vector_version = None, store.vector_version + 1
    db.session.flush()
    last_id, queued = 0, 0
    while True:
        files = db.session.execute(
            sa.select(KnowledgeFile).where(KnowledgeFile.store_id == store.id, KnowledgeFile.id > last_id,
                                           KnowledgeFile.status == READY)
            .order_by(KnowledgeFile.id).limit(RECONCILE_BATCH)
        ).scalars().all()
        if not files:
            break
        for file in files:
            queue_embedding(file, store)
            queued += 1
        last_id = files[-1].id
    if not queued:
        store.vector_key = key
        db.session.flush()
    log.info("Store %s: %s files queued for %s vectors", store.id, queued, key)
