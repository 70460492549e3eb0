"""Store and document operations. Services flush and never commit; the caller commits.

Access decisions are not made here: callers have already gone through
``webapp.stores.access`` (``require_store_management``) and ``g.store``.
"""
import logging

from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.audit import record_event
from webapp.casdoor import get_casdoor
from webapp.core.errors import StorehouseError
from webapp.database import savepoint
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.stores import reports, rules
from webapp.stores.models import STORE_OWNED_MODELS, Document, Store, StoreAlias, StoreGrant
from webapp.users.models import User

log = logging.getLogger("webapp.stores")

#: Settings any store editor may change (a bound admin included). Their types and
#: limits are checked before they reach a service: ``webapp.stores.schemas`` for
#: JSON, ``webapp.stores.forms`` for pages, both from ``webapp.stores.rules``.
SETTINGS = ("display_name", "description", "welcome_text", "system_prompt",
            "model_provider", "knowledge_count", "memory_limit")


class StoreError(StorehouseError):
    """A store or document change was refused; ``field`` names the offending input."""

    status_code = 400
    error = "invalid_store"

    def __init__(self, message, *, field=None, status_code=None, error=None):
        super().__init__(message, status_code=status_code, error=error)
        self.field = field

    def payload(self):
        # The same shape as a schema's 422, so API clients find the field in one place.
        return {"fields": {self.field: self.message}} if self.field else {}


# --- stores ------------------------------------------------------------------------

def name_conflict(name, *, current=None):
    """Why ``name`` cannot be given to a store (other than ``current``): ``(message, error)``, or None.

    Taken by another store ignoring case, or still a former name of another
    store (an alias that binds the users whose Homepage says it).
    """
    clash = db.session.execute(
        db.select(Store).filter(db.func.lower(Store.name) == name.lower())
    ).scalar_one_or_none()
    if clash is not None and clash is not current:
        return f"A store named '{clash.name}' already exists. Choose another name.", "store_exists"
    alias = db.session.execute(
        db.select(StoreAlias).filter(db.func.lower(StoreAlias.name) == name.lower())
    ).scalar_one_or_none()
    if alias is not None and (current is None or alias.store_id != current.id):
        # Users whose Homepage still says this name are bound to that store until
        # Casdoor confirms their new Homepage: another store must not catch them.
        return (f"'{alias.name}' was the name of store '{alias.store.name}' until a recent rename, and some "
                "users' Casdoor Homepage still says it. Choose another name, or wait until their Homepages "
                "are updated."), "store_name_reserved"
    return None


def validate_store_name(name, *, current=None):
    """Return ``name`` stripped, or raise ``StoreError(field="name")`` saying what is wrong.

    A name is what a Casdoor Homepage must equal to bind a user, and it is a
    URL segment (``/s/<name>/``): see ``webapp.stores.rules`` for the rule.
    Unique ignoring case (two stores told apart only by case would confuse
    whoever types Homepages), and not another store's former name.

    :param current: the store being renamed, which may keep its own name even
        when that name predates the rule.
    :raises StoreError: the rule is broken (400) or the name is taken (409).
    """
    name = (name or "").strip()
    if current is not None and name == current.name:
        return name
    problem = rules.name_problem(name)
    if problem:
        raise StoreError(problem, field="name")
    conflict = name_conflict(name, current=current)
    if conflict is not None:
        message, error = conflict
        raise StoreError(message, field="name", status_code=409, error=error)
    return name


def _unknown_settings(settings):
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        # A programming error, not user input: schemas and forms only pass SETTINGS.
        raise TypeError(f"not store settings: {', '.join(sorted(unknown))}")


def create_store(name, *, is_active=True, **settings):
    """Create a store with ``settings`` (already validated). The first store ever created becomes the default.

    :raises StoreError: the name breaks the rule or is taken.
    """
    _unknown_settings(settings)
    name = validate_store_name(name)
    store = Store(name=name, is_active=is_active, **settings)
    store.embeddings_off = not current_app.config.get("KNOWLEDGE_NEW_STORE_EMBEDDINGS", True)
    has_default = db.session.execute(db.select(Store.id).filter_by(is_default=True)).first() is not None
    store.is_default = not has_default
    db.session.add(store)
    db.session.flush()
    log.info("Created store %s%s", name, " (default)" if store.is_default else "")
    return store


def update_store(store, *, name=None, settings=None, is_active=None, make_default=False):
    """Change ``store``: every change is checked first, then all are applied, so a
    refused request leaves the store exactly as it was (nothing half-done is flushed).

    :param name: a new name (None: unchanged).
    :param settings: ``{setting: value}`` already validated by a schema or form.
    :param is_active: switch on or off (None: unchanged); store management only,
        which the caller has checked.
    :param make_default: make it the (only, active) default store.
    :returns: the users bound to the old name when the name changed, else ``[]``.
    :raises StoreError: invalid or taken name; deactivating the default store,
        or a store that this request makes the default.
    """
    settings = settings or {}
    _unknown_settings(settings)
    new_name = validate_store_name(name, current=store) if name is not None else store.name
    if is_active is False and (store.is_default or make_default):
        raise StoreError("The default store cannot be deactivated: make another store the default first.",
                         field="is_active")

    affected = _apply_rename(store, new_name) if new_name != store.name else []
    for key, value in settings.items():
        setattr(store, key, value)
    if is_active is not None:
        store.is_active = is_active
    db.session.flush()
    if make_default:
        make_default_store(store)
    return affected


def _apply_rename(store, new_name):
    """Give ``store`` the (checked) ``new_name``; returns the users bound to it.

    A rename never changes anybody's access. The old name becomes a
    ``StoreAlias`` that keeps binding the users whose Casdoor Homepage says it,
    until their Homepage names the store again (``queue_homepage_updates`` asks
    Casdoor; an administrator may also change it there by hand).
    """
    affected = reports.bound_users(store)
    old_name = store.name
    # The new name may be one of the store's own former names: it stops being an alias.
    db.session.execute(db.delete(StoreAlias).where(StoreAlias.store_id == store.id, StoreAlias.name == new_name))
    if any(user.casdoor_homepage == old_name for user in affected):
        db.session.add(StoreAlias(name=old_name, store_id=store.id))
    store.name = new_name
    log.info("Renamed store %s to %s (%d bound user(s))", old_name, new_name, len(affected))
    return affected


def update_store_settings(store, settings, *, is_active=None):
    """Apply ``settings`` (and ``is_active``), all checked before any is set; see ``update_store``."""
    update_store(store, settings=settings, is_active=is_active)
    return store


def rename_store(store, new_name):
    """Rename ``store``; returns the users bound to it (by its old name or an older one),
    or ``[]`` when the name did not change. See ``_apply_rename``. Flushes.
    """
    return update_store(store, name=new_name)


def casdoor_integration():
    """The Casdoor integration (``.api.set_homepage``), or None in shadow mode."""
    return get_casdoor()


def queue_homepage_updates(users, store):
    """Ask Casdoor, in the background, to set each user's Homepage to ``store``'s name.

    One durable job per user (``stores.set_casdoor_homepage``), written in the
    caller's transaction: the rename and its follow-up commit together, and no
    HTTP call to Casdoor holds the transaction open. Users Casdoor does not know
    (never signed in through it) are returned rather than queued.

    :returns: ``(queued_users, skipped_users)``. Flushes; the caller commits.
    """
    queued, skipped = [], []
    for user in users:
        if not user.casdoor_name:
            skipped.append(user)
            continue
        enqueue("stores.set_casdoor_homepage", {"user_id": user.id, "store_id": store.id},
                dedupe_key=f"casdoor-homepage:{user.id}")
        queued.append(user)
    return queued, skipped


def prune_aliases(store):
    """Forget the store's former names that no Homepage mentions any more. Flushes."""
    still_used = db.select(User.casdoor_homepage).where(User.casdoor_homepage.is_not(None))
    db.session.execute(db.delete(StoreAlias).where(StoreAlias.store_id == store.id,
                                                  StoreAlias.name.not_in(still_used)))
    db.session.flush()


def make_default_store(store):
    """Make ``store`` the only default (and active)."""
    for other in db.session.execute(db.select(Store).filter(Store.is_default.is_(True))).scalars():
        other.is_default = False
    # Clear first: the unique index would refuse two defaults even for a moment.
    db.session.flush()
    store.is_default = True
    store.is_active = True
    db.session.flush()
    return store


def delete_store(store):
    """Delete ``store`` and everything it owns; returns ``{table: rows deleted}``.

    :raises StoreError: it is the default store (409).
    """
    if store.is_default:
        raise StoreError("The default store cannot be deleted. Make another store the default first.",
                         status_code=409, error="default_store")
    counts = reports.delete_store_rows(store)
    db.session.delete(store)
    db.session.flush()
    log.info("Deleted store %s (%s)", store.name, counts)
    return counts


def listed_models():
    """The store-owned models counted on the administrators' store list (``admin_count_label``)."""
    return [model for model in STORE_OWNED_MODELS if model.admin_count_label]


def store_summaries(stores):
    """``[(store, {"documents": n, ..., "bound_users": n})]`` for a page of stores.

    One indexed count per listed table (``listed_models``) and one for bound
    users, each bounded by the page (see ``webapp.stores.reports``).
    """
    owned = reports.owned_counts(stores, listed_models())
    bound = reports.bound_user_counts(stores)
    return [(store, {**owned[store.id], "bound_users": bound[store.id]}) for store in stores]


def owned_row_counts(store):
    """``{table: rows}`` of everything ``store`` owns (what deleting it deletes)."""
    return reports.owned_row_counts(store)


def bootstrap_stores(default_name, demo_names=("research",)):
    """On an empty installation, create the default store and the demo stores.

    :returns: the stores created (none when stores exist already). Flushes.
    """
    if db.session.execute(db.select(Store.id).limit(1)).first() is not None:
        return []
    # The texts are read by the people who open these stores, not by whoever set them up.
    created = [create_store(default_name, display_name=default_name.capitalize(),
                            description="Documents for the whole organisation.",
                            welcome_text="Welcome! Documents you add here are available to everyone "
                                         "who works in this store.")]
    for name in demo_names:
        if name != default_name:
            created.append(create_store(name, display_name=name.capitalize(),
                                        description=f"A separate workspace for the {name} team: its "
                                                    "documents stay here."))
    return created


# --- documents -------------------------------------------------------------------

def create_document(store, user, title, body=""):
    """Add a document to ``store``; ``title`` and ``body`` are checked by the schema or form."""
    document = Document(store=store, created_by=user, title=title, body=body)
    db.session.add(document)
    db.session.flush()
    return document


def update_document(document, title=None, body=None):
    """Change the title and/or body (None: unchanged)."""
    if title is not None:
        document.title = title
    if body is not None:
        document.body = body
    db.session.flush()
    return document


def delete_document(document):
    db.session.delete(document)
    db.session.flush()


def can_change_document(user, document):
    """Authors change their own documents; administrators any in stores they can use."""
    return bool(user and (user.is_effective_admin or document.created_by_id == user.id))


# --- grants (which stores a local account may use) ---------------------------------

def grant_store(user, store, granted_by=None):
    """Let ``user`` use ``store`` (see ``webapp.stores.access``); returns the grant.

    Granting twice is harmless: the existing grant is returned. Flushes.
    """
    existing = db.session.execute(db.select(StoreGrant).filter_by(user_id=user.id, store_id=store.id)
                                  ).scalar_one_or_none()
    if existing is not None:
        return existing
    grant = StoreGrant(user_id=user.id, store_id=store.id, granted_by_id=granted_by.id if granted_by else None)
    try:
        with savepoint():
            db.session.add(grant)
    except IntegrityError:  # granted by someone else at the same moment
        return db.session.execute(db.select(StoreGrant).filter_by(user_id=user.id, store_id=store.id)).scalar_one()
    log.info("Granted store %s to %s", store.name, user.username)
    record_event("store-granted", user=user, actor=granted_by, store=store.name, source="admin")
    return grant


def revoke_grant(user, store, revoked_by=None):
    """Take ``store`` away from ``user``; returns whether there was a grant. Flushes."""
    result = db.session.execute(db.delete(StoreGrant).where(StoreGrant.user_id == user.id,
                                                            StoreGrant.store_id == store.id))
    db.session.flush()
    if result.rowcount:
        log.info("Revoked store %s from %s", store.name, user.username)
        record_event("store-refused", user=user, actor=revoked_by, store=store.name, source="admin")
    return bool(result.rowcount)
