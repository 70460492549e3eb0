"""Store pages: the chooser (``/stores/``), and inside a store ``/s/<store>/`` and its documents.

``g.store`` is loaded (or 404ed) by ``webapp.stores.scoping`` before any view
here runs; documents are read only through ``Document.query_for`` and
``get_in_store_or_404``.
"""
from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Forbidden

from webapp.auth.decorators import login_required
from webapp.core.forms import ConfirmForm
from webapp.extensions import db
from webapp.pagination import page_size, paginate, search_prefix, starts_with
from webapp.stores import access, service
from webapp.stores.forms import DocumentForm
from webapp.stores.models import Document, Store
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


@login_required
def choose_store():
    """Every store the user may use, searchable by name prefix, a page at a time."""
    query = access.accessible_stores_query(g.user)
    prefix = search_prefix()
    if prefix:
        query = query.where(db.or_(starts_with(Store.name, prefix), starts_with(Store.name, prefix.lower())))
    page = paginate(query, order=[(Store.name, "asc"), (Store.id, "asc")], cursor=request.args.get("cursor"),
                    limit=page_size(default=50, maximum=100))
    return render_template("stores/choose.html", page=page, q=prefix)


@login_required
def show_store():
    recent = db.session.execute(
        Document.query_for(g.store).order_by(Document.updated_at.desc(), Document.id.desc()).limit(5)
    ).scalars().all()
    return render_template("stores/show.html", store=g.store, recent=recent)


@login_required
def list_documents():
    """The store's documents by title, a page at a time; authors in one query."""
    page = paginate(Document.query_for(g.store).options(selectinload(Document.created_by)),
                    order=[(Document.title, "asc"), (Document.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return render_template("stores/documents/list.html", store=g.store, documents=page.items, page=page)


@login_required
def create_document():
    form = DocumentForm()
    if form.validate_on_submit():
        document = service.create_document(g.store, g.user, form.title.data, form.body.data)
        db.session.commit()
        flash(f"Added '{document.title}'.", "success")
        return redirect(url_for(".show_document", document_id=document.id))
    return render_template("stores/documents/form.html", store=g.store, form=form, document=None)


@login_required
def show_document(document_id):
    document = get_in_store_or_404(Document, document_id)
    return render_template("stores/documents/show.html", store=g.store, document=document,
                           can_change=service.can_change_document(g.user, document))


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
