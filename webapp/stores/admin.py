"""Administration of stores: ``/admin/stores/`` (people and their access: ``webapp.useradmin``).

Administrators only. A bound administrator sees and configures only their own
store (``<store>`` URLs go through the scoping chokepoint like every other)
and is refused creating, renaming, deleting stores and choosing the default.
"""
from flask import current_app, flash, g, redirect, render_template, request, url_for

from webapp.auth.decorators import admin_required
from webapp.core.forms import ConfirmForm
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.providers.service import ProviderSettingsError, assign_store_embedding_provider, embedding_provider_name
from webapp.stores import access, reports, service
from webapp.stores.access import store_editor_required, store_management_required
from webapp.stores.forms import CreateStoreForm, EditStoreForm, RenameStoreForm
from webapp.stores.models import Store
from webapp.stores.service import StoreError


def _apply_error(form, exc):
    """Show a service error next to its field (after the form's own), or as a flash when it has none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "error")


@admin_required
def list_stores():
    page = paginate(access.accessible_stores_query(g.user), order=[(Store.name, "asc"), (Store.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return render_template(
        "stores/admin/stores.html", summaries=service.store_summaries(page.items), page=page,
        owned_tables=[(model.__tablename__, model.admin_count_label) for model in service.listed_models()],
        can_manage=access.can_manage_stores(g.user), binding=access.binding_of(g.user),
    )


@admin_required
@store_management_required("create stores")
def create_store():
    form = CreateStoreForm()
    if form.validate_on_submit():
        try:
            store = service.create_store(form.name.data, is_active=form.is_active.data, **form.settings())
        except StoreError as exc:
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(f"Created store '{store.name}'." + (" It is the default store." if store.is_default else ""),
                  "success")
            return redirect(url_for(".list_stores"))
    return render_template("stores/admin/store_form.html", form=form, store=None)


@admin_required
@store_editor_required
def edit_store():
    store = g.store
    may_manage = access.can_manage_stores(g.user)
    form = EditStoreForm(obj=store)
    if not form.is_submitted():
        form.embedding_provider.data = embedding_provider_name(store)
    if not may_manage:
        # A bound admin cannot switch their own store off (or on): that is store management.
        del form.is_active
    if form.validate_on_submit():
        try:
            service.update_store_settings(store, form.settings(),
                                          is_active=form.is_active.data if may_manage else None)
            if form.embedding_provider.data and form.embedding_provider.data != embedding_provider_name(store):
                # A change of model queues the store's re-embedding (search uses full text meanwhile).
                assign_store_embedding_provider(store, form.embedding_provider.data)
        except (StoreError, ProviderSettingsError) as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(f"Saved the settings of '{store.name}'.", "success")
            return redirect(url_for(".list_stores"))
    return render_template("stores/admin/store_form.html", form=form, store=store, can_manage=may_manage)


@admin_required
@store_management_required("rename stores")
def rename_store():
    """Rename a store. Its bound users stay bound (through the former name) while
    their Casdoor Homepages are updated in the background."""
    store = g.store
    affected = reports.bound_users(store, limit=AFFECTED_SHOWN)
    affected_count = reports.count_bound_users(store)
    casdoor = service.casdoor_integration()
    form = RenameStoreForm(name=store.name, store=store)
    if not form.is_submitted():
        form.update_casdoor.data = casdoor is not None
    if form.validate_on_submit():
        old_name = store.name
        try:
            affected = service.rename_store(store, form.name.data)
        except StoreError as exc:
            _apply_error(form, exc)
        else:
            if old_name == store.name:
                flash("The name did not change.", "info")
                return redirect(url_for(".list_stores"))
            queued, skipped = [], affected
            if affected and casdoor is not None and form.update_casdoor.data:
                queued, skipped = service.queue_homepage_updates(affected, store)
            db.session.commit()
            flash(f"Renamed store '{old_name}' to '{store.name}'.", "success")
            _flash_rebinding(queued, skipped, old_name, store.name)
            return redirect(url_for(".list_stores"))
    return render_template("stores/admin/store_rename.html", store=store, form=form, affected=affected,
                           affected_count=affected_count, casdoor_available=casdoor is not None)


#: Bound users named on a confirmation page (the count is always exact).
AFFECTED_SHOWN = 50


def _flash_rebinding(queued, skipped, old_name, new_name):
    if queued:
        flash(f"{len(queued)} bound user(s) keep their store. Casdoor is being asked to set their Homepage to "
              f"'{new_name}' in the background; Admin > Users shows who is still pending.", "info")
    if skipped:
        names = ", ".join(user.username for user in skipped[:AFFECTED_SHOWN])
        flash(f"Not updated in Casdoor: {names}. They stay bound to this store through its former name "
              f"'{old_name}'; set their Homepage to '{new_name}' in Casdoor to finish.", "warning")


@admin_required
@store_management_required("delete stores")
def delete_store():
    store = g.store
    form = ConfirmForm()
    if form.validate_on_submit():
        name, affected = store.name, reports.bound_users(store, limit=AFFECTED_SHOWN)
        affected_count = reports.count_bound_users(store)
        counts = service.delete_store(store)
        db.session.commit()
        what = ", ".join(f"{table}: {rows}" for table, rows in counts.items())
        flash(f"Deleted store '{name}' ({what}).", "success")
        if affected:
            fallback = "no store" if current_app.config["STORE_BINDING_FAIL_CLOSED"] else "every store"
            flash(f"{affected_count} user(s) had Homepage '{name}': "
                  f"{', '.join(u.username for u in affected)}. It matches no store now, so they can use "
                  f"{fallback}; change their Homepage in Casdoor.", "warning")
        return redirect(url_for(".list_stores"))
    return render_template(
        "stores/admin/store_delete.html", store=store, form=form,
        affected=reports.bound_users(store, limit=AFFECTED_SHOWN), affected_count=reports.count_bound_users(store),
        owned=service.owned_row_counts(store),
        fail_closed=current_app.config["STORE_BINDING_FAIL_CLOSED"],
    )


@admin_required
@store_management_required("choose the default store")
def make_default():
    service.make_default_store(g.store)
    db.session.commit()
    flash(f"'{g.store.name}' is now the default store.", "success")
    return redirect(url_for(".list_stores"))
