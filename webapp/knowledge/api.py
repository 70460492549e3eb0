"""Files and search as JSON: ``/api/v1/s/<store>/files/`` and ``/api/v1/s/<store>/search/``.

Same chokepoint as the pages: ``<store>`` is resolved by ``webapp.stores.scoping``
(404 outside the caller's stores), files are read with ``get_in_store_or_404``.
"""
from typing import Annotated

from flask import g, jsonify
from pydantic import Field

from webapp.auth.decorators import admin_required, login_required
from webapp.core.bodies import Body, parse_body, text
from webapp.extensions import db
from webapp.knowledge import evaluation, inputs, service
from webapp.knowledge.models import KnowledgeFile, RetrievalQuestion
from webapp.knowledge.payloads import file_payload, files_page, upload_response
from webapp.knowledge.search import DEFAULT_K, search
from webapp.pagination import link_header
from webapp.security import body_limit
from webapp.stores.access import store_editor_required
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
        "page": hit.page, "page_end": hit.page_end, "found_by": list(hit.found_by),
    } for hit in hits])


class NewQuestion(Body):
    """``POST …/retrieval/questions/``: the question and the file (by id, or ``file`` by name) answering it."""

    question: text(evaluation.QUESTION_MAX_CHARS)
    file_id: Annotated[int, Field(gt=0, lt=2**31)] = None
    file: text(255) = None
    #: One passage of the file, when a single one answers it.
    chunk_id: Annotated[int, Field(gt=0, lt=2**31)] = None


@admin_required
@store_editor_required
def list_questions():
    """The store's test questions, oldest first (at most ``evaluation.MAX_QUESTIONS``)."""
    return jsonify(items=[evaluation.question_payload(q) for q in evaluation.questions_of(g.store)])


@admin_required
@store_editor_required
def create_question():
    data = parse_body(NewQuestion)
    question = evaluation.add_question(g.store, g.user, data.question,
                                       data.file_id if data.file_id is not None else data.file, data.chunk_id)
    db.session.commit()
    return jsonify(question=evaluation.question_payload(question)), 201


@admin_required
@store_editor_required
def delete_question(question_id):
    evaluation.delete_question(get_in_store_or_404(RetrievalQuestion, question_id))
    db.session.commit()
    return jsonify(ok=True)


@admin_required
@store_editor_required
def list_runs():
    """The store's latest runs, newest first."""
    return jsonify(items=[evaluation.run_payload(run) for run in evaluation.recent_runs(g.store)])


@admin_required
@store_editor_required
def create_run():
    """Run every test question now (full text, vectors, hybrid) and keep the run: 201 with it."""
    run = evaluation.run_questions(g.store, g.user)
    db.session.commit()
    return jsonify(run=evaluation.run_payload(run)), 201
