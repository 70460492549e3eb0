"""Transactions (Casdoor's billing ledger) and the balances they move.

Semantics of Casdoor HEAD (v2.162+):

* ``add-transaction`` overwrites ``name`` with 32 hex and returns it in ``data``;
  ``?dryRun=<anything non-empty>`` only validates (``data`` is ``""``).
* ``tag`` drives the balance: ``"User"`` moves the user's balance and the
  organization's ``userBalance``; ``"Organization"`` moves ``orgBalance``; any
  other tag moves nothing.
* A balance may not fall below the credit limit (user ``balanceCredit`` if
  non-zero, else the organization's).
* The real quirk reproduced on purpose: a failing non-dry-run add has already
  INSERTED its row, and leaves it behind.
"""
import uuid

from flask import Blueprint, current_app, g, request

from . import envelope
from .callers import unauthorized
from .routes_users import NAME_ERROR, name_is_invalid, parse_json_body

bp = Blueprint("transactions", __name__)

#: The Transaction object's keys with their zero values, in Casdoor's order.
TRANSACTION_TEMPLATE = {
    "owner": "", "name": "", "createdTime": "", "displayName": "", "application": "",
    "domain": "", "category": "", "type": "", "subtype": "", "provider": "", "user": "",
    "tag": "", "amount": 0.0, "currency": "", "payment": "", "state": "",
}

#: Units per US dollar, a small static table as Casdoor uses; unknown codes count as 1.
EXCHANGE_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CNY": 7.2, "JPY": 150.0,
                  "CAD": 1.36, "AUD": 1.52, "CHF": 0.88, "INR": 83.0}


class BalanceError(Exception):
    """A transaction that Casdoor refuses; the message is Casdoor's text."""


def go_float(value):
    """Format a float like Go's ``%v`` (``0`` not ``0.0``, ``-0.0123``, ``1e-05``)."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _convert(amount, source, target):
    source, target = source or "USD", target or "USD"
    if source == target:
        return amount
    return amount / EXCHANGE_RATES.get(source, 1.0) * EXCHANGE_RATES.get(target, 1.0)


def _state():
    return current_app.extensions["devcasdoor"].state


def apply_balance(state, transaction, sign=1, dry_run=False):
    """Move the balance a transaction's ``tag`` names, after the credit-limit check.

    :raises BalanceError: with Casdoor's message; nothing is written then.
    """
    tag = transaction.get("tag")
    owner = transaction.get("owner", "")
    org = state.organizations.get(owner)
    amount = float(transaction.get("amount") or 0) * sign
    if tag == "User":
        if not transaction.get("user"):
            raise BalanceError("User is required for User category transaction")
        user = state.user(owner, transaction["user"])
        if user is None:
            raise BalanceError(f"The user: {owner}/{transaction['user']} is not found")
        target = user.get("balanceCurrency") or (org or {}).get("balanceCurrency") or "USD"
        converted = round(_convert(amount, transaction.get("currency"), target), 8)
        new_balance = round(user["balance"] + converted, 8)
        limit = user.get("balanceCredit") or (org or {}).get("balanceCredit") or 0.0
        if new_balance < limit:
            raise BalanceError(f"Insufficient balance: new balance {go_float(new_balance)} "
                               f"would be below credit limit {go_float(float(limit))}")
        if not dry_run:
            user["balance"] = new_balance
            if org is not None:
                org["userBalance"] = round(org["userBalance"] + converted, 8)
    elif tag == "Organization":
        if org is None:
            raise BalanceError(f"The organization: admin/{owner} is not found")
        converted = round(_convert(amount, transaction.get("currency"), org.get("balanceCurrency")), 8)
        new_balance = round(org["orgBalance"] + converted, 8)
        limit = org.get("balanceCredit") or 0.0
        if new_balance < limit:
            raise BalanceError(f"Insufficient balance: new organization balance {go_float(new_balance)} "
                               f"would be below credit limit {go_float(float(limit))}")
        if not dry_run:
            org["orgBalance"] = new_balance


def _normalise(body):
    transaction = dict(TRANSACTION_TEMPLATE)
    transaction.update({k: v for k, v in body.items() if k in TRANSACTION_TEMPLATE})
    transaction["amount"] = round(float(transaction["amount"] or 0), 8)
    if not transaction["currency"]:
        transaction["currency"] = "USD"
    return transaction


def _write_guard(body):
    """Parse the body and check the caller may write transactions of its owner."""
    if body is None:
        return None, envelope.error("invalid JSON body")
    if name_is_invalid(body):
        return None, envelope.filter_error(NAME_ERROR)
    owner = body.get("owner") or request.args.get("id", "").partition("/")[0]
    if not g.caller.is_admin_of(owner):
        return None, unauthorized()
    return owner, None


@bp.post("/api/add-transaction")
def add_transaction():
    state = _state()
    body = parse_json_body()
    owner, refusal = _write_guard(body)
    if refusal:
        return refusal
    transaction = _normalise(body)
    transaction["owner"] = owner
    dry_run = request.args.get("dryRun", "") != ""
    with state.lock:
        if dry_run:
            try:
                apply_balance(state, transaction, dry_run=True)
            except BalanceError as exc:
                return envelope.error(str(exc))
            return envelope.ok("")
        transaction["name"] = uuid.uuid4().hex
        transaction["displayName"] = transaction["name"]
        # Casdoor inserts first and only then moves the balance; on failure the
        # row stays. Reproduced on purpose so clients learn to reconcile.
        state.transactions[(owner, transaction["name"])] = transaction
        try:
            apply_balance(state, transaction)
        except BalanceError as exc:
            return envelope.error(str(exc))
    return envelope.ok(transaction["name"])


@bp.post("/api/update-transaction")
def update_transaction():
    state = _state()
    body = parse_json_body()
    owner, refusal = _write_guard(body)
    if refusal:
        return refusal
    _, _, name = request.args.get("id", "").partition("/")
    with state.lock:
        stored = state.transactions.get((owner, name))
        if stored is None:
            return envelope.ok("Unaffected")
        new = _normalise(body)
        try:
            apply_balance(state, stored, sign=-1)
            state.transactions.pop((owner, name))
            state.transactions[(new["owner"] or owner, new["name"] or name)] = new
            apply_balance(state, new)
        except BalanceError as exc:
            return envelope.error(str(exc))
    return envelope.ok("Affected")


@bp.post("/api/delete-transaction")
def delete_transaction():
    """Reverts the balance from the *body's* amount, then deletes by key (maybe nothing)."""
    state = _state()
    body = parse_json_body()
    owner, refusal = _write_guard(body)
    if refusal:
        return refusal
    transaction = _normalise(body)
    with state.lock:
        try:
            apply_balance(state, transaction, sign=-1)
        except BalanceError as exc:
            return envelope.error(str(exc))
        removed = state.transactions.pop((owner, transaction["name"]), None)
    return envelope.ok("Affected" if removed else "Unaffected")


def _sorted(rows, sort_field, sort_order):
    field = sort_field or "createdTime"
    indexed = list(enumerate(rows))
    indexed.sort(key=lambda pair: (str(pair[1].get(field, "")), pair[0]),
                 reverse=sort_order != "ascend")
    return [row for _, row in indexed]


@bp.get("/api/get-transactions")
def get_transactions():
    """Admins see every row of ``owner``; other users only their own rows, matched
    exactly without pagination and with SQL ``LIKE %name%`` with it."""
    caller = g.caller
    state = _state()
    args = request.args
    owner = args.get("owner", "")
    paginated = bool(args.get("p") and args.get("pageSize"))
    field, value = args.get("field", ""), args.get("value", "")
    if caller.is_anonymous:
        return envelope.error("GetOwnerAndNameFromId() error, wrong token count for ID: ")
    if not caller.is_admin_of(owner):
        field, value = "user", caller.user["name"]
    with state.lock:
        rows = [dict(t) for (o, _), t in state.transactions.items() if o == owner]
    if field and value:
        if paginated:
            rows = [t for t in rows if value.lower() in str(t.get(field, "")).lower()]
        else:
            rows = [t for t in rows if str(t.get(field, "")) == value]
    rows = _sorted(rows, args.get("sortField"), args.get("sortOrder"))
    if paginated:
        page, size = int(args["p"]), int(args["pageSize"])
        return envelope.ok(rows[(page - 1) * size:page * size], len(rows))
    return envelope.ok(rows)


@bp.get("/api/get-transaction")
def get_transaction():
    caller = g.caller
    state = _state()
    owner, _, name = request.args.get("id", "").partition("/")
    with state.lock:
        row = state.transactions.get((owner, name))
        row = dict(row) if row else None
    if row is None:
        return envelope.ok(None)
    if not caller.is_admin_of(owner) and (caller.user is None or caller.user["name"] != row["user"]):
        return unauthorized()
    return envelope.ok(row)
