"""Files and search as JSON: ``/api/v1/s/<store>/files/`` and ``/api/v1/s/<store>/search``.

Same chokepoint as the pages: ``<store>`` is resolved by ``webapp.stores.scoping``
(404 outside the caller's stores), files are read with ``get_in_store_or_404``.
"""
from flask import g, jsonify, request, url_for
from sqlalchemy.orm import selectinload

from webapp.auth.decorators import login_required
from webapp.extensions import db
from webapp.knowledge import api_bp as bp
from webapp.knowledge import requests as knowledge_requests
from webapp.knowledge import service
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.search import DEFAULT_K, search
from webapp.pagination import link_header, page_size, paginate
from webapp.security import body_limit
from webapp.stores.scoping import get_in_store_or_404


def _iso(value):
    return value.isoformat() + "Z" if value else None


def file_payload(file):
    """A file as the API and the page's status polling show it (``uploaded_by`` must be loaded)."""
    return {
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
        "sha256": file.sha256,
        "status": file.status,
        "progress": file.progress,
        "error": file.error,
        "reason": file.reason,
        "chunk_count": file.chunk_count,
        "uploaded_by": file.uploaded_by.username if file.uploaded_by else None,
        "created_at": _iso(file.created_at),
        "updated_at": _iso(file.updated_at),
        "indexed_at": _iso(file.indexed_at),
        "url": url_for("knowledge_api.get_file", file_id=file.id),
        "download_url": url_for("knowledge.download_file", file_id=file.id),
        "page_url": url_for("knowledge.show_file", file_id=file.id),
    }


def refusal_payload(name, refusal):
    return {"name": name, "error": refusal.error, "message": refusal.message, "status_code": refusal.status_code}


def upload_response(outcome):
    """``{"items": [...], "refused": [...]}``: 201 when a file was added, 200 when all were
    there already, else the refusal's status (413/415/422) with ``error``/``message``."""
    items = [{**file_payload(file), "duplicate": not is_new} for file, is_new in outcome.accepted]
    body = {"items": items, "refused": [refusal_payload(name, refusal) for name, refusal in outcome.refused]}
    if outcome.accepted:
        return jsonify(body), 201 if any(is_new for _, is_new in outcome.accepted) else 200
    first = outcome.refused[0][1]
    statuses = {refusal.status_code for _, refusal in outcome.refused}
    message = " ".join(f"{name}: {refusal.message}" for name, refusal in outcome.refused[:5])
    return jsonify(error="files_refused" if len(outcome.refused) > 1 else first.error,
                   message=f"No file was added. {message}", **body), (statuses.pop() if len(statuses) == 1 else 422)


def files_page():
    return paginate(KnowledgeFile.query_for(g.store).options(selectinload(KnowledgeFile.uploaded_by)),
                    order=[(KnowledgeFile.created_at, "desc"), (KnowledgeFile.id, "desc")],
                    cursor=request.args.get("cursor"), limit=page_size())


@bp.get("/files/")
@login_required
def list_files():
    """The store's files, newest first, a page at a time (``?limit=``, ``?cursor=``)."""
    page = files_page()
    return jsonify(items=[file_payload(file) for file in page.items], next=page.next_cursor), link_header(page)


@bp.post("/files/")
@body_limit(service.max_request_bytes)
@login_required
def upload_files():
    """Upload files (multipart, field ``file``, several allowed); each is accepted or refused on its own."""
    outcome = knowledge_requests.upload_files(g.store, g.user)
    db.session.commit()
    return upload_response(outcome)


@bp.get("/files/<id:file_id>")
@login_required
def get_file(file_id):
    return jsonify(file=file_payload(get_in_store_or_404(KnowledgeFile, file_id)))


@bp.delete("/files/<id:file_id>")
@login_required
def delete_file(file_id):
    service.delete_file(knowledge_requests.changeable_file(file_id))
    db.session.commit()
    return jsonify(ok=True)


@bp.post("/files/<id:file_id>/reindex")
@login_required
def reindex_file(file_id):
    """Read the file again (202); 409 while it is queued or being indexed."""
    file = service.reindex_file(get_in_store_or_404(KnowledgeFile, file_id))
    db.session.commit()
    return jsonify(file=file_payload(file)), 202


@bp.get("/search")
@login_required
def search_chunks():
    """``?q=`` (any text) and ``?k=`` (default: the store's knowledge_count, at most 50): ranked chunks."""
    query, k = knowledge_requests.search_arguments(g.store.knowledge_count or DEFAULT_K)
    hits = search(g.store, query, k)
    return jsonify(results=[{
        "file_id": hit.file_id, "file_name": hit.file_name, "chunk_id": hit.chunk_id, "heading": hit.heading,
        "text": hit.text, "snippet": str(hit.snippet), "score": hit.score,
    } for hit in hits])
