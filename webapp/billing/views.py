"""Billing pages: your own charges, balance and limits (``/billing/``) and, for administrators,
delivery health, per-user ledgers and limits reached (``/admin/billing/``), and a store's spending
limits (``/s/<store>/limits``). Every list is keyset paginated."""
import logging

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from webapp.auth.decorators import admin_required, login_required
from webapp.billing import alerts, ledger, limits
from webapp.billing import reconcile as reconciling
from webapp.billing.forms import LimitForm
from webapp.billing.models import FAILED, PER_PERSON, REFUSED, STORE, BillingAccount, Charge, LimitAlert, PersonLimit
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.stores import access
from webapp.stores.access import store_editor_required
from webapp.stores.models import Store
from webapp.users.models import User
from webapp.users.service import find_user_by_username

log = logging.getLogger("webapp.billing")


@login_required
def my_charges():
    """The signed-in user's charges, newest first, and their balance at Casdoor."""
    page = ledger.user_page(g.user.id)
    return render_template("billing/mine.html", page=page, balance=ledger.balance_of(g.user),
                           my_limits=limits.limits_of_person(g.user, access.accessible_stores_query(g.user)),
                           account=db.session.get(BillingAccount, g.user.id),
                           usage_url=ledger.usage_url(current_app, g.user), links=ledger.casdoor_links(current_app))


@admin_required
def admin_overview():
    """Delivery health, failures with reasons, the last reconcile, and every charge (newest first)."""
    scope = ledger.admin_scope(g.user)
    problems = paginate(db.select(Charge).where(scope, Charge.state.in_([FAILED, REFUSED]))
                        .options(selectinload(Charge.user)),
                        order=[(Charge.created_at, "desc"), (Charge.id, "desc")],
                        cursor=request.args.get("problems"), limit=10)
    page = paginate(db.select(Charge).where(scope).options(selectinload(Charge.user), selectinload(Charge.store)),
                    order=[(Charge.created_at, "desc"), (Charge.id, "desc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return render_template("billing/admin.html", health=reconciling.health(scope=scope), last_run=reconciling.last_run(),
                           problems=problems, page=page, links=ledger.casdoor_links(current_app))


@admin_required
def admin_user_ledger(user_id):
    """One user's ledger, with a link to their account in Casdoor. A bound administrator
    sees only users bound to their store, and only that store's charges."""
    user = db.session.get(User, user_id)
    own = access.binding_of(g.user)
    if user is None or own.is_shut_out or (own.is_bound and getattr(access.binding_of(user).store, "id", None) != own.store.id):
        raise NotFound()
    return render_template("billing/user_ledger.html", user=user,
                           page=ledger.user_page(user.id, scope=ledger.admin_scope(g.user)),
                           account=db.session.get(BillingAccount, user.id),
                           links=ledger.casdoor_links(current_app))


# -- spending limits -------------------------------------------------------------------------------


@admin_required
@store_editor_required
def store_limits():
    """The store's limit and its default per person (one form), and the people with their own limit here.

    ``?person=<username>`` opens that person's limit page.
    """
    store = g.store
    wanted = (request.args.get("person") or "").strip()
    if wanted:
        person = find_user_by_username(wanted)
        if person is not None:
            return redirect(url_for("billing_limits.person_limit", store=store.name, user_id=person.id))
        flash(f"There is no person named '{wanted}'.", "error")
    shared, default = LimitForm(prefix="store"), LimitForm(prefix="per_person")
    if request.method == "POST":
        if shared.validate_on_submit() & default.validate_on_submit():
            limits.set_store_limit(store.id, STORE, shared.values())
            limits.set_store_limit(store.id, PER_PERSON, default.values())
            alerts.reevaluate(store.id)  # who is over the new limits, at once
            db.session.commit()
            log.info("%s set the limits of store %s", g.user.username, store.name)
            flash("Saved the store's limits.", "success")
            return redirect(url_for("billing_limits.store_limits", store=store.name))
    else:
        found = limits.store_limits(store.id)
        shared.fill(found[STORE])
        default.fill(found[PER_PERSON])
    people = paginate(db.select(PersonLimit, User.username).join(User, User.id == PersonLimit.user_id)
                      .where(PersonLimit.store_id == store.id),
                      order=[(PersonLimit.user_id, "asc")], cursor=request.args.get("cursor"), limit=page_size(),
                      key=lambda row: (row[0].user_id,))
    return render_template("billing/store_limits.html", store=store, shared=shared, default=default, people=people)


@admin_required
@store_editor_required
def person_limit(user_id):
    """One person's own limit in the store (in place of the store's default), and what applies to them now."""
    store = g.store
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound()
    form = LimitForm(prefix="person")
    if request.method == "POST":
        if form.validate_on_submit():
            limits.set_person_limit(store.id, person.id, form.values())
            alerts.note(store.id, limits.current_status(store.id, person.id))
            db.session.commit()
            log.info("%s set the limit of %s in store %s", g.user.username, person.username, store.name)
            flash(f"Saved {person.username}'s limit in {store.label}.", "success")
            return redirect(url_for("billing_limits.person_limit", store=store.name, user_id=person.id))
    else:
        form.fill(db.session.get(PersonLimit, (store.id, person.id)))
    return render_template("billing/person_limit.html", store=store, person=person, form=form,
                           default=limits.store_limits(store.id)[PER_PERSON],
                           statuses=limits.status_for(store.id, person.id))


@admin_required
def admin_limits():
    """*Admin > Billing > Limits*: limits past their threshold or reached in their current period,
    newest first, keyset paginated (a bound administrator: their store's only)."""
    own = access.binding_of(g.user)
    query = (db.select(LimitAlert, Store.name, User.username).join(Store, Store.id == LimitAlert.store_id)
             .outerjoin(User, User.id == LimitAlert.user_id).where(limits.current_alerts()))
    if own.is_bound:
        query = query.where(LimitAlert.store_id == own.store.id)
    elif own.is_shut_out:
        query = query.where(db.false())
    page = paginate(query, order=[(LimitAlert.created_at, "desc"), (LimitAlert.id, "desc")],
                    cursor=request.args.get("cursor"), limit=page_size(),
                    key=lambda row: (row[0].created_at, row[0].id))
    return render_template("billing/admin_limits.html", page=page)
