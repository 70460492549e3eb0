"""Files of a store: accept an upload, queue its indexing, reindex, delete.

Services take explicit objects (store, user) and flush; the view commits.
What happens when:

* ``add_file`` checks the upload at once (size, quota, what the bytes are),
  stores the bytes, adds the row ``queued`` and the ``knowledge.index_file``
  job in the same transaction, so a file is never left without its job;
* refusals raise a :class:`~webapp.knowledge.errors.FileRefused` subclass and
  leave nothing behind (no row; bytes only if another row already had them);
* ``delete_file`` deletes the row (the chunks go with it, ``ON DELETE CASCADE``,
  and the full-text index with them) and removes the bytes after the commit
  when no other row names them.
"""
import hashlib
import logging
import re
import unicodedata

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError

from webapp.database import on_commit, savepoint
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.knowledge import parsing
from webapp.knowledge.errors import EmptyFile, EncryptedFile, FileRefused, KnowledgeError, NoExtractableText
from webapp.knowledge.models import QUEUED, SETTLED, KnowledgeFile
from webapp.knowledge.storage import get_storage
from webapp.security import describe_size
from webapp.stores.models import Store

log = logging.getLogger("webapp.knowledge")

MiB = 1024 * 1024
INDEX_JOB = "knowledge.index_file"

#: MIME type served for each detected kind.
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "text": "text/plain",
}
#: Refusals that still make a row: the file is kept and shows "no extractable text".
KEPT_REFUSALS = (EmptyFile, EncryptedFile, NoExtractableText)


class FileTooLarge(FileRefused):
    status_code = 413
    error = "file_too_large"

    def __init__(self, size, limit):
        super().__init__(f"This file is {describe_size(size)}; files may be at most {describe_size(limit)}. "
                         "Split it into smaller files, or save it without images.")


class QuotaExceeded(FileRefused):
    status_code = 413
    error = "store_quota_exceeded"

    def __init__(self, used, size, quota):
        super().__init__(f"This store holds {describe_size(used)} of files and may hold {describe_size(quota)}; "
                         f"this file ({describe_size(size)}) does not fit. Delete files you no longer need, "
                         "or ask an administrator for a larger quota.")


class FileBusy(KnowledgeError):
    status_code = 409
    error = "file_busy"

    def __init__(self):
        super().__init__("This file is being indexed already; wait until it is ready or failed.")


def max_file_bytes(app=None):
    return int((app or current_app).config["KNOWLEDGE_MAX_FILE_MB"] * MiB)


def quota_bytes(app=None):
    return int((app or current_app).config["KNOWLEDGE_STORE_QUOTA_MB"] * MiB)


def max_request_bytes(app=None):
    """What one upload request may carry: every file at the limit, plus form overhead."""
    app = app or current_app
    return max_file_bytes(app) * max(1, app.config["KNOWLEDGE_MAX_FILES_PER_UPLOAD"]) + MiB


# --- names -------------------------------------------------------------------

_PATH_SEPARATORS = re.compile(r"[\\/]")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
NAME_MAX = 255


def clean_name(raw):
    """An uploader's file name as display text: last path segment, no control or
    direction-changing characters, one line, at most ``NAME_MAX`` characters
    (the extension kept). Never a path: storage keys come from the content.
    """
    name = _PATH_SEPARATORS.split(unicodedata.normalize("NFC", raw or ""))[-1]
    name = _SPACES.sub(" ", _UNSAFE_CHARS.sub("", name)).strip().strip(".").strip()
    if not name:
        return "untitled"
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 16:
            name = stem[:NAME_MAX - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:NAME_MAX]
    return name


# --- upload ------------------------------------------------------------------

def used_bytes(store):
    """Bytes of all of ``store``'s files (one indexed aggregate)."""
    return db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(KnowledgeFile.size), 0)).where(KnowledgeFile.store_id == store.id)
    ).scalar_one()


def add_file(store, user, filename, data):
    """Accept ``data`` (bytes) uploaded as ``filename`` into ``store``; returns ``(file, is_new)``.

    The same bytes uploaded to the same store again return the existing file
    (``is_new`` False) and change nothing. Flushes; the caller commits.

    :raises FileTooLarge, QuotaExceeded: nothing stored.
    :raises FileRefused: the bytes are not a document we read (an image, an
        archive, a decompression bomb, binary data, text in an unknown
        encoding); nothing stored. Empty, encrypted and scanned files are
        accepted and end as "no extractable text".
    """
    name = clean_name(filename)
    limit = max_file_bytes()
    if len(data) > limit:
        raise FileTooLarge(len(data), limit)
    digest = hashlib.sha256(data).hexdigest()
    existing = _file_with_digest(store, digest)
    if existing is not None:
        return existing, False
    kind = detect(data, name)
    _check_quota(store, len(data))
    key = _store_bytes(data)
    content_type = CONTENT_TYPES.get(kind, "application/octet-stream")
    file = KnowledgeFile(store_id=store.id, name=name, content_type=content_type,
                         size=len(data), sha256=digest, storage_key=key, status=QUEUED, progress=0,
                         chunk_count=0, text_chars=0, uploaded_by_id=user.id if user else None)
    try:
        with savepoint():
            db.session.add(file)
    except IntegrityError:
        # The same bytes were added to this store by a concurrent upload: theirs stands.
        existing = _file_with_digest(store, digest)
        if existing is None:
            raise
        return existing, False
    enqueue(INDEX_JOB, {"file_id": file.id}, dedupe_key=f"knowledge-index:{file.id}")
    log.info("File %s (%s, %s bytes) added to store %s", file.id, kind, file.size, store.name)
    return file, True


def _store_bytes(data):
    """Write the bytes before the row commits (a job may read them as soon as it does);
    if the transaction rolls back instead, they are removed again unless some row names them."""
    storage = get_storage()
    digest = hashlib.sha256(data).hexdigest()
    is_fresh = not storage.exists(storage.key_for(digest))
    key, _ = storage.put(data)
    if is_fresh:
        db.session.info.setdefault(_FRESH_KEYS, set()).add(key)
    return key


_FRESH_KEYS = "knowledge_fresh_storage_keys"


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _keep_fresh_bytes(session):
    session.info.pop(_FRESH_KEYS, None)


@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _drop_fresh_bytes(session, transaction):
    if transaction.parent is not None or transaction.nested:
        return
    keys = session.info.pop(_FRESH_KEYS, None)  # still here: the transaction did not commit
    if keys and has_app_context():
        remove_unused_bytes(current_app._get_current_object(), sorted(keys))


def detect(data, name):
    """The kind of ``data`` (see ``parsing.detect_kind``), or None for files accepted
    only to show "no extractable text" (empty, encrypted).

    :raises FileRefused: not a document we read.
    """
    try:
        return parsing.detect_kind(data, name)
    except KEPT_REFUSALS:
        return None


def _file_with_digest(store, digest):
    return db.session.execute(
        KnowledgeFile.query_for(store).where(KnowledgeFile.sha256 == digest)
    ).scalar_one_or_none()


def _check_quota(store, size):
    quota = quota_bytes()
    if quota <= 0:
        return
    if db.engine.dialect.name == "postgresql":
        # Uploads to one store take turns here, so two cannot both fit in the last space.
        db.session.execute(sa.select(Store.id).where(Store.id == store.id).with_for_update())
    used = used_bytes(store)
    if used + size > quota:
        raise QuotaExceeded(used, size, quota)


# --- reindex and delete --------------------------------------------------------

def reindex_file(file):
    """Queue ``file`` to be read again; its current chunks stay searchable until the new ones replace them.

    :raises FileBusy: it is queued or being indexed already. Flushes.
    """
    if file.status not in SETTLED:
        raise FileBusy()
    file.status, file.progress, file.error, file.reason = QUEUED, 0, None, None
    db.session.flush()
    enqueue(INDEX_JOB, {"file_id": file.id}, dedupe_key=f"knowledge-index:{file.id}")
    return file


def delete_file(file):
    """Delete ``file`` and its chunks; its bytes go after the commit unless another row names them. Flushes."""
    key = file.storage_key
    store_id = file.store_id
    db.session.delete(file)
    # Its vectors go with its chunks: processes' cached matrices of the store are stale.
    db.session.execute(sa.update(Store).where(Store.id == store_id).values(vector_version=Store.vector_version + 1))
    db.session.flush()
    remove_bytes_after_commit([key])


def remove_bytes_after_commit(keys):
    """After the commit, remove the bytes of ``keys`` that no file row names any more."""
    keys = sorted(set(keys))
    if not keys:
        return
    app = current_app._get_current_object()
    on_commit(lambda: remove_unused_bytes(app, keys))


def remove_unused_bytes(app, keys):
    """Remove the bytes of those ``keys`` no row names (runs after a commit, in its own session)."""
    storage = get_storage(app)
    with db.engine.connect() as connection:
        used = set(connection.execute(
            sa.select(KnowledgeFile.storage_key).where(KnowledgeFile.storage_key.in_(keys))).scalars())
    for key in keys:
        if key in used:
            continue
        try:
            storage.delete(key)
        except ValueError:
            log.warning("Not removing %r: not a key of the file storage", key)
            continue
        log.info("Removed the bytes of %s (no file uses them)", key)


@sa.event.listens_for(sa.orm.Session, "do_orm_execute")
def _bulk_file_deletes(state):
    """Bulk deletes of file rows (a store's deletion) remove their bytes after the commit too."""
    if not state.is_delete or state.statement.table.name != KnowledgeFile.__tablename__:
        return
    where = state.statement.whereclause
    query = sa.select(KnowledgeFile.storage_key).distinct()
    if where is not None:
        query = query.where(where)
    keys = state.session.execute(query).scalars().all()
    if keys:
        app = current_app._get_current_object()
        keys = sorted(set(keys))
        on_commit(lambda: remove_unused_bytes(app, keys))

