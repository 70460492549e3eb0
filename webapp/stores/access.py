"""Who may use which stores, and who may manage them: the access policy.

Together with ``webapp.stores.scoping`` (which applies it to every request)
this is the tenancy chokepoint; a review of isolation is a review of these two
modules.

The rules, in order:

1. **Bound.** A user whose Casdoor Homepage (at their last Casdoor sign-in)
   equals the name of a store, or a former name still pending at Casdoor
   (``StoreAlias``), uses exactly that store, whatever the session: a local
   password is not a way out. Administrators are not exempt. An inactive
   bound store leaves a non-administrator with no store.
2. **Homepage naming no store.** ``STORE_BINDING_FAIL_CLOSED``: no store at
   all; otherwise the user is treated as unbound.
3. **Administrators** (granted here, or by Casdoor in a Casdoor session) use
   every store, inactive ones included.
4. **Casdoor sessions** of unbound users use every active store (Casibase's
   semantics), while the Casdoor profile is fresh.
5. **Everybody else** (local accounts, Casdoor accounts signed in with their
   local password) uses the active stores an administrator granted them
   (``StoreGrant``), and no store until then.
"""
from dataclasses import dataclass
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from werkzeug.exceptions import Forbidden

from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.stores.models import Store, StoreAlias, StoreGrant

BOUND, ALL, ALL_ACTIVE, GRANTED, NONE = "bound", "all", "all_active", "granted", "none"


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

    ``state`` is ``"bound"`` (Homepage names a store, or a former name pending at
    Casdoor: ``store``), ``"unmatched"`` (Homepage names no store: see
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
    def is_shut_out(self):
        """Homepage names no store and the server is fail-closed: no store at all."""
        return self.state == "unmatched" and self.fail_closed

    @property
    def describe(self):
        if self.state == "bound":
            return f"bound to store '{self.store.name}'"
        if self.state == "unmatched":
            access = "no store" if self.fail_closed else "not bound"
            return f"Homepage '{self.homepage}' matches no store: {access}"
        return "not bound"


def _homepage(user):
    return (getattr(user, "casdoor_homepage", None) or "").strip()


def store_for_homepage(homepage):
    """The store a Homepage binds to: by name, else by a pending former name (two indexed lookups at most)."""
    store = db.session.execute(db.select(Store).filter_by(name=homepage)).scalar_one_or_none()
    if store is None:
        store = db.session.execute(
            db.select(Store).join(StoreAlias, StoreAlias.store_id == Store.id).where(StoreAlias.name == homepage)
        ).scalar_one_or_none()
    return store


def binding_of(user, stores_by_homepage=None):
    """The user's ``Binding`` (memoised per request).

    :param stores_by_homepage: ``{homepage: store}`` for a whole list of users
        (see ``webapp.stores.reports``), instead of a query per user.
    """
    homepage = _homepage(user)
    if not homepage:
        return Binding("unbound")
    if stores_by_homepage is not None:
        store = stores_by_homepage.get(homepage)
    else:
        memo = g.setdefault("_store_for_homepage", {}) if has_request_context() else {}
        if homepage not in memo:
            memo[homepage] = store_for_homepage(homepage)
        store = memo[homepage]
    if store is not None:
        return Binding("bound", homepage, store)
    return Binding("unmatched", homepage, fail_closed=current_app.config["STORE_BINDING_FAIL_CLOSED"])


def bound_store(user):
    """The store the user is bound to, or None."""
    return binding_of(user).store


# --- which stores a user may use ---------------------------------------------------

@dataclass(frozen=True)
class Access:
    kind: str
    binding: Binding
    store: object = None  # the bound store


def access_of(user):
    """Which of the rules above applies to ``user`` in this request."""
    if user is None:
        return Access(NONE, Binding("unbound"))
    binding = binding_of(user)
    if binding.is_bound:
        store = binding.store
        if store.is_active or user.is_effective_admin:
            return Access(BOUND, binding, store)
        return Access(NONE, binding)
    if binding.is_shut_out:
        return Access(NONE, binding)
    if user.is_effective_admin:
        return Access(ALL, binding)
    if user.casdoor_privileges:
        return Access(ALL_ACTIVE, binding)
    return Access(GRANTED, binding)


def accessible_stores_query(user):
    """A ``select`` of the stores ``user`` may use (add ordering, filters and a limit).

    Never load it whole: there may be thousands of stores.
    """
    access = access_of(user)
    query = db.select(Store)
    if access.kind == NONE:
        return query.where(sa.false())
    if access.kind == BOUND:
        return query.where(Store.id == access.store.id)
    if access.kind == ALL:
        return query
    query = query.where(Store.is_active.is_(True))
    if access.kind == GRANTED:
        granted = db.select(StoreGrant.store_id).where(StoreGrant.user_id == user.id)
        query = query.where(Store.id.in_(granted))
    return query


def find_accessible_store(user, name):
    """The store called ``name`` if ``user`` may use it, else None (one indexed query;
    never says whether a store of that name exists)."""
    access = access_of(user)
    if access.kind == BOUND:
        return access.store if access.store.name == name else None
    if access.kind == NONE:
        return None
    return db.session.execute(accessible_stores_query(user).where(Store.name == name)).scalar_one_or_none()


def home_store(user, preferred_name=None):
    """Where ``/`` takes the user: the bound store, else the preferred (last used)
    store when still accessible, else the default when accessible, else the first
    accessible by name. At most three small queries."""
    access = access_of(user)
    if access.kind == BOUND:
        return access.store
    if access.kind == NONE:
        return None
    if preferred_name:
        store = find_accessible_store(user, preferred_name)
        if store is not None:
            return store
    query = accessible_stores_query(user)
    default = db.session.execute(query.where(Store.is_default.is_(True))).scalar_one_or_none()
    if default is not None:
        return default
    return db.session.execute(query.order_by(Store.name).limit(1)).scalar_one_or_none()


# --- who may manage stores ---------------------------------------------------

def can_manage_stores(user):
    """Create, rename, delete stores and choose the default: unbound admins only
    (an admin shut out by a fail-closed unmatched Homepage is no exception)."""
    if not (user and user.is_effective_admin):
        return False
    binding = binding_of(user)
    return not binding.is_bound and not binding.is_shut_out


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
    if binding.is_shut_out:
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
