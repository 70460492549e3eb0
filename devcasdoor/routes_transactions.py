"""Transactions (Casdoor's billing ledger) and the balances they move.

The server speaks one of two generations of the API (``state.transactions_mode``,
set by ``create_dev_casdoor(transactions_mode=...)``, ``--transactions`` or
``POST /_dev/transactions-mode``):

``current`` (Casdoor HEAD, v2.162+):

* ``add-transaction`` overwrites ``name`` with 32 hex and returns it in ``data``;
  ``?dryRun=<anything non-empty>`` only validates (``data`` is ``""``).
* ``tag`` drives the balance: ``"User"`` moves the user's balance and the
  organization's ``userBalance``; ``"Organization"`` moves ``orgBalance``; any
  other tag moves nothing. Amounts are converted into the balance currency.
* A balance may not fall below the credit limit (user ``balanceCredit`` if
  non-zero, else the organization's).

``legacy`` (Casdoor v2.117 - v2.144):

* The object has ``productName``, ``productDisplayName``, ``detail`` and
  ``returnUrl``, and no ``domain`` or ``subtype``.
* ``add-transaction`` keeps the client's ``name`` and answers ``"Affected"``;
  a second add with the same name is the database's duplicate-key error.
  There is no dry run: ``dryRun`` is ignored and the add really happens.
* ``category`` drives the balance (``"User"`` / ``"Organization"``), with no
  credit limit (balances go negative), no currency conversion and no rounding.

In both, the real quirk reproduced on purpose: a failing non-dry-run add has
already INSERTED its row, and leaves it behind.
"""
import math
import re
import uuid

from flask import Blueprint, current_app, g, request

from . import envelope
from .callers import unauthorized
from .routes_users import NAME_ERROR, name_is_invalid, parse_json_body

bp = Blueprint("transactions", __name__)

#: The Transaction object's keys with their zero values, in Casdoor's order (v2.162+).
TRANSACTION_TEMPLATE = {
    "owner": "", "name": "", "createdTime": "", "displayName": "", "application": "",
    "domain": "", "category": "", "type": "", "subtype": "", "provider": "", "user": "",
    "tag": "", "amount": 0.0, "currency": "", "payment": "", "state": "",
}

#: The same for Casdoor v2.117 - v2.144 (``object/transaction.go`` at v2.144.0).
LEGACY_TRANSACTION_TEMPLATE = {
    "owner": "", "name": "", "createdTime": "", "displayName": "", "provider": "",
    "category": "", "type": "", "productName": "", "productDisplayName": "", "detail": "",
    "tag": "", "currency": "", "amount": 0.0, "returnUrl": "", "user": "", "application": "",
    "payment": "", "state": "",
}

#: Units per US dollar, a small static table as Casdoor uses; unknown codes count as 1.
EXCHANGE_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CNY": 7.2, "JPY": 150.0,
                  "CAD": 1.36, "AUD": 1.52, "CHF": 0.88, "INR": 83.0}

#: Casdoor's ``util.FilterField``: a ``field`` that does not match is silently not applied.
_FILTERABLE_FIELD = re.compile(r"^[A-Za-z0-9]+$")


class BalanceError(Exception):
    """A transaction that Casdoor refuses; the message is Casdoor's text."""


def go_float(value):
    """Format a float like Go's ``%v`` (``0`` not ``0.0``, ``-0.0123``, ``1e-05``)."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def snake(name):
    """Casdoor's ``util.SnakeString``: ``createdTime`` -> ``created_time``."""
    out = []
    seen_letter = False
    for i, ch in enumerate(name):
        if i > 0 and ch.isupper() and seen_letter:
            out.append("_")
        if ch != "_":
            seen_letter = True
        out.append(ch)
    return "".join(out).lower()


def _convert(amount, source, target):
    source, target = source or "USD", target or "USD"
    if source == target:
        return amount
    return amount / EXCHANGE_RATES.get(source, 1.0) * EXCHANGE_RATES.get(target, 1.0)


def _state():
    return current_app.extensions["devcasdoor"].state


def _is_legacy(state):
    return state.transactions_mode == "legacy"


def _template(legacy):
    return LEGACY_TRANSACTION_TEMPLATE if legacy else TRANSACTION_TEMPLATE


def apply_balance(state, transaction, sign=1, dry_run=False):
    """Move the balance a transaction's ``tag`` names, after the credit-limit check.

    :raises BalanceError: with Casdoor's message; nothing is written then.
    """
    if _is_legacy(state):
        if not dry_run:
            _apply_legacy_balance(state, transaction, sign)
        return
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


def _apply_legacy_balance(state, transaction, sign):
    """v2.117 - v2.144: ``category`` drives the balance; plain float sums, no limit,
    no currency conversion, no rounding (so float noise accumulates, as it did)."""
    category = transaction.get("category")
    owner = transaction.get("owner", "")
    amount = float(transaction.get("amount") or 0) * sign
    if category == "Organization":
        org = state.organizations.get(owner)
        if org is None:
            raise BalanceError(f"the organization: admin/{owner} is not found")
        org["orgBalance"] += amount
    elif category == "User":
        if not transaction.get("user"):
            raise BalanceError("User is required for User category transaction")
        user = state.user(owner, transaction["user"])
        if user is None:
            raise BalanceError(f"The user: {owner}/{transaction['user']} is not found")
        user["balance"] += amount
        org = state.organizations.get(owner)
        if org is None:
            raise BalanceError(f"the organization: admin/{owner} is not found")
        org["userBalance"] += amount


def _normalise(body, legacy):
    """The stored object: the generation's keys, zero values for what the body omits.

    Returns ``(transaction, error message)``; the message is Go's JSON decoding error.
    """
    amount = body.get("amount", 0)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) and amount is not None:
        kind = {str: "string", bool: "bool", list: "array", dict: "object"}.get(type(amount), "value")
        return None, (f"json: cannot unmarshal {kind} into Go struct field Transaction.amount "
                      "of type float64")
    template = _template(legacy)
    transaction = dict(template)
    transaction.update({k: v for k, v in body.items() if k in template})
    amount = float(transaction["amount"] or 0)
    # HEAD rounds money to 8 decimals; the legacy server stored the float as sent.
    transaction["amount"] = amount if legacy else round(amount, 8)
    return transaction, None


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


def _duplicate_entry(owner, name):
    # MySQL's text (Casdoor's default database) through go-sql-driver.
    return f"Error 1062 (23000): Duplicate entry '{owner}-{name}' for key 'transaction.PRIMARY'"


@bp.post("/api/add-transaction")
def add_transaction():
    state = _state()
    body = parse_json_body()
    owner, refusal = _write_guard(body)
    if refusal:
        return refusal
    with state.lock:
        legacy = _is_legacy(state)
        transaction, problem = _normalise(body, legacy)
        if problem:
            return envelope.error(problem)
        transaction["owner"] = owner
        if legacy:
            return _add_legacy(state, transaction)
        if request.args.get("dryRun", "") != "":
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


def _add_legacy(state, transaction):
    """v2.117 - v2.144: plain insert under the client's name, then the balance.
    ``dryRun`` did not exist yet, so it is ignored: the add happens."""
    key = (transaction["owner"], transaction["name"])
    if key in state.transactions:
        return envelope.error(_duplicate_entry(*key))
    state.transactions[key] = transaction
    try:
        apply_balance(state, transaction)
    except BalanceError as exc:
        return envelope.error(str(exc))
    return envelope.ok("Affected")


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
        new, problem = _normalise(body, _is_legacy(state))
        if problem:
            return envelope.error(problem)
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
    with state.lock:
        transaction, problem = _normalise(body, _is_legacy(state))
        if problem:
            return envelope.error(problem)
        try:
            apply_balance(state, transaction, sign=-1)
        except BalanceError as exc:
            return envelope.error(str(exc))
        removed = state.transactions.pop((owner, transaction["name"]), None)
    return envelope.ok("Affected" if removed else "Unaffected")


class _SqlError(Exception):
    """What the database would say; Casdoor passes it on as the envelope's ``msg``."""


def _column(legacy, name, clause):
    """The object key behind a camelCase ``field``, as the SQL column it becomes."""
    columns = {snake(key): key for key in _template(legacy)}
    column = snake(name)
    if column not in columns:
        raise _SqlError(f"Error 1054 (42S22): Unknown column '{column}' in '{clause}'")
    return columns[column]


def _like(value):
    """SQL ``LIKE '%value%'`` as a regex: ``%`` and ``_`` are wildcards, ``\\`` escapes;
    case-insensitive as MySQL's default collation is."""
    parts, escaped = [], False
    for ch in value:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _text(value):
    return go_float(value) if isinstance(value, float) else str(value)


def _sorted(rows, legacy, sort_field, sort_order):
    """``GetSession``'s order: ``created_time`` unless both sortField and sortOrder are
    given; ``ascend`` ascending, anything else descending."""
    if not sort_field or not sort_order:
        sort_field = "createdTime"
    key = _column(legacy, sort_field, "order clause")
    indexed = list(enumerate(rows))
    indexed.sort(key=lambda pair: (pair[1].get(key, ""), pair[0]), reverse=sort_order != "ascend")
    return [row for _, row in indexed]


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


@bp.get("/api/get-transactions")
def get_transactions():
    """``controllers/transaction.go GetTransactions``.

    Without ``p`` + ``pageSize``: admins get every row of ``owner``, or only one
    user's rows (exact match) with ``field=user&value=<name>``; any other
    ``field`` is ignored. Other users get their own rows (exact match).

    With them: ``field``/``value`` filter any column with ``LIKE %value%``
    (non-admins: ``user LIKE %<their name>%``), ``sortField``/``sortOrder`` order
    the rows, ``data2`` is the total, and a page past the end is clamped to the
    last page (beego's paginator), so a client must stop by the total.
    """
    caller = g.caller
    state = _state()
    args = request.args
    owner = args.get("owner", "")
    paginated = bool(args.get("p") and args.get("pageSize"))
    field, value = args.get("field", ""), args.get("value", "")
    if caller.is_anonymous:
        return envelope.error("GetOwnerAndNameFromId() error, wrong token count for ID: ")
    with state.lock:
        legacy = _is_legacy(state)
        rows = [dict(t) for (o, _), t in state.transactions.items() if o == owner]
    try:
        if not paginated:
            if not caller.is_admin_of(owner):
                field, value = "user", caller.user["name"]
            if field == "user" and value:
                rows = [t for t in rows if t.get("user") == value]
            return envelope.ok(_sorted(rows, legacy, "createdTime", "descend"))
        if not caller.is_admin_of(owner):
            field, value = "user", caller.user["name"]
        if field and value and _FILTERABLE_FIELD.match(field):
            key = _column(legacy, field, "where clause")
            pattern = _like(value)
            rows = [t for t in rows if pattern.search(_text(t.get(key, "")))]
        rows = _sorted(rows, legacy, args.get("sortField"), args.get("sortOrder"))
    except _SqlError as exc:
        return envelope.error(str(exc))
    size = _int(args["pageSize"])
    size = size if size > 0 else 10
    page = min(_int(args["p"]), math.ceil(len(rows) / size))
    page = max(page, 1)
    return envelope.ok(rows[(page - 1) * size:page * size], len(rows))


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
