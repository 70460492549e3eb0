"""Administration of stores and the users' bindings: ``/admin/stores/``, ``/admin/users/``.

Administrators only. A bound administrator sees and configures only their own
store (``<store>`` URLs go through the scoping chokepoint like every other)
and is refused creating, renaming, deleting stores and choosing the default.
"""
from flask import current_app, flash, g, redirect, render_template, url_for

from webapp.auth.decorators import admin_required
from webapp.extensions import db
from webapp.stores import admin_bp as bp
from webapp.stores import scoping, service
from webapp.stores.forms import ConfirmForm, CreateStoreForm, RenameStoreForm, StoreSettingsForm
from webapp.stores.scoping import store_editor_required, store_management_required
from webapp.stores.service import StoreError
from webapp.stores.views import _apply_error


@bp.get("/stores/")
@admin_required
def list_stores():
    stores = scoping.accessible_stores(g.user)
    return render_template(
        "admin/stores.html", summaries=service.store_summaries(stores),
        owned_tables=[model.__tablename__ for model in scoping.STORE_OWNED_MODELS],
        can_manage=scoping.can_manage_stores(g.user), binding=scoping.binding_of(g.user),
    )


@bp.route("/stores/new", methods=["GET", "POST"])
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
    return render_template("admin/store_form.html", form=form, store=None)


@bp.route("/stores/<store>/edit", methods=["GET", "POST"])
@admin_required
@store_editor_required
def edit_store():
    store = g.store
    may_manage = scoping.can_manage_stores(g.user)
    form = StoreSettingsForm(obj=store)
    if not may_manage:
        # A bound admin cannot switch their own store off (or on): that is store management.
        del form.is_active
    if form.validate_on_submit():
        try:
            service.update_store_settings(store, form.settings(),
                                          is_active=form.is_active.data if may_manage else None)
        except StoreError as exc:
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(f"Saved the settings of '{store.name}'.", "success")
            return redirect(url_for(".list_stores"))
    return render_template("admin/store_form.html", form=form, store=store, can_manage=may_manage)


@bp.route("/stores/<store>/rename", methods=["GET", "POST"])
@admin_required
@store_management_required("rename stores")
def rename_store():
    store = g.store
    affected = scoping.bound_users(store)
    casdoor = service.casdoor_integration()
    form = RenameStoreForm(name=store.name)
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
            results = []
            if affected and casdoor is not None and form.update_casdoor.data:
                results = service.rebind_users_in_casdoor(affected, store.name, casdoor)
            db.session.commit()
            flash(f"Renamed store '{old_name}' to '{store.name}'.", "success")
            _flash_rebinding(affected, results, old_name, store.name)
            return redirect(url_for(".list_stores"))
    return render_template("admin/store_rename.html", store=store, form=form, affected=affected,
                           casdoor_available=casdoor is not None)


def _flash_rebinding(affected, results, old_name, new_name):
    for user, error in results:
        if error is None:
            flash(f"Casdoor: {user.casdoor_name}'s Homepage is now '{new_name}'; they stay bound.", "success")
        else:
            flash(f"Casdoor: could not update {user.casdoor_name or user.username}'s Homepage: {error} "
                  f"Their Homepage still says '{old_name}', which matches no store now.", "error")
    if affected and not results:
        names = ", ".join(user.username for user in affected)
        flash(f"Not updated in Casdoor: {names}. Their Homepage still says '{old_name}', which matches no "
              f"store now; set it to '{new_name}' in Casdoor to bind them again.", "warning")


@bp.route("/stores/<store>/delete", methods=["GET", "POST"])
@admin_required
@store_management_required("delete stores")
def delete_store():
    store = g.store
    form = ConfirmForm()
    if form.validate_on_submit():
        name, affected = store.name, scoping.bound_users(store)
        counts = service.delete_store(store)
        db.session.commit()
        what = ", ".join(f"{table}: {rows}" for table, rows in counts.items())
        flash(f"Deleted store '{name}' ({what}).", "success")
        if affected:
            fallback = "no store" if current_app.config["STORE_BINDING_FAIL_CLOSED"] else "every store"
            flash(f"{len(affected)} user(s) had Homepage '{name}': "
                  f"{', '.join(u.username for u in affected)}. It matches no store now, so they can use "
                  f"{fallback}; change their Homepage in Casdoor.", "warning")
        return redirect(url_for(".list_stores"))
    return render_template(
        "admin/store_delete.html", store=store, form=form, affected=scoping.bound_users(store),
        owned=service.owned_row_counts(store),
        fail_closed=current_app.config["STORE_BINDING_FAIL_CLOSED"],
    )


@bp.post("/stores/<store>/make-default")
@admin_required
@store_management_required("choose the default store")
def make_default():
    service.make_default_store(g.store)
    db.session.commit()
    flash(f"'{g.store.name}' is now the default store.", "success")
    return redirect(url_for(".list_stores"))


@bp.get("/users/")
@admin_required
def list_users():
    return render_template("admin/users.html", rows=scoping.users_with_bindings(g.user),
                           binding=scoping.binding_of(g.user))
