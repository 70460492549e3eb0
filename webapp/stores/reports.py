"""What administrators see about stores, and deleting a store with everything it owns.

Every function here is bounded by what it is given (a page of stores, a page of
users, one store): none of them reads a whole table.
"""
import sqlalchemy as sa

from webapp.extensions import db
from webapp.stores.access import binding_of
from webapp.stores.models import STORE_OWNED_MODELS, Store, StoreAlias, StoreGrant
from webapp.users.models import User


def owned_counts(stores, models=None):
    """``{store_id: {table: rows}}`` for a page of stores: one indexed query per table,
    each bounded by the page (``WHERE store_id IN (...)``)."""
    ids = [store.id for store in stores]
    counts = {store_id: {} for store_id in ids}
    if not ids:
        return counts
    for model in models or STORE_OWNED_MODELS:
        rows = db.session.execute(
            sa.select(model.store_id, sa.func.count()).where(model.store_id.in_(ids)).group_by(model.store_id))
        found = dict(rows.all())
        for store_id in ids:
            counts[store_id][model.__tablename__] = found.get(store_id, 0)
    return counts


def bound_user_counts(stores):
    """``{store_id: users bound}`` for a page of stores (by name and pending former names)."""
    names = {store.name: store.id for store in stores}
    aliases = dict(db.session.execute(
        sa.select(StoreAlias.name, StoreAlias.store_id).where(StoreAlias.store_id.in_(names.values()))).all())
    homepages = {**names, **aliases}
    counts = {store.id: 0 for store in stores}
    if not homepages:
        return counts
    rows = db.session.execute(
        sa.select(User.casdoor_homepage, sa.func.count()).where(User.casdoor_homepage.in_(list(homepages)))
        .group_by(User.casdoor_homepage))
    for homepage, count in rows:
        counts[homepages[homepage]] += count
    return counts


def bound_users_query(store):
    """A ``select`` of the users bound to ``store`` (its name or a pending former name)."""
    aliases = sa.select(StoreAlias.name).where(StoreAlias.store_id == store.id)
    return sa.select(User).where(sa.or_(User.casdoor_homepage == store.name, User.casdoor_homepage.in_(aliases)))


def bound_users(store, limit=None):
    """Users bound to ``store``, by username (``limit`` for display)."""
    query = bound_users_query(store).order_by(User.username)
    if limit:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


def count_bound_users(store):
    return db.session.execute(sa.select(sa.func.count()).select_from(bound_users_query(store).subquery())).scalar_one()


def owned_row_counts(store):
    """``{table: rows}`` of everything ``store`` owns (what deleting it deletes)."""
    return owned_counts([store])[store.id]


def stores_for_homepages(homepages):
    """``{homepage: store}`` for a page of users' Homepages (names and pending former names)."""
    homepages = {h for h in homepages if h}
    if not homepages:
        return {}
    found = {store.name: store for store in db.session.execute(
        sa.select(Store).where(Store.name.in_(homepages))).scalars()}
    missing = homepages - set(found)
    if missing:
        for alias, store in db.session.execute(
                sa.select(StoreAlias.name, Store).join(Store, Store.id == StoreAlias.store_id)
                .where(StoreAlias.name.in_(missing))).all():
            found[alias] = store
    return found


def bindings_for(users):
    """``[(user, Binding)]`` for a page of users, in two queries whatever its size."""
    by_homepage = stores_for_homepages({(user.casdoor_homepage or "").strip() for user in users})
    return [(user, binding_of(user, by_homepage)) for user in users]


def binding_in_use():
    """True when any user has a Homepage (one indexed query)."""
    return db.session.execute(sa.select(User.id).where(User.casdoor_homepage.is_not(None),
                                                       User.casdoor_homepage != "").limit(1)).first() is not None


def delete_store_rows(store):
    """Delete every row ``store`` owns, children before parents; returns ``{table: rows}``.

    The order comes from the foreign keys between the tables (the metadata's
    dependency sort), not from the order the models were defined in, so owned
    tables that refer to each other (chunks to files, messages to chats) are
    emptied in an order the database accepts. Flushes; the caller commits.
    """
    owned = {model.__table__: model for model in STORE_OWNED_MODELS}
    counts = {}
    for table in reversed(db.metadata.sorted_tables):
        model = owned.get(table)
        if model is None:
            continue
        result = db.session.execute(sa.delete(model).where(model.store_id == store.id))
        counts[table.name] = result.rowcount
    for helper in (StoreGrant, StoreAlias):
        db.session.execute(sa.delete(helper).where(helper.store_id == store.id))
    db.session.flush()
    return dict(sorted(counts.items()))
