"""Reserve before answering, record the charge with the answer, release what was not used.

The flow of one priced answer (``webapp.chat.charging`` is the only caller):

1. :func:`reserve` before the model runs: the upper bound of the answer's cost
   (:func:`upper_bound`) plus what this user already has in flight here
   (reservations of other answers, charges not yet delivered) must pass
   Casdoor's dry run. The bound is then held as a ``Reservation`` row.
2. :func:`settle` in the answer's own transaction: the reservation is dropped
   and, for a price above zero, a ``Charge`` (the outbox row) and its
   ``billing.deliver_charge`` job are added; both commit with the answer or
   not at all. ``webapp.billing.delivery`` then sends it to Casdoor.
3. :func:`release` when an answer is abandoned before it is settled.

Transactions: every function here only flushes; the caller commits. The chat
commits right after ``before_answer`` (the question, the reservation and the
"streaming" answer row), before the model runs, and again with the final
answer and its charge.

Concurrent answers of one user are checked one after another by
compare-and-swap on ``billing_accounts.version``: read the version and the
outstanding sum, ask Casdoor, then take the reservation only if the version is
unchanged (otherwise start over with the newer sum). The ``UPDATE`` of the
version holds that user's row until the caller commits (PostgreSQL), or the
database's write lock does (SQLite): a concurrent answer of the same user
waits there, finds the version changed and checks again, counting the first
answer's reservation. No lock is taken before Casdoor is asked.

Spending limits (``webapp.billing.limits``) are on the same path: the round's
one read also sums each limit's period spend (the usage rollup plus the
reservations in flight), and a store limit adds ``billing_store_accounts.version``
to the swap, so the answers of everyone in the store are checked one after
another as one user's are. Answers of people without a Casdoor account are
reserved too whenever a limit applies, so they count against it while in flight.
"""
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from flask import current_app, has_request_context
from sqlalchemy.exc import IntegrityError

from webapp.billing import alerts, limits, statements
from webapp.billing.client import QUANTUM, TransactionDraft, TransactionsClient
from webapp.billing.errors import BillingError, BillingRejected, InsufficientBalance
from webapp.billing.models import (
    DELIVERED,
    LOCAL_ONLY,
    PENDING,
    STORE,
    BillingAccount,
    StoreAccount,
)
from webapp.casdoor.errors import CasdoorError, CasdoorUnavailable
from webapp.chat import rollup
from webapp.core.clock import utcnow
from webapp.core.money import display
from webapp.database import savepoint
from webapp.extensions import db
from webapp.jobs import enqueue, enqueue_new
from webapp.urls import PublicUrlRequired, public_origin
from webapp.users.models import User

log = logging.getLogger("webapp.billing")

MILLION = Decimal(1_000_000)
#: Compare-and-swap rounds before an answer is refused as "too many at once".
RESERVE_ROUNDS = 25
DELIVER_JOB = statements.DELIVER_JOB


class AnswerNotAllowed(BillingError):
    """The answer may not start; ``message`` says why and what to do (shown in the chat)."""

    status_code = 402
    error = "answer_not_allowed"


@dataclass(frozen=True)
class Hold:
    """What :func:`reserve` hands back (opaque to the chat): the reservation and for whom."""

    reservation_id: int | None
    user_id: int
    amount: Decimal
    currency: str
    #: The spending limits (``limits.Limit``) whose threshold this answer may reach: settling checks them.
    limits: tuple = ()


# -- configuration -------------------------------------------------------------


def transactions_client(app=None):
    """The Casdoor transactions client of this app, or None when Casdoor is not configured."""
    app = app or current_app
    cached = app.extensions.get("billing_client")
    if cached is not None:
        return cached or None
    casdoor = app.extensions.get("casdoor")
    client = TransactionsClient(casdoor.api, shape=app.config["BILLING_TRANSACTION_SHAPE"]) if casdoor else False
    app.extensions["billing_client"] = client
    return client or None


def casdoor_username(user):
    """The user's Casdoor username, or None for a user without a Casdoor identity."""
    if user is None or not user.casdoor_sub or not user.casdoor_name:
        return None
    return user.casdoor_name


def is_billable(user):
    """True when this user's charges go to Casdoor (Casdoor is configured and knows them)."""
    return transactions_client() is not None and casdoor_username(user) is not None


# -- arithmetic ----------------------------------------------------------------


def upper_bound(prompt_tokens, max_answer_tokens, input_price, output_price):
    """The most an answer can cost: the counted prompt tokens at the input price plus the
    maximum answer tokens at the output price (prices per million tokens), exact, rounded
    up to 8 decimals (a bound must never be below the price it bounds)."""
    total = (Decimal(int(prompt_tokens)) * Decimal(input_price)
             + Decimal(int(max_answer_tokens)) * Decimal(output_price)) / MILLION
    return total.quantize(QUANTUM, rounding=ROUND_CEILING)


def outstanding(user_id, *, session=None, now=None):
    """``(version, amount)``: this user's billing version (None before their first
    reservation), and what is in flight here and not yet in Casdoor's balance (live
    reservations + charges not yet delivered). One query (``limits.read_round``'s, without a store)."""
    found, _ = limits.read_round(user_id, None, now, session)
    return found.user_version, found.in_flight


# -- before the answer ------------------------------------------------------------


def reserve(user, amount, currency, store=None):
    """Check that ``user`` can pay ``amount`` on top of what is in flight, within every spending
    limit of ``store`` that applies to them, and hold it.

    One round: read (one statement, :func:`webapp.billing.limits.read_round`) the limits that
    apply, the versions, what the user has in flight and each limit's period spend; refuse if
    the bound does not fit a limit (no network); ask Casdoor's dry run (no lock held); then swap the user's version
    and, with a store limit, the store's (compare-and-swap, see :func:`_hold`: a concurrent
    answer that got there first makes this round start over, counting it).

    :param amount: the answer's upper bound (:func:`upper_bound`).
    :param store: the store the answer is in (its limits apply); None: no limits.
    :returns: a :class:`Hold`, or None when nothing needs holding (a price of zero, or
        neither Casdoor nor a limit concerns this answer).
    :raises AnswerNotAllowed: a limit does not cover it (the message names the limit, what is
        left and when it resets), the balance does not cover it (the message says how much is
        needed and how much is left), Casdoor refused the user, or Casdoor is unreachable and
        ``BILLING_WHEN_CASDOOR_DOWN`` is ``refuse`` (or the ``allow`` limit is used up).
    """
    if amount <= 0:
        return None
    billable = is_billable(user)
    session = db.session
    client = transactions_client() if billable else None
    config = current_app.config
    store_id = store.id if store is not None else None
    for _ in range(RESERVE_ROUNDS):
        now = utcnow()
        if store_id is None and not billable:
            return None
        found, applying = limits.read_round(user.id, store_id, now, session, balance=billable)
        if not billable and not applying:
            return None
        if found.user_version is None:
            _ensure_account(session, BillingAccount(user_id=user.id, version=0))
            continue
        if found.store_version is None and any(limit.subject == STORE for limit in applying):
            _ensure_account(session, StoreAccount(store_id=store_id, version=0))
            continue
        refused = limits.refusal(found.spends, amount, currency, store.name) if applying else None
        if refused:
            message, limit = refused
            if limit.currency == currency:
                # Recorded with the question the chat keeps (the refusal itself costs nothing).
                alerts.note(store_id, [limits.Status(*spend) for spend in found.spends],
                            refused_subject=limit.subject)
            raise AnswerNotAllowed(message, error="limit_reached")
        if billable:
            _check(client, config, user, amount, found.in_flight, currency)
        reservation_id = _hold(session, {
            "b_user_id": user.id, "b_version": found.user_version, "b_store_id": store_id,
            "b_store_version": found.store_version, "b_amount": amount, "b_currency": currency, "b_created_at": now,
            "b_expires_at": now + timedelta(seconds=config["BILLING_RESERVATION_SECONDS"])},
            clear_overdrawn=billable)
        if reservation_id is None:
            continue  # another answer reserved meanwhile: check again, counting it
        # Only a limit this answer could take past its threshold is looked at again when it settles
        # (its spend then is at most what was counted here, answers in flight included, plus the bound).
        near = tuple(limit for limit, _, spent in found.spends if spent + amount >= limit.alert_amount)
        return Hold(reservation_id, user.id, amount, currency, limits=near)
    raise AnswerNotAllowed("Too many answers are starting at once here; try again in a moment.")


class _Lost(Exception):
    """A version moved between the read and the swap."""


def _hold(session, params, *, clear_overdrawn):
    """Swap the user's version (and the store's, when ``b_store_version`` is given) if unchanged,
    and then insert the reservation: its id, or None when a version had moved (nothing held).

    The bumped rows stay locked until the caller commits: a concurrent answer waits there,
    then finds the version changed. PostgreSQL does it all in one statement
    (``statements.hold``); SQLite (one writer at a time, no round trip) runs the ``UPDATE``s
    and the insert, in a savepoint rolled back if the store's swap loses.
    """
    with_store = params["b_store_version"] is not None
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(statements.hold(clear_overdrawn, with_store), params).scalar()
    user_swap, store_swap = statements.swap(clear_overdrawn)
    if not with_store:  # one row to swap: no savepoint needed (two statements fewer)
        if session.execute(user_swap, params).rowcount != 1:
            return None
    else:
        try:
            with savepoint():
                if session.execute(user_swap, params).rowcount != 1:
                    raise _Lost
                if session.execute(store_swap, params).rowcount != 1:
                    raise _Lost
        except _Lost:
            return None
    return session.execute(statements.insert_reservation(), params).scalar_one()


def _ensure_account(session, row):
    """The user's ``billing_accounts`` row (or the store's ``billing_store_accounts`` row), created
    at the first reservation that needs it."""
    try:
        with savepoint():
            session.add(row)
    except IntegrityError:
        pass  # another answer created it first


def _check(client, config, user, amount, in_flight, currency):
    """Ask Casdoor whether ``in_flight + amount`` fits the user's balance (a dry run)."""
    draft = TransactionDraft(key=str(uuid.uuid4()), user=casdoor_username(user),
                             amount=(in_flight + amount).quantize(QUANTUM), currency=currency,
                             created_at=utcnow(), category=config["BILLING_CATEGORY"])
    try:
        client.check_balance(draft)
    except InsufficientBalance as exc:
        raise AnswerNotAllowed(_too_little(amount, in_flight, exc, currency)) from exc
    except CasdoorUnavailable:
        _when_casdoor_down(config, amount, in_flight, currency)
    except BillingRejected as exc:
        raise AnswerNotAllowed(f"Casdoor refused to check your balance: {exc.casdoor_message or exc.message} "
                               "Ask your administrator.") from exc
    except CasdoorError as exc:
        log.error("Balance check failed: %s", exc)
        raise AnswerNotAllowed("Your balance cannot be checked right now (Casdoor answered something "
                               "unexpected). Try again later, or ask your administrator.") from exc


def _too_little(amount, in_flight, exc, currency):
    needed = f"{display(amount)} {currency}"
    if exc.available is None:
        return (f"This answer may cost up to {needed}, and your Casdoor balance does not cover it. "
                "Top up your balance in Casdoor, or ask your administrator.")
    left = max(exc.available - in_flight, Decimal(0))
    busy = (f" ({display(in_flight)} {currency} is held for your other answers)" if in_flight else "")
    return (f"This answer may cost up to {needed}, and your Casdoor balance has {display(left)} "
            f"{currency} left{busy}. Top up your balance in Casdoor, or ask your administrator.")


def _when_casdoor_down(config, amount, in_flight, currency):
    if config["BILLING_WHEN_CASDOOR_DOWN"] == "allow":
        limit = Decimal(str(config["BILLING_DOWN_ALLOWANCE"]))
        if in_flight + amount <= limit:
            log.warning("Casdoor unreachable: answer allowed within BILLING_DOWN_ALLOWANCE (%s)", limit)
            return
        raise AnswerNotAllowed(
            f"Your balance cannot be checked right now (Casdoor is unreachable), and answers while it is "
            f"away are limited to {display(limit)} {currency} in flight. Try again in a few minutes.")
    raise AnswerNotAllowed("Your balance cannot be checked right now (Casdoor is unreachable), so answers "
                           "are paused. Try again in a few minutes.")


def release(hold):
    """Drop the reservation of an answer abandoned before :func:`settle` (flushes). An
    answer whose process died never gets here: its reservation expires instead
    (``BILLING_RESERVATION_SECONDS``)."""
    if hold is None or hold.reservation_id is None:
        return
    db.session.execute(statements.release(), {"b_reservation_id": hold.reservation_id})


# -- with the answer -------------------------------------------------------------------


def settle(hold, message, *, user=None, usage=None):
    """Record what ``message`` (a saved answer) costs, in the caller's transaction (flush only).

    ``usage``: the answer's values for the usage rollup (``webapp.chat.rollup.usage_of``), added
    here, first: on PostgreSQL in the same statement as a priced answer's charge.

    * price 0: nothing is recorded; the reservation is dropped;
    * a user Casdoor knows (and Casdoor configured): a ``pending`` charge and its
      delivery job, committed with the answer;
    * otherwise a ``local_only`` charge: kept here, never sent (the UI says so).

    :returns: the new charge's id, or None for a price of zero.

    On PostgreSQL the rollup's upsert, the reservation's release, the charge and its job are
    one statement (``statements.settle``); elsewhere, up to four. Core, not the ORM: nothing reads the
    charge back in this transaction, and the unit of work's flush cost more than the inserts.
    """
    reservation_id = hold.reservation_id if hold is not None else None
    price = Decimal(message.price or 0)
    session = db.session
    folded = price > 0 and session.get_bind().dialect.name == "postgresql"
    if usage is not None and not folded:
        rollup.add(usage, session=session)
    if price <= 0:
        if reservation_id is not None:
            session.execute(statements.release(), {"b_reservation_id": reservation_id})
        return None
    user = user or session.get(User, message.user_id)
    client = transactions_client()
    username = casdoor_username(user)
    billable = client is not None and username is not None
    store = message.store
    now = utcnow()
    params = {
        "b_reservation_id": reservation_id, "b_job_now": now,
        "b_message_id": message.id, "b_store_id": message.store_id, "b_user_id": message.user_id,
        "b_key": message.charge_key or str(uuid.uuid4()), "b_amount": price.quantize(QUANTUM),
        "b_currency": message.currency, "b_state": PENDING if billable else LOCAL_ONLY,
        "b_reason": "" if billable else ("Casdoor is not configured: recorded here only." if client is None else
                                         "No Casdoor account: recorded here only, not sent to Casdoor."),
        "b_casdoor_org": client.organization if client else "", "b_casdoor_user": username or "",
        "b_chat_label": f"{store.name if store else 'store'}/chat-{message.chat_id}"[:100],
        "b_provider": (message.provider_name or "")[:100], "b_domain": _public_url()[:1000],
        "b_detail": _detail(message), "b_answered_at": message.created_at or now, "b_created_at": now,
        "b_next_attempt_at": now if billable else None, "b_attempts": 0, "b_tries_recorded": 0,
    }
    if folded:
        charge_id = session.execute(statements.settle(billable, usage is not None), {**params, **(usage or {})}
                                    ).scalar_one()
    else:
        if reservation_id is not None:
            session.execute(statements.release(), {"b_reservation_id": reservation_id})
        charge_id = session.execute(statements.insert_charge(), params).scalar_one()
        if billable:
            # A new charge has no job yet: no dedupe key to check (requeue uses one).
            enqueue_new(DELIVER_JOB, {"charge_id": charge_id})
    if hold is not None and hold.limits and message.store_id is not None:
        # The rollup holds this answer already (the seam records it first): a threshold or
        # a limit it reached is recorded, and sent out, once per period (one statement when none is).
        near = {limit.subject for limit in hold.limits}
        found, _ = limits.read_round(message.user_id, message.store_id, session=session, balance=False)
        alerts.note(message.store_id, [limits.Status(*spend) for spend in found.spends if spend[0].subject in near])
    return charge_id


def _public_url():
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    if has_request_context():
        try:
            return public_origin()
        except PublicUrlRequired:
            return ""  # a host the client chose is no record of where the answer was given
    return ""


def _detail(message):
    estimated = " (estimated)" if getattr(message, "usage_estimated", False) else ""
    return (f"{message.prompt_tokens or 0} prompt + {message.completion_tokens or 0} completion "
            f"tokens{estimated}")[:255]


def requeue(charge):
    """Send a pending or failed charge again (flushes). A charge that was ever sent is
    looked up first, without waiting (its last send is long over)."""
    charge.state = PENDING
    charge.next_attempt_at = utcnow()
    # -1: the first try of the new job counts one unrecorded try before it, so it looks first.
    charge.tries_recorded = -1 if charge.attempts else 0
    enqueue(DELIVER_JOB, {"charge_id": charge.id}, dedupe_key=f"billing-charge:{charge.id}")


def mark_delivered(charge, name):
    """``charge`` is at Casdoor as ``name`` (flushes on the runner's commit)."""
    charge.state = DELIVERED
    charge.casdoor_name = name
    charge.delivered_at = utcnow()
    charge.next_attempt_at = None
    charge.reason = ""


def flag_overdrawn(user_id, reason):
    """Mark the user overdrawn (Casdoor refused a charge for lack of balance); flushes."""
    if user_id is None:
        return
    account = db.session.get(BillingAccount, user_id)
    if account is None:
        account = BillingAccount(user_id=user_id, version=0)
        db.session.add(account)
    account.overdrawn_at = utcnow()
    account.overdrawn_reason = reason[:2000]
