"""Pages inside a store: ``/s/<store>/`` and its documents.

``g.store`` is loaded (or 404ed) by ``webapp.stores.scoping`` before any view
here runs; documents are read only through ``Document.query_for`` and
``get_in_store_or_404``.
"""
from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Forbidden

from webapp.auth.decorators import login_required
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.stores import bp, service
from webapp.stores.forms import ConfirmForm, DocumentForm
from webapp.stores.models import Document
from webapp.stores.scoping import get_in_store_or_404


def changeable_document(document_id):
    """The current store's document ``document_id`` if ``g.user`` may change it.

    Pages and API share this rule. :raises NotFound: not in this store.
    :raises Forbidden: neither its author nor an administrator.
    """
    document = get_in_store_or_404(Document, document_id)
    if not service.can_change_document(g.user, document):
        raise Forbidden("Only the author of a document or an administrator can change it.")
    return document


@bp.get("/")
@login_required
def show_store():
    recent = db.session.execute(
        Document.query_for(g.store).order_by(Document.updated_at.desc(), Document.id.desc()).limit(5)
    ).scalars().all()
    return render_template("stores/show.html", store=g.store, recent=recent)


@bp.get("/documents/")
@login_required
def list_documents():
    """The store's documents by title, a page at a time; authors in one query."""
    page = paginate(Document.query_for(g.store).options(selectinload(Document.created_by)),
                    order=[(Document.title, "asc"), (Document.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return render_template("stores/documents/list.html", store=g.store, documents=page.items, page=page)


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
def create_document():
    form = DocumentForm()
    if form.validate_on_submit():
        document = service.create_document(g.store, g.user, form.title.data, form.body.data)
        db.session.commit()
        flash(f"Added '{document.title}'.", "success")
        return redirect(url_for(".show_document", document_id=document.id))
    return render_template("stores/documents/form.html", store=g.store, form=form, document=None)


@bp.get("/documents/<id:document_id>")
@login_required
def show_document(document_id):
    document = get_in_store_or_404(Document, document_id)
    return render_template("stores/documents/show.html", store=g.store, document=document,
                           can_change=service.can_change_document(g.user, document))


@bp.route("/documents/<id:document_id>/edit", methods=["GET", "POST"])
@login_required
def edit_document(document_id):
    document = changeable_document(document_id)
    form = DocumentForm(obj=document)
    if form.validate_on_submit():
        service.update_document(document, form.title.data, form.body.data)
        db.session.commit()
        flash("Saved.", "success")
        return redirect(url_for(".show_document", document_id=document.id))
    return render_template("stores/documents/form.html", store=g.store, form=form, document=document)


@bp.route("/documents/<id:document_id>/delete", methods=["GET", "POST"])
@login_required
def delete_document(document_id):
    document = changeable_document(document_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = document.title
        service.delete_document(document)
        db.session.commit()
        flash(f"Deleted '{title}'.", "success")
        return redirect(url_for(".list_documents"))
    return render_template("stores/documents/delete.html", store=g.store, document=document, form=form)
