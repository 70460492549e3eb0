"""Casdoor's transaction API for billing: check a balance, charge, look a charge up.

Every charge carries an idempotency key (a UUID) chosen before it is sent.
Casdoor has no idempotency of its own, so the caller delivers *check, then
send*: after any failure whose outcome is unknown (``CasdoorUnavailable``:
timeout, HTTP 5xx, a connection closed before the answer) it calls
:meth:`TransactionsClient.find` with the key, and sends again only when Casdoor
has no transaction under it.

Money is ``decimal.Decimal`` on this side. Casdoor keeps float64 and rounds
balances to 8 decimals, so amounts cross the wire as JSON numbers written from
an 8-decimal ``Decimal`` (which a float64 carries exactly, see
:func:`to_casdoor_amount`) and are read back with ``parse_float=Decimal``
and rounded to 8 decimals: no float ever reaches the caller.

Two generations of Casdoor (``shape``):

``"current"`` (Casdoor v2.162+)
    The server names each transaction (32 hex) and answers the name; the key
    goes in ``subtype``. ``?dryRun=1`` checks the credit limit without writing.
    ``tag: "User"`` moves the user's balance. A key is found with the paginated
    listing (``field=subtype``, SQL ``LIKE``), confirmed exactly here.
``"legacy"`` (Casdoor v2.117 - v2.144)
    The client's ``name`` is kept, so the key *is* the name: a lookup is one
    ``get-transaction``, and a resend is refused as a duplicate, which
    :meth:`TransactionsClient.add` takes as "already recorded". ``category:
    "User"`` moves the balance, there is no dry run and no credit limit, so the
    balance check compares the user's balance with the amount here.
"""
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from webapp.billing.errors import BillingRejected, InsufficientBalance
from webapp.casdoor.errors import CasdoorError, CasdoorRefused

log = logging.getLogger("webapp.billing")

SHAPES = ("current", "legacy")
#: The transaction ``category`` unless the caller sets another.
DEFAULT_CATEGORY = "Storehouse Chat"
#: Money has 8 decimals here, as in Casdoor (``util.AddPrices``) and in our Numeric(18, 8) columns.
QUANTUM = Decimal("0.00000001")
#: Rows per page when listing.
PAGE_SIZE = 100
#: Rows per page when looking a key up (one page in practice: keys are UUIDs).
FIND_PAGE_SIZE = 10

_INSUFFICIENT = re.compile(
    r"Insufficient balance: new (?:organization )?balance (\S+) would be below credit limit (\S+)")
#: Duplicate primary key, as MySQL, PostgreSQL and SQLite word it through Casdoor.
_DUPLICATE = re.compile(r"Duplicate entry|duplicate key value|UNIQUE constraint failed", re.IGNORECASE)
#: What the legacy server answers a successful add (``wrapActionResponse``).
_ACTION_ANSWERS = ("Affected", "Unaffected")

#: Casdoor's column sizes (varchar(n)); longer values are refused by its database.
_MAX_LENGTHS = {"user": 100, "currency": 100, "chat": 100, "provider": 100, "category": 100,
                "domain": 1000, "detail": 255}


# -- money and time at the boundary -------------------------------------------


def to_casdoor_amount(amount):
    """The float64 Casdoor stores for an 8-decimal ``Decimal``.

    Python and Go both write a float64 as the shortest digits that read back
    as the same float64, so an amount whose ``repr`` gives back the ``Decimal``
    crosses the wire, and comes back, digit for digit.

    :raises ValueError: more than 8 decimals, or more significant digits than a
        float64 can carry through text (17 at most; 15 always fit).
    """
    if amount != amount.quantize(QUANTUM):
        raise ValueError(f"{amount} has more than 8 decimals; Casdoor keeps 8.")
    value = float(amount)
    if Decimal(repr(value)) != amount:
        raise ValueError(f"{amount} has too many digits for Casdoor's float64 amounts.")
    return value


def from_casdoor_amount(value):
    """A Casdoor amount or balance (read with ``parse_float=Decimal``) as an 8-decimal Decimal.

    :raises CasdoorError: the value is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise CasdoorError(f"Casdoor answered an amount that is not a number: {value!r}.")
    try:
        return Decimal(value).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        raise CasdoorError(f"Casdoor answered an amount that is not a number: {value!r}.") from None


def to_rfc3339(moment):
    """RFC 3339 in UTC; a naive datetime is taken as UTC, as the app's columns store it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_rfc3339(text):
    """Casdoor's ``createdTime`` as a naive UTC datetime (the app's convention), or None."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _naive_utc(moment):
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return datetime.combine(moment, time())
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def check_key(key):
    """:raises ValueError: ``key`` is not a UUID in canonical form (lower case, with dashes).

    Canonical UUIDs hold no ``%`` or ``_``, so Casdoor's ``LIKE`` lookup cannot
    match them by wildcard, and no ``/``, so they are valid Casdoor names.
    """
    try:
        canonical = str(uuid.UUID(key))
    except (TypeError, ValueError, AttributeError):
        canonical = None
    if canonical != key:
        raise ValueError(f"The idempotency key must be a UUID such as {uuid.uuid4()}, not {key!r}.")


# -- what goes out and what comes back ---------------------------------------


@dataclass(frozen=True)
class TransactionDraft:
    """One charge, before Casdoor has seen it.

    :param key: the idempotency key, a canonical UUID string, chosen once and
        kept with the charge; every attempt to send it uses the same key.
    :param user: the Casdoor username (no organization prefix).
    :param amount: the price, a positive ``Decimal`` with at most 8 decimals;
        Casdoor is sent minus this (a charge).
    :param currency: e.g. ``"USD"``.
    :param created_at: when the answer was made (naive = UTC).
    :param chat: the chat, sent as ``type`` (legacy: ``tag``).
    :param provider: the model provider.
    :param domain: the app's public URL (legacy: ``returnUrl``).
    :param category: Casdoor's ``category`` (legacy: ``type``, because there the
        category must be ``"User"`` to move the balance).
    :param detail: legacy only (``detail``), e.g. the token counts; the current
        shape has no such field.
    """

    key: str
    user: str
    amount: Decimal
    currency: str
    created_at: datetime
    chat: str = ""
    provider: str = ""
    domain: str = ""
    category: str = DEFAULT_CATEGORY
    detail: str = ""

    def __post_init__(self):
        check_key(self.key)
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"amount must be a decimal.Decimal, not {type(self.amount).__name__}.")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"amount must be a positive price, not {self.amount}.")
        to_casdoor_amount(self.amount)
        if not self.user or "/" in self.user:
            raise ValueError(f"user must be a Casdoor username without organization, not {self.user!r}.")
        if not self.currency:
            raise ValueError("currency is required, e.g. 'USD'.")
        if not isinstance(self.created_at, datetime):
            raise TypeError("created_at must be a datetime.")
        for name, limit in _MAX_LENGTHS.items():
            if len(getattr(self, name)) > limit:
                raise ValueError(f"{name} is longer than Casdoor keeps ({limit} characters).")


@dataclass(frozen=True)
class Transaction:
    """A transaction as Casdoor holds it.

    ``amount`` is the price, i.e. minus Casdoor's ``amount`` (a charge is
    positive here, as in :class:`TransactionDraft`). ``key`` is the idempotency
    key (``subtype``; legacy: the name), ``""`` for rows not made by Storehouse.
    ``created_at`` is naive UTC, or None when Casdoor's text does not parse.
    ``raw`` is Casdoor's object, its numbers as ``Decimal``.
    """

    name: str
    key: str
    user: str
    amount: Decimal
    currency: str
    created_at: datetime | None
    application: str
    raw: dict = field(repr=False, compare=False)


# -- the client ---------------------------------------------------------------


class TransactionsClient:
    """Casdoor transactions of one organization and application, with the
    application's credentials (``CasdoorClient.call``: HTTP Basic, envelope
    checks, ``CasdoorUnavailable`` for network errors, timeouts and HTTP 5xx).

    :param casdoor_client: a ``webapp.casdoor.client.CasdoorClient``; its
        settings give the organization, the application and the timeout.
    :param shape: ``"current"`` (Casdoor v2.162+) or ``"legacy"`` (v2.117 - v2.144).

    Besides the errors each method names, any call may raise ``CasdoorError``
    for an answer that is not Casdoor's (a proxy's page) or a refused read
    (``CasdoorRefused``: wrong application credentials ...): configuration
    problems, neither "not found" nor "unavailable".
    """

    def __init__(self, casdoor_client, *, shape="current"):
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}.")
        self.casdoor = casdoor_client
        self.shape = shape
        self.organization = casdoor_client.settings.organization
        self.application = casdoor_client.settings.application

    @property
    def is_legacy(self):
        return self.shape == "legacy"

    # -- balance ---------------------------------------------------------

    def check_balance(self, draft):
        """Check that the user's balance covers ``draft.amount``; nothing is recorded.

        Current shape: Casdoor's dry run (``?dryRun=1``) against the credit
        limit. Legacy shape (no dry run there): the user's balance, read now,
        must be at least the amount.

        :raises InsufficientBalance: with the balance and the credit limit when
            Casdoor gave them.
        :raises BillingRejected: any other refusal (unknown user ...), or a
            Casdoor without dry runs (older than v2.162) configured as current:
            that Casdoor has just *recorded* the charge (``may_be_recorded``).
        :raises CasdoorUnavailable: Casdoor could not tell.
        """
        if self.is_legacy:
            # That generation adds amounts to the balance as they come, whatever
            # their currency, so the comparison is in the charge's currency too.
            balance, _ = self.user_balance(draft.user)
            if balance < draft.amount:
                raise InsufficientBalance(draft.amount, balance, currency=draft.currency,
                                          credit_limit=Decimal(0))
            return
        try:
            body = self._call("POST", "/api/add-transaction", "check the balance",
                              params={"id": f"{self.organization}/", "dryRun": "1"},
                              json=self._current_body(draft))
        except CasdoorRefused as exc:
            raise self._refusal(draft, exc, "check the balance", during_add=False) from exc
        if body.get("data") != "":
            log.error("Casdoor recorded a transaction (%r) for a dry run: it predates v2.162", body.get("data"))
            raise BillingRejected(
                f"Casdoor recorded a transaction ({body.get('data')!r}) when asked for a dry-run balance "
                "check: it is older than v2.162 and has no dry run. Upgrade Casdoor, or for Casdoor "
                "v2.144 and older use the legacy transaction shape.",
                may_be_recorded=True)

    def user_balance(self, username):
        """``(balance, currency)`` of a Casdoor user: what Casdoor says is left.

        The currency is the user's ``balanceCurrency``, else the organization's,
        else USD, as Casdoor reckons it.

        :raises BillingRejected: Casdoor has no such user.
        :raises CasdoorUnavailable: Casdoor could not tell.
        """
        user = self._call("GET", "/api/get-user", "read the user's balance",
                          params={"id": f"{self.organization}/{username}"})["data"]
        if not isinstance(user, dict):
            raise BillingRejected(f"Casdoor has no user {self.organization}/{username}: the user was "
                                  "renamed or removed in Casdoor, so nothing can be charged to them.")
        currency = user.get("balanceCurrency") or self._organization_currency() or "USD"
        return from_casdoor_amount(user.get("balance") or 0), currency

    def _organization_currency(self):
        org = self._call("GET", "/api/get-organization", "read the organization",
                         params={"id": f"admin/{self.organization}"})["data"]
        return org.get("balanceCurrency") if isinstance(org, dict) else None

    # -- charging --------------------------------------------------------

    def add(self, draft):
        """Record the charge at Casdoor and return the transaction's Casdoor name
        (``<organization>/<name>`` is its id in Casdoor's UI).

        Send a given key again only after :meth:`find` said Casdoor has none.
        (In the legacy shape a resend is harmless: Casdoor refuses the duplicate
        name and this returns the name already recorded.)

        :raises InsufficientBalance: the balance fell below the credit limit.
            In the current shape Casdoor has recorded the transaction anyway
            (``may_be_recorded``): look it up with :meth:`find`.
        :raises BillingRejected: a refusal that retrying will not change
            (unknown user, a field refused, the configured shape does not match
            this Casdoor). ``may_be_recorded``: Casdoor inserts before it checks,
            so look the key up before deciding.
        :raises CasdoorUnavailable: outcome unknown (timeout, HTTP 5xx, the
            connection closed before the answer): Casdoor may have recorded it.
        """
        if self.is_legacy:
            return self._add_legacy(draft)
        try:
            body = self._call("POST", "/api/add-transaction", "record the charge",
                              params={"id": f"{self.organization}/"}, json=self._current_body(draft))
        except CasdoorRefused as exc:
            raise self._refusal(draft, exc, "record the charge", during_add=True) from exc
        name = body.get("data")
        if not isinstance(name, str) or not name or name in _ACTION_ANSWERS:
            # v2.144 - v2.148 answer "Affected" and keep our (empty) name.
            raise BillingRejected(
                f"Casdoor answered {name!r} instead of the new transaction's name: it is older than "
                "v2.149. Upgrade Casdoor, or for Casdoor v2.144 and older use the legacy transaction "
                "shape. The transaction may have been recorded; check Casdoor's transactions.",
                may_be_recorded=True)
        return name

    def _add_legacy(self, draft):
        try:
            body = self._call("POST", "/api/add-transaction", "record the charge",
                              params={"id": f"{self.organization}/{draft.key}"},
                              json=self._legacy_body(draft))
        except CasdoorRefused as exc:
            if _DUPLICATE.search(exc.casdoor_message):
                return self._adopt_duplicate(draft, exc)
            raise self._refusal(draft, exc, "record the charge", during_add=True) from exc
        if body.get("data") != "Affected":
            # A server that names transactions itself (v2.149+) kept neither our name
            # nor our "User" category: nobody was charged.
            raise BillingRejected(
                f"Casdoor answered {body.get('data')!r} instead of 'Affected': it is v2.149 or newer "
                "and names transactions itself, so the legacy transaction shape does not fit. Use "
                "the current shape. The transaction may have been recorded without charging anyone.",
                may_be_recorded=True)
        return draft.key

    def _adopt_duplicate(self, draft, exc):
        """A legacy add refused as a duplicate name: an earlier attempt landed."""
        existing = self.find(draft.key)
        if existing is None:
            raise BillingRejected(f"Casdoor refused the charge as a duplicate but has no transaction "
                                  f"{self.organization}/{draft.key}: {exc.casdoor_message}",
                                  casdoor_message=exc.casdoor_message)
        if (existing.user, existing.amount, existing.currency) != (draft.user, draft.amount, draft.currency):
            raise BillingRejected(
                f"Casdoor already holds a different transaction {self.organization}/{draft.key} "
                f"({existing.user}, {existing.amount} {existing.currency}); this charge is "
                f"{draft.user}, {draft.amount} {draft.currency}.",
                casdoor_message=exc.casdoor_message)
        log.info("Casdoor already had %s/%s; adopting it", self.organization, draft.key)
        return existing.name

    def _refusal(self, draft, exc, what, *, during_add):
        message = exc.casdoor_message
        if message.startswith("Insufficient balance"):
            new_balance = credit_limit = None
            match = _INSUFFICIENT.search(message)
            if match:
                try:
                    new_balance, credit_limit = Decimal(match[1]), Decimal(match[2])
                except InvalidOperation:
                    pass
            balance = None
            if new_balance is not None:
                balance = (new_balance + draft.amount).quantize(QUANTUM)
            return InsufficientBalance(draft.amount, balance, currency=draft.currency,
                                       credit_limit=credit_limit, casdoor_message=message,
                                       may_be_recorded=during_add)
        return BillingRejected(f"Casdoor refused to {what} for {draft.user}: {message or 'no reason given'}",
                               casdoor_message=message, may_be_recorded=during_add)

    # -- looking up ------------------------------------------------------

    def find(self, key):
        """The transaction recorded under ``key``, or None when Casdoor has none.

        Current shape: the paginated listing filtered by ``subtype`` (Casdoor
        matches with SQL ``LIKE %key%``; only the paginated listing filters by
        anything but the user), sorted by the unique name so pages are stable,
        every page of it, keeping only exact matches. Legacy shape:
        ``get-transaction`` of ``<organization>/<key>``.

        :raises ValueError: ``key`` is not a canonical UUID.
        :raises CasdoorUnavailable: Casdoor could not tell; that is not "none".
        """
        check_key(key)
        if self.is_legacy:
            row = self._call("GET", "/api/get-transaction", "look the charge up",
                             params={"id": f"{self.organization}/{key}"})["data"]
            return self._transaction(row) if isinstance(row, dict) else None
        matches = [self._transaction(row)
                   for row in self._rows({"field": "subtype", "value": key, "sortField": "name",
                                          "sortOrder": "ascend"}, FIND_PAGE_SIZE)
                   if row.get("subtype") == key]
        if len(matches) > 1:
            log.warning("Casdoor holds %d transactions under key %s: %s", len(matches), key,
                        ", ".join(t.name for t in matches))
        return matches[0] if matches else None

    def iter_transactions(self, since=None, *, page_size=PAGE_SIZE):
        """Every transaction of this application, in name order, for reconciliation.

        Casdoor cannot filter by time or page by cursor: this pages through
        the organization's rows filtered by ``application`` (``LIKE``, then
        confirmed exactly here), sorted by name (unique, so the order is stable),
        and stops by the total, as a page past the end repeats the last page.
        Rows added meanwhile shift later pages, so a row may come twice from
        Casdoor; each is yielded once.

        :param since: a ``date`` or ``datetime`` (naive = UTC): only rows created
            at or after it (rows whose time does not parse are kept).
        :param page_size: rows asked for per request.
        :raises CasdoorUnavailable: Casdoor stopped answering midway.
        """
        since = _naive_utc(since) if since is not None else None
        seen = set()
        params = {"field": "application", "value": self.application,
                  "sortField": "name", "sortOrder": "ascend"}
        for row in self._rows(params, page_size):
            if row.get("application") != self.application or row.get("name") in seen:
                continue
            seen.add(row.get("name"))
            transaction = self._transaction(row)
            if since is not None and transaction.created_at is not None and transaction.created_at < since:
                continue
            yield transaction

    def _rows(self, params, page_size):
        """Rows of the paginated listing, page after page, until the total is reached."""
        page = 1
        while True:
            body = self._call("GET", "/api/get-transactions", "list transactions",
                              params={"owner": self.organization, "p": page, "pageSize": page_size,
                                      **params})
            rows = body.get("data") or []
            total = body.get("data2")
            if not isinstance(rows, list) or not isinstance(total, int):
                raise CasdoorError("Casdoor answered the transaction listing without rows and a total; "
                                   "is CASDOOR_ENDPOINT a Casdoor server?")
            yield from (row for row in rows if isinstance(row, dict))
            if not rows or page * page_size >= total:
                return
            page += 1

    # -- wire shapes -----------------------------------------------------

    def _call(self, method, path, what, *, params=None, json=None):
        return self.casdoor.call(method, path, what=what, params=params, json=json, parse_float=Decimal)

    def _current_body(self, draft):
        return {
            "owner": self.organization, "name": "", "createdTime": to_rfc3339(draft.created_at),
            "displayName": "", "application": self.application, "domain": draft.domain,
            "category": draft.category, "type": draft.chat, "subtype": draft.key,
            "provider": draft.provider, "user": draft.user, "tag": "User",
            "amount": to_casdoor_amount(-draft.amount), "currency": draft.currency,
            "payment": "", "state": "Paid",
        }

    def _legacy_body(self, draft):
        return {
            "owner": self.organization, "name": draft.key, "createdTime": to_rfc3339(draft.created_at),
            "displayName": draft.key, "provider": draft.provider,
            # "User" is what moves the user's balance in this generation.
            "category": "User", "type": draft.category,
            "productName": draft.provider, "productDisplayName": draft.provider, "detail": draft.detail,
            "tag": draft.chat, "currency": draft.currency, "amount": to_casdoor_amount(-draft.amount),
            "returnUrl": draft.domain, "user": draft.user, "application": self.application,
            "payment": "", "state": "Paid",
        }

    def _transaction(self, row):
        name = str(row.get("name") or "")
        key = name if self.is_legacy else str(row.get("subtype") or "")
        price = -from_casdoor_amount(row.get("amount") or 0)
        return Transaction(
            name=name, key=key, user=str(row.get("user") or ""),
            amount=price if price else abs(price),  # no "-0E-8"
            currency=str(row.get("currency") or ""),
            created_at=from_rfc3339(row.get("createdTime")),
            application=str(row.get("application") or ""), raw=row,
        )
