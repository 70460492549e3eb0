"""Stores and documents as JSON: ``/api/v1/stores/`` and ``/api/v1/s/<store>/...``.

Same chokepoint as the pages: ``<store>`` is resolved by ``webapp.stores.scoping``
(404 outside the caller's stores), documents are read with ``get_in_store_or_404``.
"""
from flask import current_app, g, jsonify, request

from webapp.api.views import json_body
from webapp.auth.decorators import admin_required, login_required
from webapp.extensions import db
from webapp.stores import api_bp as bp
from webapp.stores import scoping, service
from webapp.stores.models import Document
from webapp.stores.scoping import get_in_store_or_404, store_editor_required, store_management_required
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
        "store": document.store.name,
        "title": document.title,
        "body": document.body,
        "created_by": document.created_by.username if document.created_by else None,
        "created_at": document.created_at.isoformat() + "Z",
        "updated_at": document.updated_at.isoformat() + "Z",
    }


@bp.get("/stores/")
@login_required
def list_stores():
    binding = scoping.binding_of(g.user)
    stores = scoping.accessible_stores(g.user)
    return jsonify(stores=[store_payload(s, binding) for s in stores], bound=binding.is_bound,
                   can_manage_stores=scoping.can_manage_stores(g.user))


@bp.post("/stores/")
@admin_required
@store_management_required("create stores")
def create_store():
    data = json_body()
    settings = {key: data[key] for key in service.SETTINGS if key in data}
    store = service.create_store(data.get("name"), is_active=data.get("is_active", True), **settings)
    db.session.commit()
    return jsonify(store=store_payload(store, scoping.binding_of(g.user))), 201


@bp.get("/s/<store>/")
@login_required
def get_store():
    return jsonify(store=store_payload(g.store, scoping.binding_of(g.user)))


@bp.patch("/s/<store>/")
@admin_required
@store_editor_required
def update_store():
    """Settings for editors; ``name``, ``is_active`` and ``is_default`` need store management.

    With ``"update_casdoor": true`` a rename also sets the bound users' Homepage at
    Casdoor (reported per user under ``casdoor``).
    """
    store = g.store
    data = json_body()
    if "name" in data and data["name"] != store.name:
        scoping.require_store_management(g.user, "rename stores")
    if "is_active" in data or data.get("is_default"):
        scoping.require_store_management(g.user, "switch stores on or off or choose the default")
    if data.get("is_default") is False and store.is_default:
        raise StoreError("Make another store the default instead.", field="is_default", status_code=409)
    casdoor = service.casdoor_integration() if data.get("update_casdoor") else None
    if data.get("update_casdoor") and casdoor is None:
        raise StoreError("Casdoor is not configured on this server (shadow mode), so Homepages cannot be "
                         "updated from here; leave out update_casdoor and change them in Casdoor.",
                         field="update_casdoor", status_code=409, error="casdoor_not_configured")
    affected, results = [], []
    if "name" in data:
        affected = service.rename_store(store, data["name"])
    service.update_store_settings(store, data, is_active=data.get("is_active"))
    if data.get("is_default"):
        service.make_default_store(store)
    if affected and casdoor is not None:
        results = service.rebind_users_in_casdoor(affected, store.name, casdoor)
    db.session.commit()
    rebound = {user.id for user, error in results if error is None}
    return jsonify(
        store=store_payload(store, scoping.binding_of(g.user)),
        #: Users whose Homepage names the old name: no longer bound.
        unbound_users=[user.username for user in affected if user.id not in rebound],
        casdoor=[{"username": user.username, "casdoor_name": user.casdoor_name, "ok": error is None,
                  "error": error} for user, error in results],
    )


@bp.delete("/s/<store>/")
@admin_required
@store_management_required("delete stores")
def delete_store():
    """Delete a store; with bound users only when ``?confirm=true`` (they lose their binding)."""
    store = g.store
    affected = scoping.bound_users(store)
    if affected and request.args.get("confirm") != "true":
        fallback = "no store" if current_app.config["STORE_BINDING_FAIL_CLOSED"] else "every store"
        raise StoreError(
            f"{len(affected)} user(s) are bound to '{store.name}' "
            f"({', '.join(u.username for u in affected)}); after deletion their Homepage matches no store "
            f"and they can use {fallback}. Repeat with ?confirm=true to delete anyway.",
            status_code=409, error="store_has_bound_users",
        )
    counts = service.delete_store(store)
    db.session.commit()
    return jsonify(deleted=counts, unbound_users=[user.username for user in affected])


@bp.get("/s/<store>/documents/")
@login_required
def list_documents():
    documents = db.session.execute(Document.query_for(g.store).order_by(Document.id)).scalars()
    return jsonify(documents=[document_payload(d) for d in documents])


@bp.post("/s/<store>/documents/")
@login_required
def create_document():
    data = json_body()
    document = service.create_document(g.store, g.user, data.get("title"), data.get("body"))
    db.session.commit()
    return jsonify(document=document_payload(document)), 201


@bp.get("/s/<store>/documents/<int:document_id>")
@login_required
def get_document(document_id):
    return jsonify(document=document_payload(get_in_store_or_404(Document, document_id)))


@bp.patch("/s/<store>/documents/<int:document_id>")
@login_required
def update_document(document_id):
    document = changeable_document(document_id)
    data = json_body()
    service.update_document(document, data.get("title"), data.get("body"))
    db.session.commit()
    return jsonify(document=document_payload(document))


@bp.delete("/s/<store>/documents/<int:document_id>")
@login_required
def delete_document(document_id):
    service.delete_document(changeable_document(document_id))
    db.session.commit()
    return jsonify(ok=True)
