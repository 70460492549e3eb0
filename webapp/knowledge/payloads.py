"""What the knowledge API sends (files, upload outcomes), also to the pages' status polling,
and the page of a store's files that both list."""
from flask import g, jsonify, request, url_for
from sqlalchemy.orm import selectinload

from webapp.knowledge.models import KnowledgeFile
from webapp.pagination import page_size, paginate


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
        #: The second stage: vectors for search by meaning (the file is searchable by full text once "ready").
        "vectors": {"status": file.vector_status, "progress": file.vector_progress, "reason": file.vector_reason},
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
