"""A store's files and the chunks they are cut into; the full-text index beside the chunks.

``KnowledgeFile`` is one uploaded file: its bytes live in the file storage
(``webapp.knowledge.storage``) under ``storage_key``, content-addressed by
``sha256``, and the row says how far indexing got. ``KnowledgeChunk`` is one
piece of its text, the unit that search returns and that chat quotes.

The full-text index is not a model: it is dialect-specific schema made by the
migration (``webapp.knowledge.fulltext`` says what exists where) and kept in
step with ``knowledge_chunks`` by the database itself, so no code path can
write a chunk and forget the index.
"""
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.stores.models import StoreOwnedMixin

#: File statuses. ``queued`` waits for the indexing job; ``indexing`` is being
#: read (``progress`` 0..100); ``ready`` is searchable; ``failed`` carries a
#: reason a person can act on; ``empty`` is a readable file with no text in it
#: (a scan without OCR, an empty document): kept, downloadable, never "ready".
QUEUED, INDEXING, READY, FAILED, EMPTY = "queued", "indexing", "ready", "failed", "empty"
STATUSES = (QUEUED, INDEXING, READY, FAILED, EMPTY)
#: Statuses that will not change without someone asking (reindex, delete).
SETTLED = (READY, FAILED, EMPTY)

#: Between the headings of a chunk's heading path in ``KnowledgeChunk.heading``
#: (a heading never holds a newline: the parsers collapse whitespace in them).
HEADING_SEPARATOR = "\n"


class KnowledgeFile(StoreOwnedMixin, db.Model):
    admin_count_label = "Files"
    __tablename__ = "knowledge_files"
    __table_args__ = (
        # Re-uploading the same bytes to a store finds the existing file.
        db.UniqueConstraint("store_id", "sha256", name="uq_knowledge_files_store_id_sha256"),
        # The newest-first list, paged by (created_at, id).
        db.Index("ix_knowledge_files_store_id_created_at_id", "store_id", "created_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    #: The uploader's file name, cleaned for display (never used as a path).
    name = db.Column(db.String(255), nullable=False)
    #: MIME type detected from the content (not the one the browser sent).
    content_type = db.Column(db.String(100), nullable=False)
    #: Bytes.
    size = db.Column(db.BigInteger, nullable=False)
    #: Hex SHA-256 of the bytes: what makes a re-upload recognisable.
    sha256 = db.Column(db.String(64), nullable=False)
    #: Where the storage keeps the bytes; shared by every row with the same content,
    #: so the bytes go only when the last row naming them does.
    storage_key = db.Column(db.String(200), nullable=False, index=True)
    status = db.Column(db.String(20), nullable=False, default=QUEUED)
    #: Stable slug of the failure (``corrupt_file``, ``no_extractable_text``...), NULL unless failed/empty.
    error = db.Column(db.String(50))
    #: Why it failed or is empty, in words a person can act on.
    reason = db.Column(db.Text)
    #: 0..100 while indexing; 100 once settled.
    progress = db.Column(db.Integer, nullable=False, default=0)
    chunk_count = db.Column(db.Integer, nullable=False, default=0)
    #: Characters of text extracted (0 until indexed).
    text_chars = db.Column(db.Integer, nullable=False, default=0)
    #: Who uploaded it; kept (as NULL) when the account is deleted.
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    uploaded_by = db.relationship("User")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    #: When the current chunks were written.
    indexed_at = db.Column(db.DateTime)

    @property
    def is_settled(self):
        return self.status in SETTLED

    def __repr__(self):
        return f"<KnowledgeFile {self.id} {self.status} in store {self.store_id}>"


class KnowledgeChunk(StoreOwnedMixin, db.Model):
    """A piece of a file's text, at most a few hundred tokens, with the headings above it.

    ``store_id`` repeats the file's so that search filters on the chunk table
    alone. Rows are written only by the indexing job, all of a file's at once.
    """

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        db.UniqueConstraint("file_id", "ordinal", name="uq_knowledge_chunks_file_id_ordinal"),
    )

    id = db.Column(db.Integer, primary_key=True)
    file_id = db.Column(db.Integer, db.ForeignKey("knowledge_files.id", ondelete="CASCADE"), nullable=False)
    file = db.relationship("KnowledgeFile")
    #: 0-based position in the file.
    ordinal = db.Column(db.Integer, nullable=False)
    #: The heading path, outermost first, joined by ``HEADING_SEPARATOR``; "" before any heading.
    heading = db.Column(db.Text, nullable=False, default="")
    text = db.Column(db.Text, nullable=False)
    token_count = db.Column(db.Integer, nullable=False)
    #: 1-based page the chunk starts on (PDF), else NULL.
    page = db.Column(db.Integer)

    @property
    def heading_path(self):
        return self.heading.split(HEADING_SEPARATOR) if self.heading else []

    def __repr__(self):
        return f"<KnowledgeChunk {self.id} of file {self.file_id}>"
