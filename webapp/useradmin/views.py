"""People and their store access: ``/admin/users/`` (administrators).

Local accounts get stores only through grants (``webapp.stores.access`` rule 5),
so this is where an administrator creates an account, grants it stores and
takes them away, and switches an account off. Casdoor people follow their
Homepage instead; their page says so.

Listing and reading: every administrator, a bound one only the people bound to
their own store (others would reveal other stores' names). Changing accounts
and grants: administrators who may manage stores (not bound ones).
"""
import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from webapp.audit import record_event
from webapp.auth.decorators import admin_required
from webapp.core.forms import ConfirmForm
from webapp.extensions import db
from webapp.pagination import page_size, paginate, search_prefix, starts_with
from webapp.sessions.service import revoke_user_sessions
from webapp.stores import access, reports, service
from webapp.stores.access import store_management_required
from webapp.stores.models import Store, StoreGrant
from webapp.useradmin.forms import CreateAccountForm, GrantStoreForm
from webapp.users.errors import SignupError
from webapp.users.models import User
from webapp.users.service import create_local_user


def _listable_users():
    """The users the signed-in administrator may see (a ``select``)."""
    own = access.binding_of(g.user)
    if own.is_bound:
        return reports.bound_users_query(own.store)
    if own.is_shut_out:
        return db.select(User).where(sa.false())
    return db.select(User)


def _user_or_404(user_id):
    user = db.session.execute(_listable_users().where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        abort(404)
    return user


def _matching(query, text):
    """Users whose username, email or display name starts with ``text``, ignoring case
    (each served by an index on the lowered column; see migration 0008)."""
    text = text.lower()
    return query.where(sa.or_(*(starts_with(sa.func.lower(column), text)
                                for column in (User.username, User.email, User.display_name))))


@admin_required
def list_users():
    """People with their store access, a page at a time, searchable by name or email."""
    own = access.binding_of(g.user)
    q = search_prefix()
    query = _matching(_listable_users(), q) if q else _listable_users()
    page = paginate(query, order=[(User.username, "asc"), (User.id, "asc")], cursor=request.args.get("cursor"),
                    limit=page_size())
    return render_template("useradmin/users.html", rows=reports.bindings_for(page.items), page=page, binding=own, q=q,
                           can_manage=access.can_manage_stores(g.user),
                           binding_in_use=reports.binding_in_use(),
                           fail_closed=current_app.config["STORE_BINDING_FAIL_CLOSED"])


@admin_required
@store_management_required("create accounts")
def create_user():
    """A local account, optionally an administrator, optionally with its first store."""
    form = CreateAccountForm()
    if form.validate_on_submit():
        try:
            user = create_local_user(form.username.data, form.email.data, form.password.data,
                                     form.display_name.data or "", is_admin=form.is_admin.data,
                                     created_by=g.user)
        except SignupError as exc:
            flash(exc.message, "error")
        else:
            if form.store.store is not None:
                service.grant_store(user, form.store.store, granted_by=g.user)
            db.session.commit()
            flash(f"Created the account '{user.username}'. Give them the password through a safe channel; "
                  "they can change it under Settings.", "success")
            return redirect(url_for(".show_user", user_id=user.id))
    return render_template("useradmin/user_new.html", form=form)


@admin_required
def show_user(user_id):
    """One person: where their access comes from, and their granted stores (paginated)."""
    user = _user_or_404(user_id)
    grants = paginate(
        db.select(Store).join(StoreGrant, StoreGrant.store_id == Store.id).where(StoreGrant.user_id == user.id),
        order=[(Store.name, "asc"), (Store.id, "asc")], cursor=request.args.get("cursor"), limit=page_size())
    return render_template("useradmin/user.html", user=user, binding=reports.bindings_for([user])[0][1],
                           grants=grants, grant_form=GrantStoreForm(), confirm_form=ConfirmForm(),
                           can_manage=access.can_manage_stores(g.user), is_self=user.id == g.user.id)


@admin_required
@store_management_required("give people stores")
def grant_store(user_id):
    user = _user_or_404(user_id)
    form = GrantStoreForm()
    if form.validate_on_submit():
        service.grant_store(user, form.store.store, granted_by=g.user)
        db.session.commit()
        flash(f"{user.label} can now use '{form.store.store.name}'.", "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".show_user", user_id=user.id))


@admin_required
@store_management_required("take stores away from people")
def revoke_store(user_id, store_id):
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        store = db.session.get(Store, store_id) or abort(404)
        if service.revoke_grant(user, store, revoked_by=g.user):
            db.session.commit()
            flash(f"{user.label} can no longer use '{store.name}'.", "success")
        else:
            flash(f"{user.label} had no grant for '{store.name}'.", "info")
    return redirect(url_for(".show_user", user_id=user.id))


@admin_required
@store_management_required("switch accounts on or off")
def set_active(user_id):
    """Switch an account off (signing it out everywhere) or on again; never one's own."""
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".show_user", user_id=user.id))
    if user.id == g.user.id:
        flash("You cannot switch off your own account.", "error")
        return redirect(url_for(".show_user", user_id=user.id))
    turn_on = request.form.get("active") == "1"
    if user.is_active != turn_on:
        record_event("account-enabled" if turn_on else "account-disabled", user=user, actor=g.user, source="admin")
    user.is_active = turn_on
    if not turn_on:
        revoke_user_sessions(user, source="admin", actor=g.user, reason="account switched off")
    db.session.commit()
    flash(f"{user.label} can sign in again." if turn_on else f"{user.label} is switched off and signed out everywhere.",
          "success")
    return redirect(url_for(".show_user", user_id=user.id))
