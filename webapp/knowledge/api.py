"""Files and search as JSON: ``/api/v1/s/<store>/files/`` and ``/api/v1/s/<store>/search/``.

Same chokepoint as the pages: ``<store>`` is resolved by ``webapp.stores.scoping``
(404 outside the caller's stores), files are read with ``get_in_store_or_404``.
"""
from flask import g, jsonify

from webapp.auth.decorators import login_required
from webapp.extensions import db
from webapp.knowledge import inputs, service
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.payloads import file_payload, files_page, upload_response
from webapp.knowledge.search import DEFAULT_K, search
from webapp.pagination import link_header
from webapp.security import body_limit
from webapp.stores.scoping import get_in_store_or_404


@login_required
def list_files():
    """The store's files, newest first, a page at a time (``?limit=``, ``?cursor=``)."""
    page = files_page()
    return jsonify(items=[file_payload(file) for file in page.items], next=page.next_cursor), link_header(page)


@body_limit(service.max_request_bytes)
@login_required
def upload_files():
    """Upload files (multipart, field ``file``, several allowed); each is accepted or refused on its own."""
    outcome = inputs.upload_files(g.store, g.user)
    db.session.commit()
    return upload_response(outcome)


@login_required
def get_file(file_id):
    return jsonify(file=file_payload(get_in_store_or_404(KnowledgeFile, file_id)))


@login_required
def delete_file(file_id):
    service.delete_file(inputs.changeable_file(file_id))
    db.session.commit()
    return jsonify(ok=True)


@login_required
def reindex_file(file_id):
    """Read the file again (202); 409 while it is queued or being indexed."""
    file = service.reindex_file(get_in_store_or_404(KnowledgeFile, file_id))
    db.session.commit()
    return jsonify(file=file_payload(file)), 202


@login_required
def search_chunks():
    """``?q=`` (any text) and ``?k=`` (default: the store's knowledge_count, at most 50): ranked chunks."""
    query, k = inputs.search_arguments(g.store.knowledge_count or DEFAULT_K)
    hits = search(g.store, query, k)
    return jsonify(results=[{
        "file_id": hit.file_id, "file_name": hit.file_name, "chunk_id": hit.chunk_id, "heading": hit.heading,
        "text": hit.text, "snippet": str(hit.snippet), "score": hit.score,
    } for hit in hits])
