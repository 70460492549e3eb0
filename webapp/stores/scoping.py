"""The request side of the tenancy chokepoint: ``/s/<store>/`` URLs and store-owned rows.

* ``init_scoped_blueprint(bp)``: every ``<store>`` URL value of ``bp`` is popped,
  loaded into ``g.store`` (one indexed query) and answered with 404 unless
  ``webapp.stores.access`` says the user may use that store;
* ``fill_store_default``: ``url_for`` inside a store keeps the store;
* ``get_in_store_or_404(Model, id)``: a store-owned row of the current store, or
  404 (a row of another store is indistinguishable from one that does not exist).

Who may use which store is decided in ``webapp.stores.access``; nothing here
decides access, it only applies it.
"""
from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import NotFound, Unauthorized

from webapp.extensions import db
from webapp.stores.access import find_accessible_store


def _pop_store_name(endpoint, values):
    if values and "store" in values:
        g.store_name = values.pop("store")


def load_store():
    """before_request of scoped blueprints: ``g.store`` or 404 (401/sign-in when anonymous).

    Runs after the app's ``load_current_user``, which is why the URL value is
    only popped in the preprocessor and checked here.
    """
    g.store = None
    name = g.pop("store_name", None)
    if name is None:
        return
    if g.get("user") is None:
        if request.path.startswith("/api/"):
            raise Unauthorized("Sign in first: send 'Authorization: Token <session key>'.")
        abort(redirect(url_for("auth.login", next=request.full_path.rstrip("?"))))
    store = find_accessible_store(g.user, name)
    if store is None:
        # Same answer whether the store exists or not: names are not probed.
        raise NotFound(f"There is no store '{name}' you can use.")
    g.store = store
    # Remember the stores a person works in (not one an admin merely configures)
    # for "/" and for the selector's "recent" list.
    if request.blueprint in _WORK_BLUEPRINTS:
        remember_store(store)


#: How many recently used stores the session remembers for the selector.
RECENT_STORES = 5


def remember_store(store):
    if session.get("store") != store.name:
        session["store"] = store.name
    recent = session.get("recent_stores") or []
    if not recent or recent[0] != store.name:
        session["recent_stores"] = [store.name, *[name for name in recent if name != store.name]][:RECENT_STORES]


def fill_store_default(endpoint, values):
    """app url_defaults: ``url_for`` inside a store keeps the store unless told otherwise."""
    store = g.get("store")
    if store is not None and "store" not in values and \
            current_app.url_map.is_endpoint_expecting(endpoint, "store"):
        values["store"] = store.name


#: Blueprints whose pages are work in a store (not administration of one).
_WORK_BLUEPRINTS = set()


def init_scoped_blueprint(bp, *, work=False):
    """Make ``<store>`` in ``bp``'s URLs go through the chokepoint.

    :param work: its pages are where people work in a store (documents, chat,
        knowledge): visiting one makes it the store ``/`` returns to.
    """
    bp.url_value_preprocessor(_pop_store_name)
    bp.before_request(load_store)
    if work:
        _WORK_BLUEPRINTS.add(bp.name)


def get_in_store_or_404(model, object_id, store=None):
    """The ``model`` row ``object_id`` of ``store`` (default ``g.store``).

    A row of another store answers 404, exactly like a row that does not
    exist, so ids cannot be probed across stores.
    """
    store = store if store is not None else g.get("store")
    if store is None:
        raise NotFound()
    row = db.session.execute(
        model.query_for(store).filter(model.id == object_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row
