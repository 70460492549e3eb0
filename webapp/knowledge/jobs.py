"""The indexing job: ``knowledge.index_file`` reads a file's bytes into chunks.

How it stays correct with several workers and with workers that die:

* one unfinished job per file (``dedupe_key``), claimed under a lease
  (``webapp.jobs``): two workers never hold one file's job at once;
* while it parses, the job writes only the file's status and progress, in
  short transactions of their own that apply only while this claim still
  holds the job's lease; the session holds no writes during the long part
  (SQLite has one writer), and the lease is extended as progress is made;
* the old chunks are replaced by the new ones, and the status set, in the
  runner's one commit with the job's completion: searches see the old chunks
  or the new ones, never a mix or none;
* a worker killed mid-file leaves the file "indexing" and the job's lease
  lapsing; the next worker claims the job and starts the file again.

The file's own problems (damaged, encrypted, scanned, too large) are settled
outcomes, not errors: the file ends ``failed`` or ``empty`` with the reason.
"""
import logging
import re
import time

import sqlalchemy as sa

from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs import PermanentFailure, RetryLater, job_handler
from webapp.jobs.models import RUNNING, Job
from webapp.knowledge import parsing
from webapp.knowledge.chunking import chunk_document
from webapp.knowledge.embedding import queue_embedding
from webapp.knowledge.errors import FileRefused
from webapp.knowledge.models import (
    EMPTY,
    FAILED,
    HEADING_SEPARATOR,
    INDEXING,
    READY,
    VECTORS_OFF,
    KnowledgeChunk,
    KnowledgeFile,
)
from webapp.knowledge.service import INDEX_JOB, KEPT_REFUSALS
from webapp.knowledge.storage import StorageUnavailable, get_storage
from webapp.stores.models import Store

log = logging.getLogger("webapp.knowledge")

#: Tokens per chunk (by ``chunking.estimate_tokens``): a few fit a small model's context.
CHUNK_TOKENS = 256
#: Seconds between progress writes (and lease extensions).
PROGRESS_INTERVAL = 0.5
#: Chunks per INSERT statement.
INSERT_BATCH = 500
LEASE_SECONDS = 120

# C0 controls other than tab and newline: never wanted in stored text, and the
# search marks matched terms with two of them (webapp.knowledge.search).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@job_handler(INDEX_JOB, max_attempts=5, lease_seconds=LEASE_SECONDS, backoff_base=5, backoff_cap=300)
def index_file(job):
    """Parse, chunk and index the file ``job.payload["file_id"]``; see the module docstring."""
    file = db.session.get(KnowledgeFile, job.payload["file_id"])
    if file is None:
        return  # deleted since it was queued
    progress = _Progress(job, file.id)
    progress.report(INDEXING, 0)
    try:
        try:
            data = get_storage().read(file.storage_key)
        except FileNotFoundError:
            raise RetryLater("The file's bytes are not in the file storage yet.") from None
        except StorageUnavailable as exc:
            # Another host's web process took the upload: the bytes are in the object store,
            # which does not answer now. Retried with backoff; the reason shows on the job.
            raise RetryLater(f"The file storage did not answer ({exc.detail}).") from None
        try:
            document = parsing.parse(data, file.name, progress=lambda fraction: progress.report(
                INDEXING, int(80 * fraction)))
        except KEPT_REFUSALS as refusal:
            _settle(file, EMPTY, refusal)
            return
        except FileRefused as refusal:
            _settle(file, FAILED, refusal)
            return
        progress.report(INDEXING, 85)
        chunks = chunk_document(document, max_tokens=CHUNK_TOKENS)
        progress.report(INDEXING, 90)
        _replace_chunks(file, chunks)
        file.status, file.progress, file.error, file.reason = READY, 100, None, None
        file.chunk_count, file.text_chars, file.indexed_at = len(chunks), document.text_length, utcnow()
        if document.warnings:
            file.reason = " ".join(document.warnings)[:2000]
        db.session.flush()
        # Searchable by full text from this commit on; the vectors are the second stage.
        queue_embedding(file, db.session.get(Store, file.store_id))
        log.info("Indexed file %s: %s chunks", file.id, len(chunks))
    except RetryLater as outcome:
        if job.attempt >= job.max_attempts:
            _give_up(job, "storage_unavailable", f"Storehouse could not read this file: {outcome.message} "
                     "Tell your administrator, then use Reindex.")
            raise PermanentFailure(outcome.message) from None
        raise
    except PermanentFailure:
        raise
    except Exception as exc:
        if job.attempt >= job.max_attempts:
            _give_up(job, "internal_error", "Storehouse could not index this file because of an error on the "
                     f"server ({type(exc).__name__}). Try Reindex later; if it fails again, tell your "
                     "administrator.")
            raise PermanentFailure(f"{type(exc).__name__}: {exc}") from exc
        raise


def _give_up(job, error, reason):
    """The last attempt failed for a reason that is not the file's: say so on the file, keep no chunks change."""
    db.session.rollback()
    file = db.session.get(KnowledgeFile, job.payload["file_id"])
    if file is not None:
        file.status, file.progress, file.error, file.reason = FAILED, 100, error, reason
        file.vector_status, file.vector_progress, file.vector_reason = VECTORS_OFF, 0, None
        db.session.flush()


def _settle(file, status, refusal):
    """End ``file`` without chunks: ``empty`` (no text to index) or ``failed``, with the reason."""
    db.session.execute(sa.delete(KnowledgeChunk).where(KnowledgeChunk.file_id == file.id))
    file.status, file.progress, file.error, file.reason = status, 100, refusal.error, refusal.message
    file.chunk_count, file.text_chars, file.indexed_at = 0, 0, utcnow()
    file.vector_status, file.vector_progress, file.vector_reason = VECTORS_OFF, 0, None
    db.session.flush()
    log.info("File %s is %s: %s", file.id, status, refusal.error)


def _replace_chunks(file, chunks):
    db.session.execute(sa.delete(KnowledgeChunk).where(KnowledgeChunk.file_id == file.id))
    rows = [
        {"store_id": file.store_id, "file_id": file.id, "ordinal": chunk.ordinal,
         "heading": HEADING_SEPARATOR.join(_clean(h).replace("\n", " ") for h in chunk.heading_path),
         "text": _clean(chunk.text), "token_count": chunk.token_count, "page": chunk.page,
         "page_end": chunk.page_end}
        for chunk in chunks
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        db.session.execute(sa.insert(KnowledgeChunk), rows[start:start + INSERT_BATCH])


def _clean(text):
    return _CONTROLS.sub("", text)


class _Progress:
    """Status and progress written as work advances, visible at once, only while we hold the job.

    Each write is its own short transaction on its own connection (the handler's
    session holds no writes while parsing), and extends the job's lease.
    """

    def __init__(self, job, file_id):
        self.job, self.file_id = job, file_id
        self.last = 0.0
        self.percent = -1

    def report(self, status, percent):
        now = time.monotonic()
        if percent == self.percent or (now - self.last < PROGRESS_INTERVAL and percent not in (0, 90)):
            return
        self.last, self.percent = now, percent
        held = (sa.select(Job.id).where(Job.id == self.job.id, Job.lease_token == self.job.token,
                                        Job.state == RUNNING).exists())
        with db.engine.begin() as connection:
            connection.execute(sa.update(KnowledgeFile).where(KnowledgeFile.id == self.file_id, held)
                               .values(status=status, progress=percent, updated_at=utcnow()))
        if not self.job.heartbeat():
            raise RetryLater("Another worker took this file over (this worker's lease lapsed).")
