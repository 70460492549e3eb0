"""Billing pages: your own charges and balance (``/billing/``) and, for administrators,
delivery health and per-user ledgers (``/admin/billing/``). Every list is keyset paginated."""
from flask import current_app, g, render_template, request
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from webapp.auth.decorators import admin_required, login_required
from webapp.billing import ledger
from webapp.billing import reconcile as reconciling
from webapp.billing.models import FAILED, REFUSED, BillingAccount, Charge
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.stores import access
from webapp.users.models import User


@login_required
def my_charges():
    """The signed-in user's charges, newest first, and their balance at Casdoor."""
    page = ledger.user_page(g.user.id)
    return render_template("billing/mine.html", page=page, balance=ledger.balance_of(g.user),
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
