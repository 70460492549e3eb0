"""What the page shell needs from stores: the sidebar's store selector and the store
that the sidebar's store entries point to.

Bounded however many stores there are: the selector shows the current store,
the ones this browser used recently and, when the user may use only a few
stores, all of them; otherwise a link to the searchable list (``/stores/``).
"""
from flask import g, request, session

from webapp.extensions import db
from webapp.stores import access
from webapp.stores.models import Store

#: Pages that exist in every store: switching stores keeps you on the same kind of page.
_SWITCHABLE_ENDPOINTS = {"stores.show_store", "stores.list_documents"}
#: Up to this many accessible stores are listed in the selector itself.
SELECTOR_LIMIT = 8


def switchable_endpoint(endpoint):
    """Register a page that exists in every store (switching stores stays on it)."""
    _SWITCHABLE_ENDPOINTS.add(endpoint)


def store_context():
    """``store_selector`` (for ``_partials/store_selector.html``) and ``shell_store``.

    ``store_selector`` is None for anonymous users; otherwise a dict with the
    ``current`` store, the ``stores`` to list (current first, then recent, or
    all when there are at most SELECTOR_LIMIT), ``more`` (there are others: link
    to the searchable list), whether the selector is ``locked`` (bound by
    Casdoor Homepage), the ``binding`` and the ``endpoint`` store links point to.

    ``shell_store`` is the store the sidebar's store pages lead to: ``g.store``
    inside a store, else where ``/`` would take the user; None when the user
    has no store to use.
    """
    user = g.get("user")
    if user is None:
        return {"store_selector": None, "shell_store": None}
    grant = access.access_of(user)
    endpoint = request.endpoint if request.endpoint in _SWITCHABLE_ENDPOINTS else "stores.show_store"
    current = g.get("store")
    if grant.kind == access.BOUND:
        stores, more = [grant.store], False
        current = grant.store
    elif grant.kind == access.NONE:
        stores, more = [], False
    else:
        query = access.accessible_stores_query(user)
        few = db.session.execute(query.order_by(Store.name).limit(SELECTOR_LIMIT + 1)).scalars().all()
        more = len(few) > SELECTOR_LIMIT
        if not more:
            stores = few
        else:
            recent = [name for name in (session.get("recent_stores") or []) if not current or name != current.name]
            found = {store.name: store for store in db.session.execute(
                query.where(Store.name.in_(recent))).scalars()} if recent else {}
            stores = [found[name] for name in recent if name in found]
            if current is not None:
                stores.insert(0, current)
        if current is None:
            # Outside a store (admin pages, settings): show where "/" would take you.
            current = access.home_store(user, session.get("store"))
            if current is not None and more and current not in stores:
                stores.insert(0, current)
    selector = {
        "stores": stores,
        "more": more,
        "current": current,
        "locked": grant.kind == access.BOUND,
        "binding": grant.binding,
        "endpoint": endpoint,
    }
    return {"store_selector": selector, "shell_store": current}
