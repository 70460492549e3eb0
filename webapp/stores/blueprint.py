"""Every URL of stores: the chooser, pages inside a store (``/s/<store>/``), store
administration (``/admin/stores/``) and the JSON API (``/api/v1/stores/``, ``/api/v1/s/<store>/``).

Every ``<store>`` goes through the tenancy chokepoint (``webapp.stores.scoping``)
before any view runs.
"""
from flask import Blueprint

from webapp.stores import admin, api, scoping, views

pages = Blueprint("stores", __name__)
scoping.init_scoped_blueprint(pages, work=True)
pages.add_url_rule("/stores/", view_func=views.choose_store)
pages.add_url_rule("/s/<store>/", view_func=views.show_store)
pages.add_url_rule("/s/<store>/documents/", view_func=views.list_documents)
pages.add_url_rule("/s/<store>/documents/new", view_func=views.create_document, methods=["GET", "POST"])
pages.add_url_rule("/s/<store>/documents/<id:document_id>", view_func=views.show_document)
pages.add_url_rule("/s/<store>/documents/<id:document_id>/edit", view_func=views.edit_document,
                   methods=["GET", "POST"])
pages.add_url_rule("/s/<store>/documents/<id:document_id>/delete", view_func=views.delete_document,
                   methods=["GET", "POST"])

admin_bp = Blueprint("stores_admin", __name__, url_prefix="/admin/stores")
scoping.init_scoped_blueprint(admin_bp)
admin_bp.add_url_rule("/", view_func=admin.list_stores)
admin_bp.add_url_rule("/new", view_func=admin.create_store, methods=["GET", "POST"])
admin_bp.add_url_rule("/<store>/edit", view_func=admin.edit_store, methods=["GET", "POST"])
admin_bp.add_url_rule("/<store>/rename", view_func=admin.rename_store, methods=["GET", "POST"])
admin_bp.add_url_rule("/<store>/delete", view_func=admin.delete_store, methods=["GET", "POST"])
admin_bp.add_url_rule("/<store>/make-default", view_func=admin.make_default, methods=["POST"])

api_bp = Blueprint("stores_api", __name__, url_prefix="/api/v1")
scoping.init_scoped_blueprint(api_bp)
api_bp.add_url_rule("/stores/", view_func=api.list_stores)
api_bp.add_url_rule("/stores/", view_func=api.create_store, methods=["POST"])
api_bp.add_url_rule("/s/<store>/", view_func=api.get_store)
api_bp.add_url_rule("/s/<store>/", view_func=api.update_store, methods=["PATCH"])
api_bp.add_url_rule("/s/<store>/", view_func=api.delete_store, methods=["DELETE"])
api_bp.add_url_rule("/s/<store>/documents/", view_func=api.list_documents)
api_bp.add_url_rule("/s/<store>/documents/", view_func=api.create_document, methods=["POST"])
api_bp.add_url_rule("/s/<store>/documents/<id:document_id>", view_func=api.get_document)
api_bp.add_url_rule("/s/<store>/documents/<id:document_id>", view_func=api.update_document, methods=["PATCH"])
api_bp.add_url_rule("/s/<store>/documents/<id:document_id>", view_func=api.delete_document, methods=["DELETE"])
