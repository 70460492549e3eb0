"""Knowledge: a store's files, read into chunks, indexed and searched.

The file-to-chunks layer is pure (no database, no Flask):

- ``parsing``: bytes to a ``ParsedDocument`` (``detect_kind``, ``extract``,
  ``parse``), with ``html_blocks`` and ``pdf_text`` for those formats;
- ``chunking``: a document to ``Chunk`` objects with heading paths
  (``chunk_document``, ``estimate_tokens``);
- ``errors``: why a file was refused, for the person who uploaded it.

Around it, the feature:

- ``models``: ``KnowledgeFile``, ``KnowledgeChunk`` (store-owned); ``fulltext``
  names the per-dialect full-text index the migration made;
- ``storage``: the bytes, content-addressed under ``KNOWLEDGE_FILES_DIR``;
- ``service``: upload, reindex, delete (flush; views commit);
- ``jobs``: ``knowledge.index_file``, the background indexing;
- ``search``: ``search(store, query, k) -> [SearchHit]`` (what chat retrieves with);
- ``views`` (pages under ``/s/<store>/knowledge/``) and ``api`` (JSON under
  ``/api/v1/s/<store>/files/`` and ``/search``), both scoped by the tenancy chokepoint.
"""
from flask import Blueprint

from webapp.navigation import nav_item
from webapp.stores import scoping

bp = Blueprint("knowledge", __name__, url_prefix="/s/<store>/knowledge")
api_bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/s/<store>")

scoping.init_scoped_blueprint(bp, work=True)
scoping.init_scoped_blueprint(api_bp)

from webapp.knowledge import api, jobs, views  # noqa: E402,F401


def init_app(app):
    """Register the pages, the API and the store's "Knowledge" navigation entry (search is reached from it)."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    nav_item(app, "store", "knowledge.list_files", "Knowledge", "book", order=30,
             also_current=("knowledge.show_file", "knowledge.delete_file", "knowledge.search"))
