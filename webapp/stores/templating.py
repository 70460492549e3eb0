"""What the page shell needs from stores: the header's store selector and the admin links."""
from flask import g, request, session

from webapp.stores import scoping

#: Pages that exist in every store: switching stores keeps you on the same kind of page.
_SWITCHABLE_ENDPOINTS = {"stores.show_store", "stores.list_documents"}


def store_context():
    """``store_selector`` (for ``_partials/store_selector.html``) and ``admin_links``.

    ``store_selector`` is None for anonymous users; otherwise a dict with the
    accessible ``stores``, the ``current`` store (``g.store`` if any), whether
    the selector is ``locked`` (bound by Casdoor Homepage), the ``binding`` and
    the ``endpoint`` the store links point to.
    """
    user = g.get("user")
    if user is None:
        return {"store_selector": None, "admin_links": []}
    binding = scoping.binding_of(user)
    stores = scoping.accessible_stores(user)
    endpoint = request.endpoint if request.endpoint in _SWITCHABLE_ENDPOINTS else "stores.show_store"
    current = g.get("store")
    if current is None and stores:
        # Outside a store (admin pages, settings): show where "/" would take you.
        current = scoping.home_store(user, session.get("store"))
    selector = {
        "stores": stores,
        "current": current or (binding.store if binding.is_bound else None),
        "locked": binding.is_bound,
        "binding": binding,
        "endpoint": endpoint,
    }
    links = []
    if user.is_effective_admin:
        links = [("stores_admin.list_stores", "Admin")]
    return {"store_selector": selector, "admin_links": links}
