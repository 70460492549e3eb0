"""Stores and documents as JSON: ``/api/v1/stores/`` and ``/api/v1/s/<store>/...``.

Same chokepoint as the pages: ``<store>`` is resolved by ``webapp.stores.scoping``
(404 outside the caller's stores), documents are read with ``get_in_store_or_404``.
"""
from flask import current_app, g, jsonify, request
from sqlalchemy.orm import selectinload

from webapp.auth.decorators import admin_required, login_required
from webapp.core.bodies import parse_body, provided
from webapp.extensions import db
from webapp.pagination import link_header, page_size, paginate, search_prefix, starts_with
from webapp.providers.service import assign_store_embedding_provider, assign_store_provider, embedding_provider_name
from webapp.stores import access, reports, service
from webapp.stores.access import store_editor_required, store_management_required
from webapp.stores.models import Document, Store
from webapp.stores.schemas import CreateDocument, CreateStore, UpdateDocument, UpdateStore
from webapp.stores.scoping import get_in_store_or_404
from webapp.stores.service import StoreError
from webapp.stores.views import changeable_document


def store_payload(store, binding):
    return {
        "name": store.name,
        "display_name": store.display_name,
        "description": store.description,
        "welcome_text": store.welcome_text,
        "system_prompt": store.system_prompt,
        "model_provider": store.model_provider,
        #: Which provider embeds the store's knowledge for search; "none": full text only.
        "embedding_provider": embedding_provider_name(store),
        "knowledge_count": store.knowledge_count,
        "memory_limit": store.memory_limit,
        "is_default": store.is_default,
        "is_active": store.is_active,
        "created_at": store.created_at.isoformat() + "Z",
        #: True when the caller is bound to this store by their Casdoor Homepage.
        "bound": binding.is_bound and binding.store.id == store.id,
    }


def document_payload(document):
    return {
        "id": document.id,
        "store": g.store.name,
        "title": document.title,
        "body": document.body,
        "created_by": document.created_by.username if document.created_by else None,
        "created_at": document.created_at.isoformat() + "Z",
        "updated_at": document.updated_at.isoformat() + "Z",
    }


@login_required
def list_stores():
    """The stores the caller may use, by name, a page at a time (``?limit=``, ``?cursor=``, ``?q=`` prefix)."""
    binding = access.binding_of(g.user)
    query = access.accessible_stores_query(g.user)
    prefix = search_prefix()
    if prefix:
        query = query.where(starts_with(Store.name, prefix))
    page = paginate(query, order=[(Store.name, "asc"), (Store.id, "asc")], cursor=request.args.get("cursor"),
                    limit=page_size())
    return jsonify(stores=[store_payload(s, binding) for s in page.items], next=page.next_cursor,
                   bound=binding.is_bound, can_manage_stores=access.can_manage_stores(g.user)), link_header(page)


@admin_required
@store_management_required("create stores")
def create_store():
    data = parse_body(CreateStore)
    store = service.create_store(data.name, is_active=data.is_active, **data.settings())
    db.session.commit()
    return jsonify(store=store_payload(store, access.binding_of(g.user))), 201


@login_required
def get_store():
    return jsonify(store=store_payload(g.store, access.binding_of(g.user)))


@admin_required
@store_editor_required
def update_store():
    """Settings for editors; ``name``, ``is_active`` and ``is_default`` need store management.

    The body is checked by ``schemas.UpdateStore`` (422 naming each bad field), then
    every change by ``service.update_store`` before any is applied. With
    ``"update_casdoor": true`` a rename also queues the bound users' Homepage updates at
    Casdoor (``homepage_updates_queued``; the others under ``homepage_updates_needed``).
    """
    store = g.store
    data = parse_body(UpdateStore, context={"current_name": store.name})
    if data.name is not None and data.name != store.name:
        access.require_store_management(g.user, "rename stores")
    if "is_active" in provided(data) or data.is_default:
        access.require_store_management(g.user, "switch stores on or off or choose the default")
    if data.is_default is False and store.is_default:
        raise StoreError("Make another store the default instead.", field="is_default", status_code=409)
    casdoor = service.casdoor_integration() if data.update_casdoor else None
    if data.update_casdoor and casdoor is None:
        raise StoreError("Casdoor is not configured on this server (shadow mode), so Homepages cannot be "
                         "updated from here; leave out update_casdoor and change them in Casdoor.",
                         field="update_casdoor", status_code=409, error="casdoor_not_configured")
    affected = service.update_store(store, name=data.name, settings=data.settings(), is_active=data.is_active,
                                    make_default=bool(data.is_default))
    if data.model_provider is not None:
        # The chat's provider rows decide what a name means (404-free: 422 for an unknown one).
        assign_store_provider(store, data.model_provider)
    if data.embedding_provider is not None:
        # 422 for an unknown name; a change of model queues the store's re-embedding.
        assign_store_embedding_provider(store, data.embedding_provider)
    queued, skipped = [], []
    if affected:
        queued, skipped = (service.queue_homepage_updates(affected, store) if casdoor is not None
                           else ([], affected))
    db.session.commit()
    return jsonify(
        store=store_payload(store, access.binding_of(g.user)),
        #: Bound users keep their store; these Homepages are being updated at Casdoor in the background.
        homepage_updates_queued=[user.username for user in queued],
        #: These still say a former name (bound through it) until changed in Casdoor by hand.
        homepage_updates_needed=[user.username for user in skipped],
    )


@admin_required
@store_management_required("delete stores")
def delete_store():
    """Delete a store; with bound users only when ``?confirm=true`` (they lose their binding)."""
    store = g.store
    affected = reports.bound_users(store, limit=50)
    if affected and request.args.get("confirm") != "true":
        fallback = "no store" if current_app.config["STORE_BINDING_FAIL_CLOSED"] else "every store"
        raise StoreError(
            f"{reports.count_bound_users(store)} user(s) are bound to '{store.name}' "
            f"({', '.join(u.username for u in affected)}); after deletion their Homepage matches no store "
            f"and they can use {fallback}. Repeat with ?confirm=true to delete anyway.",
            status_code=409, error="store_has_bound_users",
        )
    counts = service.delete_store(store)
    db.session.commit()
    return jsonify(deleted=counts, unbound_users=[user.username for user in affected])


@login_required
def list_documents():
    """The store's documents, newest first, a page at a time; authors in one query."""
    page = paginate(Document.query_for(g.store).options(selectinload(Document.created_by)),
                    order=[(Document.updated_at, "desc"), (Document.id, "desc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return jsonify(documents=[document_payload(d) for d in page.items], next=page.next_cursor), link_header(page)


@login_required
def create_document():
    data = parse_body(CreateDocument)
    document = service.create_document(g.store, g.user, data.title, data.body)
    db.session.commit()
    return jsonify(document=document_payload(document)), 201


@login_required
def get_document(document_id):
    return jsonify(document=document_payload(get_in_store_or_404(Document, document_id)))


@login_required
def update_document(document_id):
    document = changeable_document(document_id)
    data = parse_body(UpdateDocument)
    service.update_document(document, data.title, data.body)
    db.session.commit()
    return jsonify(document=document_payload(document))


@login_required
def delete_document(document_id):
    service.delete_document(changeable_document(document_id))
    db.session.commit()
    return jsonify(ok=True)
