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
- ``storage``: the bytes, content-addressed, in a directory or an S3-compatible
  bucket (``KNOWLEDGE_STORAGE_URL``); ``cli``: ``flask knowledge migrate-storage``;
- ``service``: upload, reindex, delete (flush; views commit);
- ``jobs``: ``knowledge.index_file``, the background indexing; ``embedding``: its
  second stage (``knowledge.embed_file``) and ``knowledge.reconcile_vectors``;
- ``vectors``: the vector index (per-store matrices, exact scoring);
- ``search``: ``search(store, query, k) -> [SearchHit]``, full text and vectors fused
  (what chat retrieves with);
- ``views`` (pages under ``/s/<store>/knowledge/``) and ``api`` (JSON under
  ``/api/v1/s/<store>/files/`` and ``/search/``), both scoped by the tenancy chokepoint;
  ``inputs`` (what both read off a request: uploads, search arguments) and
  ``payloads`` (what both send). URLs in ``blueprint.py``.
"""
from webapp.navigation import nav_item


def init_app(app):
    """Register the pages, the API, the indexing job and the store's "Knowledge" navigation entry
    (search is reached from it)."""
    from webapp.knowledge import embedding, jobs  # noqa: F401  (register the indexing and embedding handlers)
    from webapp.knowledge.blueprint import api_bp, pages
    from webapp.knowledge.cli import knowledge_cli

    app.register_blueprint(pages)
    app.register_blueprint(api_bp)
    app.cli.add_command(knowledge_cli)
    nav_item(app, "store", "knowledge.list_files", "Knowledge", "book", order=30,
             also_current=("knowledge.show_file", "knowledge.delete_file", "knowledge.search",
                           "knowledge.retrieval"))
    if (app.config.get("KNOWLEDGE_STORAGE_URL") or "").startswith("s3://"):
        # /readyz asks the object store too: a host that cannot reach it must not take uploads.
        app.extensions.setdefault("storehouse_readiness", {})["object_store"] = lambda: _ready(app)


def _ready(app):
    from webapp.knowledge.storage import get_storage

    get_storage(app).check()
    return {"ok": True}
