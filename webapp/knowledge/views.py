"""The store's Knowledge pages: ``/s/<store>/knowledge/...``.

``g.store`` is loaded (or 404ed) by ``webapp.stores.scoping`` before any view
here runs; files are read only through ``KnowledgeFile.query_for`` and
``get_in_store_or_404``. Uploads from the page are XHRs answered with the
API's JSON (so the page can show each file's progress and refusal), or, without
JavaScript, a plain form post answered with a redirect and messages.
"""
from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from webapp.auth.decorators import admin_required, login_required
from webapp.core.forms import ConfirmForm
from webapp.errors import wants_json
from webapp.extensions import db
from webapp.knowledge import evaluation, inputs, service
from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile, RetrievalQuestion
from webapp.knowledge.payloads import files_page, upload_response
from webapp.knowledge.search import DEFAULT_K, MAX_K
from webapp.knowledge.search import search as search_chunks
from webapp.knowledge.storage import get_storage
from webapp.pagination import page_size, paginate
from webapp.security import body_limit
from webapp.stores.access import store_editor_required
from webapp.stores.scoping import get_in_store_or_404

#: Most files one status poll asks about (the page polls the files it shows).
STATUS_POLL_MAX = 200
#: Chunks per page of a file's preview.
CHUNKS_PER_PAGE = 20


@login_required
def list_files():
    """The store's files, newest first, a page at a time, with the upload area."""
    page = files_page()
    return render_template("knowledge/list.html", store=g.store, files=page.items, page=page,
                           max_file_bytes=service.max_file_bytes(), used=service.used_bytes(g.store),
                           quota=service.quota_bytes(), form=ConfirmForm(),
                           max_files=current_app.config["KNOWLEDGE_MAX_FILES_PER_UPLOAD"],
                           can_change=lambda file: inputs.can_change_file(g.user, file))


@body_limit(service.max_request_bytes)
@login_required
def upload_files():
    """Files from the page: JSON for the page's XHR, a redirect with messages for a plain form."""
    outcome = inputs.upload_files(g.store, g.user)
    db.session.commit()
    if wants_json():
        return upload_response(outcome)
    for file, is_new in outcome.accepted:
        flash(f"Added '{file.name}'; it is being indexed." if is_new
              else f"'{file.name}' is in this store already.", "success" if is_new else "info")
    for name, refusal in outcome.refused:
        flash(f"'{name}' was not added: {refusal.message}", "error")
    return redirect(url_for(".list_files"))


@login_required
def file_statuses():
    """``?ids=1,2,3``: those files' status and progress (what the page polls while files index)."""
    ids = []
    for part in request.args.get("ids", "").split(",")[:STATUS_POLL_MAX]:
        if part.strip().isdigit() and 0 < int(part) < 2**31:
            ids.append(int(part))
    files = db.session.execute(KnowledgeFile.query_for(g.store).where(KnowledgeFile.id.in_(ids))).scalars() \
        if ids else []
    return jsonify(items=[{
        "id": file.id, "status": file.status, "progress": file.progress, "error": file.error,
        "reason": file.reason, "chunk_count": file.chunk_count, "is_settled": file.is_settled,
        "vectors": {"status": file.vector_status, "progress": file.vector_progress, "reason": file.vector_reason},
        "vectors_settled": file.vectors_settled,
    } for file in files])


@login_required
def show_file(file_id):
    """A file: its status and reason, and its chunks a page at a time."""
    file = get_in_store_or_404(KnowledgeFile, file_id)
    query = KnowledgeChunk.query_for(g.store).where(KnowledgeChunk.file_id == file.id)
    cited = _cited_chunk(file)
    if cited is not None:
        # Opened from a source: the page starts at the cited passage (a chunk before it for context).
        query = query.where(KnowledgeChunk.ordinal >= max(cited.ordinal - 1, 0))
    chunks = paginate(query, order=[(KnowledgeChunk.ordinal, "asc"), (KnowledgeChunk.id, "asc")],
                      cursor=request.args.get("cursor"), limit=page_size(default=CHUNKS_PER_PAGE))
    return render_template("knowledge/file.html", store=g.store, file=file, chunks=chunks, form=ConfirmForm(),
                           can_change=inputs.can_change_file(g.user, file), cited=cited)


def _cited_chunk(file):
    """The chunk ``?chunk=<id>`` names, when it is one of ``file``'s (else None: the page starts at the top)."""
    raw = request.args.get("chunk", "")
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        return None
    chunk = db.session.get(KnowledgeChunk, int(raw))
    return chunk if chunk is not None and chunk.file_id == file.id and chunk.store_id == g.store.id else None


@login_required
def download_file(file_id):
    """The file's bytes, as an attachment (never rendered by the browser as a page of ours)."""
    file = get_in_store_or_404(KnowledgeFile, file_id)
    storage = get_storage()
    presigned = storage.download_url(file.storage_key, file.name, file.content_type)
    if presigned:
        # KNOWLEDGE_S3_PRESIGNED_DOWNLOADS: the object store serves the bytes, for a minute.
        return redirect(presigned, code=303)
    missing = ("This file's contents are missing from the file storage. Tell your administrator.")
    if storage.url_scheme == "file":
        path = storage.path(file.storage_key)
        if not path.is_file():
            abort(404, description=missing)
        response = send_file(path, mimetype=file.content_type, as_attachment=True, download_name=file.name,
                             conditional=True, max_age=0)
    else:
        try:
            pieces = storage.iter_bytes(file.storage_key)  # streamed: never the whole file in memory
        except FileNotFoundError:
            abort(404, description=missing)
        response = Response(pieces, mimetype=file.content_type, direct_passthrough=True)
        response.content_length = file.size
        response.headers.set("Content-Disposition", "attachment", filename=file.name)
        response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened anyway (a browser's "open" on a downloaded HTML file): no script, no origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def reindex_file(file_id):
    file = get_in_store_or_404(KnowledgeFile, file_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    service.reindex_file(file)
    db.session.commit()
    flash(f"'{file.name}' will be indexed again; its current chunks stay searchable meanwhile.", "success")
    back = url_for(".show_file", file_id=file.id) if request.form.get("back") == "file" else url_for(".list_files")
    return redirect(back)


@login_required
def delete_file(file_id):
    file = inputs.changeable_file(file_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = file.name
        service.delete_file(file)
        db.session.commit()
        flash(f"Deleted '{name}' and its chunks.", "success")
        return redirect(url_for(".list_files"))
    return render_template("knowledge/delete.html", store=g.store, file=file, form=form)


@login_required
def search():
    """The search page: ranked chunks with file name, heading path and highlighted snippet."""
    query, k = inputs.search_arguments(max(DEFAULT_K, 10))
    hits = search_chunks(g.store, query, k) if query.strip() else []
    return render_template("knowledge/search.html", store=g.store, query=query, hits=hits, k=k, max_k=MAX_K)


#: Files offered in the test question form (newest first).
QUESTION_FILE_CHOICES = 500


@admin_required
@store_editor_required
def retrieval():
    """The store's test questions, the latest run side by side per ranking, and the history of runs."""
    files = db.session.execute(
        KnowledgeFile.query_for(g.store).order_by(KnowledgeFile.created_at.desc(), KnowledgeFile.id.desc())
        .limit(QUESTION_FILE_CHOICES)).scalars().all()
    runs = evaluation.recent_runs(g.store)
    return render_template("knowledge/retrieval.html", store=g.store, questions=evaluation.questions_of(g.store),
                           files=files, runs=runs, latest=runs[0] if runs else None, form=ConfirmForm(),
                           modes=evaluation.MODES)


@admin_required
@store_editor_required
def add_question():
    form = ConfirmForm()
    if form.validate_on_submit():
        file_id = request.form.get("file_id", "")
        try:
            evaluation.add_question(g.store, g.user, request.form.get("question", ""),
                                    int(file_id) if file_id.isdigit() and len(file_id) < 10 else None)
        except evaluation.QuestionRefused as refusal:
            db.session.rollback()
            flash(refusal.message, "error")
        else:
            db.session.commit()
            flash("Test question added.", "success")
    return redirect(url_for(".retrieval"))


@admin_required
@store_editor_required
def delete_question(question_id):
    question = get_in_store_or_404(RetrievalQuestion, question_id)
    if ConfirmForm().validate_on_submit():
        evaluation.delete_question(question)
        db.session.commit()
        flash("Test question deleted.", "success")
    return redirect(url_for(".retrieval"))


@admin_required
@store_editor_required
def run_questions():
    if ConfirmForm().validate_on_submit():
        try:
            run = evaluation.run_questions(g.store, g.user)
        except evaluation.QuestionRefused as refusal:
            db.session.rollback()
            flash(refusal.message, "error")
        else:
            db.session.commit()
            flash(f"Ran {run.question_count} test question{'' if run.question_count == 1 else 's'}.", "success")
    return redirect(url_for(".retrieval"))
