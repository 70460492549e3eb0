"""Reading the ledger for pages and the API: pages of charges, a user's balance, Casdoor links."""
import logging
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import request, url_for
from sqlalchemy.orm import selectinload

from webapp.billing import service
from webapp.billing.errors import BillingError
from webapp.billing.models import Charge
from webapp.casdoor.errors import CasdoorError
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.stores import access

log = logging.getLogger("webapp.billing")

#: The chat's usage page (store-scoped), linked from the billing page.
USAGE_ENDPOINT = "chat.usage"


def admin_scope(user):
    """Which charges an administrator sees: all of them, or, for one bound to a store by
    their Casdoor Homepage, that store's only (as every other admin page does)."""
    own = access.binding_of(user)
    if own.is_bound:
        return Charge.store_id == own.store.id
    if own.is_shut_out:
        return sa.false()
    return sa.true()


def user_page(user_id, scope=None, cursor_arg="cursor"):
    """One page of a user's charges, newest first (index ``ix_charges_user_id_created_at_id``)."""
    query = db.select(Charge).where(Charge.user_id == user_id).options(selectinload(Charge.store))
    if scope is not None:
        query = query.where(scope)
    return paginate(query, order=[(Charge.created_at, "desc"), (Charge.id, "desc")],
                    cursor=request.args.get(cursor_arg), limit=page_size())


@dataclass(frozen=True)
class Balance:
    """What a user's balance page shows. ``amount`` is None when Casdoor could not say."""

    billable: bool
    amount: Decimal | None = None
    currency: str = ""
    in_flight: Decimal = Decimal(0)
    problem: str = ""

    @property
    def available(self):
        return None if self.amount is None else self.amount - self.in_flight


def balance_of(user):
    """The user's balance at Casdoor and what is held here against it (one Casdoor call)."""
    client = service.transactions_client()
    username = service.casdoor_username(user)
    if client is None or username is None:
        return Balance(billable=False)
    _, in_flight = service.outstanding(user.id)
    try:
        amount, currency = client.user_balance(username)
    except (BillingError, CasdoorError) as exc:
        log.info("Balance of %s unavailable: %s", username, exc)
        return Balance(billable=True, in_flight=in_flight,
                       problem="Casdoor did not answer just now, so your balance cannot be shown.")
    return Balance(billable=True, amount=amount, currency=currency, in_flight=in_flight)


def usage_url(app, user):
    """The usage page of the user's home store, or None (no store, or no usage page)."""
    if USAGE_ENDPOINT not in app.view_functions:
        return None
    store = access.home_store(user)
    return url_for(USAGE_ENDPOINT, store=store.name) if store is not None else None


@dataclass(frozen=True)
class CasdoorLinks:
    """Links into Casdoor's own UI (its React routes), or none when Casdoor is not configured."""

    base: str
    organization: str

    def transaction(self, charge):
        if not self.base or not charge.casdoor_name:
            return None
        return f"{self.base}/transactions/{charge.casdoor_org or self.organization}/{charge.casdoor_name}"

    def user(self, username):
        if not self.base or not username:
            return None
        return f"{self.base}/users/{self.organization}/{username}"


def casdoor_links(app):
    casdoor = app.extensions.get("casdoor")
    if casdoor is None:
        return CasdoorLinks("", "")
    return CasdoorLinks(casdoor.settings.endpoint, casdoor.settings.organization)


@dataclass(frozen=True)
class AnswerCharge:
    """What a chat shows under a priced answer: the charge's state, and its transaction in Casdoor."""

    state: str
    casdoor_url: str = None


def charges_of_answers(message_ids, app):
    """``{message_id: AnswerCharge}`` for the answers among ``message_ids`` that have a charge.

    One indexed query (``charges.message_id`` is unique), bounded by the page of messages.
    """
    ids = [message_id for message_id in message_ids if message_id is not None]
    if not ids:
        return {}
    links = casdoor_links(app)
    rows = db.session.execute(db.select(Charge).where(Charge.message_id.in_(ids))).scalars()
    return {charge.message_id: AnswerCharge(charge.state, links.transaction(charge)) for charge in rows}


def charge_payload(charge, links):
    return {
        "id": charge.id,
        "key": charge.key,
        "state": charge.state,
        "amount": str(charge.amount),
        "currency": charge.currency,
        "casdoor_name": charge.casdoor_name,
        "casdoor_url": links.transaction(charge),
        "reason": charge.reason,
        "user": charge.user.username if charge.user else None,
        "casdoor_user": charge.casdoor_user or None,
        "store": charge.store.name if charge.store else None,
        "message_id": charge.message_id,
        "provider": charge.provider,
        "attempts": charge.attempts,
        "answered_at": charge.answered_at.isoformat() + "Z",
        "created_at": charge.created_at.isoformat() + "Z",
        "delivered_at": charge.delivered_at.isoformat() + "Z" if charge.delivered_at else None,
    }
