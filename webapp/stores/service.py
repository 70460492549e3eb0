"""Store and document operations. Services flush and never commit; the caller commits.

Access decisions are not made here: callers have already gone through
``webapp.stores.scoping`` (``require_store_management``, ``g.store``).
"""
import logging

from webapp.errors import StorehouseError
from webapp.extensions import db
from webapp.stores import scoping
from webapp.stores.models import FORBIDDEN_NAME_CHARACTERS, NAME_MAX_LENGTH, Document, Store

log = logging.getLogger("webapp.stores")

#: Settings any store editor may change (a bound admin included), with their limits.
SETTINGS = ("display_name", "description", "welcome_text", "system_prompt",
            "model_provider", "knowledge_count", "memory_limit")
#: (minimum, maximum) of the integer settings.
INT_LIMITS = {"knowledge_count": (1, 50), "memory_limit": (0, 100)}
TEXT_LIMITS = {"display_name": 255, "model_provider": 100}


class StoreError(StorehouseError):
    """A store or document change was refused; ``field`` names the offending input."""

    status_code = 400
    error = "invalid_store"

    def __init__(self, message, *, field=None, status_code=None, error=None):
        super().__init__(message, status_code=status_code, error=error)
        self.field = field


# --- stores ------------------------------------------------------------------------

def validate_store_name(name, *, current=None):
    """Return ``name`` stripped, or raise ``StoreError(field="name")`` saying what is wrong.

    A name is what a Casdoor Homepage must equal to bind a user, and it is a
    URL segment (``/s/<name>/``): 1-100 characters, none of ``/?:#&%=+;``, no
    control characters, not ``.`` or ``..``, and unique ignoring case (two
    stores told apart only by case would confuse whoever types Homepages).

    :param current: the store being renamed, which may keep its own name.
    """
    name = (name or "").strip()
    if not name:
        raise StoreError("Enter a store name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise StoreError(f"A store name has at most {NAME_MAX_LENGTH} characters; this one has {len(name)}.",
                         field="name")
    bad = sorted({ch for ch in name if ch in FORBIDDEN_NAME_CHARACTERS}, key=FORBIDDEN_NAME_CHARACTERS.index)
    if bad:
        raise StoreError(
            f"A store name cannot contain {' '.join(bad)} (none of {' '.join(FORBIDDEN_NAME_CHARACTERS)} "
            "are allowed: the name appears in addresses and in Casdoor Homepages).",
            field="name",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise StoreError("A store name cannot contain control characters.", field="name")
    if name in {".", ".."}:
        raise StoreError("A store name cannot be '.' or '..'.", field="name")
    clash = db.session.execute(
        db.select(Store).filter(db.func.lower(Store.name) == name.lower())
    ).scalar_one_or_none()
    if clash is not None and clash is not current:
        raise StoreError(f"A store named '{clash.name}' already exists. Choose another name.",
                         field="name", status_code=409, error="store_exists")
    return name


def clean_settings(changes):
    """Validate the settings in ``changes`` (unknown keys are ignored); returns the clean dict."""
    clean = {}
    for key in SETTINGS:
        if key not in changes or changes[key] is None:
            continue
        value = changes[key]
        if key in INT_LIMITS:
            low, high = INT_LIMITS[key]
            label = key.replace("_", " ").capitalize()
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise StoreError(f"{label} must be a whole number.", field=key)
            if not low <= value <= high:
                raise StoreError(f"{label} must be between {low} and {high}.", field=key)
        else:
            if not isinstance(value, str):
                raise StoreError(f"{key} must be text.", field=key)
            value = value.strip()
            limit = TEXT_LIMITS.get(key)
            if limit and len(value) > limit:
                raise StoreError(f"{key.replace('_', ' ').capitalize()} has at most {limit} characters.", field=key)
            if key == "model_provider" and not value:
                value = "local"
        clean[key] = value
    return clean


def create_store(name, *, is_active=True, **settings):
    """Create a store. The first store ever created becomes the default.

    :raises StoreError: invalid or taken name, invalid settings.
    """
    name = validate_store_name(name)
    store = Store(name=name, is_active=bool(is_active), **clean_settings(settings))
    has_default = db.session.execute(db.select(Store.id).filter_by(is_default=True)).first() is not None
    store.is_default = not has_default
    db.session.add(store)
    db.session.flush()
    log.info("Created store %s%s", name, " (default)" if store.is_default else "")
    return store


def update_store_settings(store, changes, *, is_active=None):
    """Apply the settings in ``changes``; ``is_active`` is separate because bound
    admins may not switch their own store off.

    :raises StoreError: invalid settings, or deactivating the default store.
    """
    for key, value in clean_settings(changes).items():
        setattr(store, key, value)
    if is_active is not None:
        if not is_active and store.is_default:
            raise StoreError("The default store cannot be deactivated: make another store the default first.",
                             field="is_active")
        store.is_active = bool(is_active)
    db.session.flush()
    return store


def rename_store(store, new_name):
    """Rename ``store``; returns the users who were bound to the old name.

    Those users' Homepage no longer matches afterwards, which widens their
    access (or, fail-closed, removes it) until the Homepage follows; see
    ``rebind_users_in_casdoor``.
    """
    new_name = validate_store_name(new_name, current=store)
    affected = scoping.bound_users(store) if new_name != store.name else []
    old_name, store.name = store.name, new_name
    db.session.flush()
    log.info("Renamed store %s to %s (%d bound user(s))", old_name, new_name, len(affected))
    return affected


def casdoor_integration():
    """The Casdoor integration (``.api.set_homepage``), or None in shadow mode."""
    from webapp.casdoor import get_casdoor

    return get_casdoor()


def rebind_users_in_casdoor(users, homepage, casdoor):
    """Set each user's Homepage at Casdoor (and locally) to ``homepage``.

    One user's failure does not stop the others. A user's local
    ``casdoor_homepage`` changes only when Casdoor accepted the change, so
    what Storehouse shows is what the next sign-in will bring.

    :param casdoor: the object ``webapp.casdoor.get_casdoor()`` returns.
    :returns: ``[(user, error_message_or_None)]``. Flushes; the caller commits.
    """
    from webapp.casdoor.errors import CasdoorError

    results = []
    for user in users:
        if not user.casdoor_name:
            results.append((user, "no Casdoor username is known for this account (it never signed in "
                                  "through Casdoor)"))
            continue
        try:
            casdoor.api.set_homepage(user.casdoor_name, homepage)
        except CasdoorError as exc:
            log.warning("Casdoor refused the Homepage of %s: %s", user.casdoor_name, exc.message)
            results.append((user, exc.message))
        else:
            user.casdoor_homepage = homepage
            results.append((user, None))
    db.session.flush()
    return results


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
    counts = scoping.delete_store_rows(store)
    db.session.delete(store)
    db.session.flush()
    log.info("Deleted store %s (%s)", store.name, counts)
    return counts


def store_summaries(stores):
    """``[(store, {"documents": n, ..., "bound_users": n})]`` for the admin list.

    One count per store-owned table (documents today; chats and messages once
    their models mix in ``StoreOwnedMixin``), one query per table.
    """
    owned = {model.__tablename__: scoping.counts_by_store(model) for model in scoping.STORE_OWNED_MODELS}
    bound = scoping.bound_user_counts()
    return [(store, {**{table: counts.get(store.id, 0) for table, counts in owned.items()},
                     "bound_users": bound.get(store.name, 0)})
            for store in stores]


def owned_row_counts(store):
    """``{table: rows}`` of everything ``store`` owns (what deleting it deletes)."""
    return {model.__tablename__: scoping.count_in_store(model, store) for model in scoping.STORE_OWNED_MODELS}


def bootstrap_stores(default_name, demo_names=("research",)):
    """On an empty installation, create the default store and the demo stores.

    :returns: the stores created (none when stores exist already). Flushes.
    """
    if db.session.execute(db.select(Store.id).limit(1)).first() is not None:
        return []
    created = [create_store(default_name, display_name=default_name.capitalize(),
                            welcome_text="Welcome to the shared store.")]
    for name in demo_names:
        if name != default_name:
            created.append(create_store(name, display_name=name.capitalize(),
                                        description="Demo store; Casdoor users whose Homepage is "
                                                    f"'{name}' are bound to it."))
    return created


# --- documents -------------------------------------------------------------------

def _clean_document(title, body):
    title = (title or "").strip()
    if not title:
        raise StoreError("Give the document a title.", field="title", error="invalid_document")
    if len(title) > 255:
        raise StoreError("A title has at most 255 characters.", field="title", error="invalid_document")
    if body is not None and not isinstance(body, str):
        raise StoreError("The body must be text.", field="body", error="invalid_document")
    return title, body or ""


def create_document(store, user, title, body):
    title, body = _clean_document(title, body)
    document = Document(store=store, created_by=user, title=title, body=body)
    db.session.add(document)
    db.session.flush()
    return document


def update_document(document, title=None, body=None):
    title, body = _clean_document(document.title if title is None else title,
                                  document.body if body is None else body)
    document.title, document.body = title, body
    db.session.flush()
    return document


def delete_document(document):
    db.session.delete(document)
    db.session.flush()


def can_change_document(user, document):
    """Authors change their own documents; administrators any in stores they can use."""
    return bool(user and (user.is_effective_admin or document.created_by_id == user.id))
