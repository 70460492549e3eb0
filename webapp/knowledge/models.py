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

#: Vector statuses (the second indexing stage, after the chunks are written):
#: ``off`` the store searches by full text only; ``queued`` waiting for the
#: embedding job (also while it waits to retry: ``vector_reason`` says why);
#: ``embedding`` under way (``vector_progress`` 0..100); ``ready``; ``failed``
#: gave up (the file stays searchable by full text; Reindex tries again).
VECTORS_OFF, VECTORS_QUEUED, VECTORS_EMBEDDING, VECTORS_READY, VECTORS_FAILED = (
    "off", "queued", "embedding", "ready", "failed")
VECTOR_STATUSES = (VECTORS_OFF, VECTORS_QUEUED, VECTORS_EMBEDDING, VECTORS_READY, VECTORS_FAILED)

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
    #: The second stage: vectors for the chunks (see ``VECTOR_STATUSES``).
    vector_status = db.Column(db.String(20), nullable=False, default=VECTORS_OFF, server_default=VECTORS_OFF)
    vector_progress = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    #: Why the vectors are late or failed, in words a person can act on; NULL otherwise.
    vector_reason = db.Column(db.Text)

    @property
    def is_settled(self):
        return self.status in SETTLED

    @property
    def vectors_settled(self):
        """False while the vector stage waits or runs (the page keeps polling)."""
        return self.vector_status not in (VECTORS_QUEUED, VECTORS_EMBEDDING)

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
    #: 1-based page the chunk ends on (PDF), else NULL.
    page_end = db.Column(db.Integer)

    @property
    def page_label(self):
        """"p. 12" or "pp. 12–13" for a PDF chunk, else ""."""
        if not self.page:
            return ""
        if self.page_end and self.page_end != self.page:
            return f"pp. {self.page}–{self.page_end}"
        return f"p. {self.page}"

    @property
    def heading_path(self):
        return self.heading.split(HEADING_SEPARATOR) if self.heading else []

    def __repr__(self):
        return f"<KnowledgeChunk {self.id} of file {self.file_id}>"


class KnowledgeVector(db.Model):
    """The embedding of one chunk, with the provider, model and dimension that made it.

    One per chunk (the store's current model's; a model change replaces them).
    The vector is little-endian float16, ``dimension * 2`` bytes: half the size
    of float32, and the e5 similarities it gives differ from float32's in the
    fourth decimal. Search compares only vectors of the store's current
    ``(provider_id, model)``, so vectors never cross models; ``store_id`` repeats
    the chunk's so that they never cross stores either and load without a join.
    """

    __tablename__ = "knowledge_vectors"
    __table_args__ = (
        # One store's vectors of one model: what a search process loads.
        db.Index("ix_knowledge_vectors_store_id_provider_id_model", "store_id", "provider_id", "model"),
    )

    chunk_id = db.Column(db.Integer, db.ForeignKey("knowledge_chunks.id", ondelete="CASCADE"), primary_key=True,
                         autoincrement=False)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False)
    #: NULL once the provider is deleted: such vectors match no model any more.
    provider_id = db.Column(db.Integer, db.ForeignKey("providers.id", ondelete="SET NULL"))
    model = db.Column(db.String(200), nullable=False)
    dimension = db.Column(db.Integer, nullable=False)
    vector = db.Column(db.LargeBinary, nullable=False)

    def __repr__(self):
        return f"<KnowledgeVector of chunk {self.chunk_id} {self.model} ({self.dimension})>"


class RetrievalQuestion(StoreOwnedMixin, db.Model):
    """A store's test question and the file (or passage) that should answer it.

    The retrieval test bench (``webapp.knowledge.evaluation``) runs every one of
    them and reports where that file or passage ranks.
    """

    __tablename__ = "retrieval_questions"
    __table_args__ = (
        # The store's questions in the order they were added, paged by (created_at, id).
        db.Index("ix_retrieval_questions_store_id_created_at_id", "store_id", "created_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    question = db.Column(db.Text, nullable=False)
    file_id = db.Column(db.Integer, db.ForeignKey("knowledge_files.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    file = db.relationship("KnowledgeFile")
    #: The passage that answers it, when a single one does; NULL: any passage of the file.
    chunk_id = db.Column(db.Integer, db.ForeignKey("knowledge_chunks.id", ondelete="SET NULL"), index=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class RetrievalRun(StoreOwnedMixin, db.Model):
    """One run of a store's test questions: Recall@5 and MRR@10 per ranking, each question's ranks."""

    __tablename__ = "retrieval_runs"
    __table_args__ = (
        db.Index("ix_retrieval_runs_store_id_created_at_id", "store_id", "created_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    question_count = db.Column(db.Integer, nullable=False)
    #: ``{"fulltext": {"recall_at_5": 0.8, "mrr_at_10": 0.71}, "vectors": {...}, "hybrid": {...}}``.
    metrics = db.Column(db.JSON, nullable=False)
    #: ``[{"question_id", "question", "ranks": {"fulltext": 2|None, "vectors": ..., "hybrid": ...}}]``.
    results = db.Column(db.JSON, nullable=False)
    #: The embedding model the vectors came from ("<provider id>/<model>"), NULL: none complete.
    vector_key = db.Column(db.String(320))
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
