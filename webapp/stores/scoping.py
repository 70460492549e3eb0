"""The tenancy chokepoint: which stores a user may use, and nothing read outside them.

Everything that decides or applies store access lives here, so a review of
isolation is a review of this module:

* ``binding_of(user)`` / ``bound_store(user)``: the Casdoor Homepage binding;
* ``accessible_stores(user)``: the stores a user may use (a bound user: one);
* ``init_scoped_blueprint(bp)``: every ``<store>`` URL value is popped, loaded
  into ``g.store`` and answered with 404 unless the store is accessible;
* ``StoreOwnedMixin.query_for(store)`` and ``get_in_store_or_404(Model, id)``:
  the only way store-owned rows are read (a row of another store is a 404);
* ``can_manage_stores`` / ``can_edit_store``, their ``require_*`` forms and the
  ``store_management_required`` / ``store_editor_required`` decorators: who
  may create, rename, delete and configure stores.

A user is *bound* when the Homepage Casdoor sent at their last sign-in equals
the name of an existing store. Admins are not exempt. A Homepage that names no
store leaves the user unbound with access to every store, or to none when
``STORE_BINDING_FAIL_CLOSED`` is set.
"""
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import declared_attr
from werkzeug.exceptions import Forbidden, NotFound, Unauthorized

from webapp.errors import StorehouseError
from webapp.extensions import db

#: Every model that mixes in StoreOwnedMixin (filled as the classes are defined).
STORE_OWNED_MODELS = []


class StoreBindingError(StorehouseError):
    """A bound account asked for something its binding rules out (403)."""

    status_code = 403
    error = "store_binding"

    def __init__(self, store_name, action):
        self.store_name = store_name
        super().__init__(
            f"Your account is bound to store '{store_name}' by its Casdoor Homepage, "
            f"so it cannot {action}. Ask a Casdoor administrator to change your Homepage "
            "if you need more."
        )


# --- the binding -------------------------------------------------------------

@dataclass(frozen=True)
class Binding:
    """How a user's Casdoor Homepage relates to the stores.

    ``state`` is ``"bound"`` (Homepage names a store: ``store``),
    ``"unmatched"`` (Homepage names no store: access to all or none, see
    ``fail_closed``) or ``"unbound"`` (no Homepage).
    """

    state: str
    homepage: str = ""
    store: object = None
    fail_closed: bool = False

    @property
    def is_bound(self):
        return self.state == "bound"

    @property
    def describe(self):
        if self.state == "bound":
            return f"bound to store '{self.store.name}'"
        if self.state == "unmatched":
            access = "no store" if self.fail_closed else "all stores"
            return f"Homepage '{self.homepage}' matches no store: {access}"
        return "unbound: all stores"


def _homepage(user):
    return (getattr(user, "casdoor_homepage", None) or "").strip()


def binding_of(user, stores_by_name=None):
    """The user's ``Binding``; ``stores_by_name`` avoids a query per user in lists."""
    from webapp.stores.models import Store

    homepage = _homepage(user)
    if not homepage:
        return Binding("unbound")
    if stores_by_name is not None:
        store = stores_by_name.get(homepage)
    else:
        store = db.session.execute(db.select(Store).filter_by(name=homepage)).scalar_one_or_none()
    if store is not None:
        return Binding("bound", homepage, store)
    return Binding("unmatched", homepage, fail_closed=current_app.config["STORE_BINDING_FAIL_CLOSED"])


def bound_store(user):
    """The store whose name equals the user's Casdoor Homepage, or None."""
    return binding_of(user).store


def accessible_stores(user):
    """The stores ``user`` may use, default first, then by name.

    Bound: exactly the bound store (none if it is inactive and the user is no
    admin). Homepage matching no store: every store, or none when
    ``STORE_BINDING_FAIL_CLOSED``. Otherwise every active store; admins also
    see inactive ones. Anonymous users have none.
    """
    from webapp.stores.models import Store

    if user is None:
        return []
    binding = binding_of(user)
    if binding.is_bound:
        store = binding.store
        return [store] if store.is_active or user.is_effective_admin else []
    if binding.state == "unmatched" and binding.fail_closed:
        return []
    query = db.select(Store).order_by(Store.is_default.desc(), Store.name)
    if not user.is_effective_admin:
        query = query.filter(Store.is_active.is_(True))
    return list(db.session.execute(query).scalars())


def find_accessible_store(user, name):
    """The accessible store called ``name``, or None (never says whether it exists)."""
    return next((store for store in accessible_stores(user) if store.name == name), None)


def home_store(user, preferred_name=None):
    """Where ``/`` takes the user: the bound store, else the preferred (last used)
    store when still accessible, else the default, else the first accessible one."""
    stores = accessible_stores(user)
    if not stores:
        return None
    by_name = {store.name: store for store in stores}
    if preferred_name in by_name:
        return by_name[preferred_name]
    return next((store for store in stores if store.is_default), stores[0])


# --- who may manage stores ---------------------------------------------------

def _is_shut_out(binding):
    """Homepage names no store and the server is fail-closed: no store at all."""
    return binding.state == "unmatched" and binding.fail_closed


def can_manage_stores(user):
    """Create, rename, delete stores and choose the default: unbound admins only
    (an admin shut out by a fail-closed unmatched Homepage is no exception)."""
    if not (user and user.is_effective_admin):
        return False
    binding = binding_of(user)
    return not binding.is_bound and not _is_shut_out(binding)


def can_edit_store(user, store):
    """Change a store's settings (not its name): admins; a bound admin only their own store."""
    if not (user and user.is_effective_admin):
        return False
    binding = binding_of(user)
    return not binding.is_bound or binding.store.id == store.id


def require_store_management(user, action):
    """Raise unless ``user`` may create/rename/delete stores.

    :param action: what was attempted, for the message ("create stores").
    :raises StoreBindingError: the user is a bound admin (403).
    :raises Forbidden: the user is no admin.
    """
    if not (user and user.is_effective_admin):
        raise Forbidden("Only administrators can do this.")
    binding = binding_of(user)
    if binding.is_bound:
        raise StoreBindingError(binding.store.name, action)
    if _is_shut_out(binding):
        raise Forbidden(f"Your Casdoor Homepage '{binding.homepage}' matches no store, and this server gives "
                        "such accounts no store at all (STORE_BINDING_FAIL_CLOSED), so you cannot "
                        f"{action}. Ask a Casdoor administrator to change your Homepage.")


def require_store_edit(user, store):
    """Raise unless ``user`` may change ``store``'s settings (see ``can_edit_store``)."""
    if not (user and user.is_effective_admin):
        raise Forbidden("Only administrators can do this.")
    if not can_edit_store(user, store):
        # Unreachable through URLs (the store would not be accessible), kept as a backstop.
        raise StoreBindingError(binding_of(user).store.name, f"change store '{store.name}'")


def store_management_required(action):
    """View decorator: ``require_store_management(g.user, action)`` before the view.

    Stack it under ``admin_required`` (which signs people in first)::

        @admin_required
        @store_management_required("rename stores")
    """
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            require_store_management(g.user, action)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def store_editor_required(view):
    """View decorator: ``require_store_edit(g.user, g.store)``; under ``admin_required``."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        require_store_edit(g.user, g.store)
        return view(*args, **kwargs)

    return wrapped


# --- loading the store of a /s/<store>/ URL -----------------------------------

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
    # Remember the store a person works in (not one an admin merely configures) for "/".
    if request.blueprint == "stores" and session.get("store") != store.name:
        session["store"] = store.name


def fill_store_default(endpoint, values):
    """app url_defaults: ``url_for`` inside a store keeps the store unless told otherwise."""
    store = g.get("store")
    if store is not None and "store" not in values and \
            current_app.url_map.is_endpoint_expecting(endpoint, "store"):
        values["store"] = store.name


def init_scoped_blueprint(bp):
    """Make ``<store>`` in ``bp``'s URLs go through the chokepoint."""
    bp.url_value_preprocessor(_pop_store_name)
    bp.before_request(load_store)


# --- store-owned rows -----------------------------------------------------------

class StoreOwnedMixin:
    """A row that belongs to exactly one store; read it only through these helpers."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__tablename__", None):
            STORE_OWNED_MODELS.append(cls)

    @declared_attr
    def store_id(cls):
        return db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"),
                         nullable=False, index=True)

    @declared_attr
    def store(cls):
        return db.relationship("Store")

    @classmethod
    def query_for(cls, store):
        """A ``select`` of this model's rows in ``store`` (add ordering and filters to it)."""
        return db.select(cls).filter(cls.store_id == store.id)


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


def count_in_store(model, store):
    return db.session.execute(
        db.select(db.func.count()).select_from(model).filter(model.store_id == store.id)
    ).scalar_one()


def counts_by_store(model):
    """``{store_id: number of rows}`` for every store with rows (one query)."""
    rows = db.session.execute(
        db.select(model.store_id, db.func.count()).group_by(model.store_id)
    )
    return dict(rows.all())


def delete_store_rows(store):
    """Delete every store-owned row of ``store`` (flushes; the caller commits).

    Done explicitly rather than by ``ON DELETE CASCADE`` alone, which SQLite
    ignores unless foreign keys are switched on.
    """
    counts = {}
    for model in STORE_OWNED_MODELS:
        result = db.session.execute(db.delete(model).where(model.store_id == store.id))
        counts[model.__tablename__] = result.rowcount
    db.session.flush()
    return counts


# --- users bound to a store ------------------------------------------------------

def bound_users(store):
    """Users whose Homepage binds them to ``store``, by username."""
    from webapp.users.models import User

    return list(db.session.execute(
        db.select(User).filter(User.casdoor_homepage == store.name).order_by(User.username)
    ).scalars())


def bound_user_counts():
    """``{homepage: number of users}`` for every non-empty Homepage (one query)."""
    from webapp.users.models import User

    rows = db.session.execute(
        db.select(User.casdoor_homepage, db.func.count())
        .filter(User.casdoor_homepage.is_not(None), User.casdoor_homepage != "")
        .group_by(User.casdoor_homepage)
    )
    return dict(rows.all())


def users_with_bindings(viewer):
    """``[(user, Binding)]`` of the users ``viewer`` may see on the admin users page.

    A bound administrator manages one store, so they see only the users bound
    to it; listing the others would reveal the other stores' names. An
    administrator shut out by fail-closed sees nobody.
    """
    from webapp.stores.models import Store
    from webapp.users.models import User

    stores_by_name = {store.name: store for store in db.session.execute(db.select(Store)).scalars()}
    users = db.session.execute(db.select(User).order_by(User.username)).scalars()
    rows = [(user, binding_of(user, stores_by_name)) for user in users]
    own = binding_of(viewer, stores_by_name)
    if own.is_bound:
        rows = [(user, b) for user, b in rows if b.is_bound and b.store.id == own.store.id]
    elif _is_shut_out(own):
        rows = []
    return rows


def init_app(app):
    app.url_defaults(fill_store_default)
