"""Stores: workspaces, the Casdoor Homepage binding, who may use which store, and documents.

* ``models`` (``Store``, ``StoreAlias``, ``StoreGrant``, ``Document``,
  ``StoreOwnedMixin``), ``rules`` (the store name rule and field limits);
* ``access`` (the access policy: who may use and manage which store) and
  ``scoping`` (applies it to every ``<store>`` URL): together the tenancy chokepoint;
* ``service`` (create, rename, delete, grant; flushes), ``reports`` (what
  administrators see, bounded), ``jobs`` (Homepages updated at Casdoor after a
  rename), ``templating`` (the sidebar's store selector), ``cli``;
* ``views`` (the chooser and pages inside a store), ``admin`` (``/admin/stores/``),
  ``api`` (JSON), ``forms``, ``schemas``.

URLs in ``blueprint.py``.
"""
from webapp.navigation import nav_item


def init_app(app):
    """Register the blueprints, the store selector, the Homepage job, ``url_for``'s store default
    and ``flask stores``."""
    from webapp.stores import jobs, scoping, templating  # noqa: F401  (jobs: registers its handler)
    from webapp.stores.blueprint import admin_bp, api_bp, pages
    from webapp.stores.cli import stores_cli

    app.register_blueprint(pages)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.url_defaults(scoping.fill_store_default)
    app.context_processor(templating.store_context)
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
