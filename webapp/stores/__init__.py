"""Stores: workspaces, the Casdoor Homepage binding, and the documents they own.

Three blueprints, all scoped through ``webapp.stores.scoping``:

* ``stores``        pages under ``/s/<store>/`` (store home, documents);
* ``stores_admin``  ``/admin/stores/...`` and ``/admin/users/`` (administrators);
* ``stores_api``    JSON under ``/api/v1/stores/`` and ``/api/v1/s/<store>/``.
"""
from flask import Blueprint

from webapp.navigation import nav_item
from webapp.stores import scoping

bp = Blueprint("stores", __name__, url_prefix="/s/<store>")
admin_bp = Blueprint("stores_admin", __name__, url_prefix="/admin")
api_bp = Blueprint("stores_api", __name__, url_prefix="/api/v1")

scoping.init_scoped_blueprint(bp, work=True)
scoping.init_scoped_blueprint(admin_bp)
scoping.init_scoped_blueprint(api_bp)

from webapp.stores import admin, admin_users, api, jobs, views  # noqa: E402,F401


def init_app(app):
    """Register the blueprints, the ``url_for`` store default and ``flask stores``."""
    from webapp.stores.cli import stores_cli

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    scoping.init_app(app)
    app.cli.add_command(stores_cli)
    init_navigation(app)


def init_navigation(app):
    """The sidebar entries of store pages and of store administration."""
    nav_item(app, "store", "stores.show_store", "Overview", "home", order=10)
    nav_item(app, "store", "stores.list_documents", "Documents", "files", order=20,
             also_current=("stores.show_document", "stores.create_document", "stores.edit_document",
                           "stores.delete_document"))
    nav_item(app, "admin", "stores_admin.list_stores", "Stores", "store", order=10, admin_only=True,
             store_scoped=False, testid="admin-link",
             also_current=("stores_admin.create_store", "stores_admin.edit_store", "stores_admin.rename_store",
                           "stores_admin.delete_store"))
    nav_item(app, "admin", "stores_admin.list_users", "Users", "users", order=20, admin_only=True,
             store_scoped=False, also_current=("stores_admin.create_user", "stores_admin.show_user"))
