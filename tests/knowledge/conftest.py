"""Fixtures the knowledge tests share (helpers that are not fixtures are in ``tests.support.knowledge``)."""
import hashlib

import pytest

from webapp.knowledge.embedding import queue_embedding
from webapp.knowledge.models import READY, KnowledgeChunk, KnowledgeFile
from webapp.knowledge.storage import FileStorage


@pytest.fixture
def add_chunks(db):
    """Write a ready file with the given chunks straight into the tables, skipping parsing and the
    index job: ``add_chunks(store, [(heading, text), ...], name=None, queue_vectors=False)``.

    ``queue_vectors=True`` also queues the file's vector stage (not run). Commits; returns the file.
    """
    counter = iter(range(1, 10_000))

    def add(store, chunks, name=None, queue_vectors=False):
        n = next(counter)
        digest = hashlib.sha256(f"{store.id}-{n}".encode()).hexdigest()
        file = KnowledgeFile(store=store, name=name or f"file-{n}.txt", content_type="text/plain", size=1,
                             sha256=digest, storage_key=FileStorage.key_for(digest), status=READY, progress=100,
                             chunk_count=len(chunks))
        db.session.add(file)
        db.session.flush()
        for ordinal, (heading, text) in enumerate(chunks):
            db.session.add(KnowledgeChunk(store_id=store.id, file_id=file.id, ordinal=ordinal, heading=heading,
                                          text=text, token_count=len(text.split())))
        db.session.flush()
        if queue_vectors:
            queue_embedding(file, store)
        db.session.commit()
        return file

    return add
