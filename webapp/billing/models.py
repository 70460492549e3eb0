"""The billing ledger: charges (the outbox), reservations, and per-user billing state.

* ``Charge``       one priced answer's debt to Casdoor: written in the same
  transaction as the answer message (a transactional outbox) and delivered by
  the ``billing.deliver_charge`` job. It carries everything delivery needs
  (user, amount, chat, provider, answer time, public URL), so it survives the
  answer's chat, store or user being deleted: the ledger is never cut short.
* ``Reservation``  the most an in-flight answer may cost, held from the balance
  check until the answer is settled (or abandoned, or expired).
* ``BillingAccount`` one row per user that billing has seen: the version that
  serialises that user's reservations (compare-and-swap, so no lock is held
  while Casdoor is asked) and the overdrawn flag.
* ``StoreLimit`` / ``PersonLimit`` spending limits: a store's limit for everyone
  together and its default per person (``StoreLimit.subject``), and one person's
  override in one store. ``StoreAccount`` serialises the reservations of a store
  with a store limit the way ``BillingAccount`` does a user's.
* ``LimitAlert``   a threshold or a limit crossed in one period: at most one row
  (and one webhook event) per limit, level and period.

Money is ``Numeric(18, 8)``: Casdoor's 8 decimals, never a float.
"""
from webapp.core.clock import utcnow
from webapp.extensions import db

MONEY = db.Numeric(18, 8)

#: Charge states.
#: ``pending``    waiting for (or between attempts of) delivery;
#: ``delivered``  Casdoor holds exactly one transaction under the key (``casdoor_name``);
#: ``refused``    Casdoor refused it for lack of balance (its row, if it left one, is named);
#: ``failed``     a refusal retrying cannot change (unknown user, a refused field): see ``reason``;
#: ``local_only`` the user has no Casdoor identity (or Casdoor is not configured): recorded here only.
PENDING, DELIVERED, REFUSED, FAILED, LOCAL_ONLY = "pending", "delivered", "refused", "failed", "local_only"
STATES = (PENDING, DELIVERED, REFUSED, FAILED, LOCAL_ONLY)
#: States whose amount Casdoor's balance does not show yet (subtracted from it locally).
UNDELIVERED = (PENDING,)


class Charge(db.Model):
    __tablename__ = "charges"
    __table_args__ = (
        # The delivery health query: pending charges, oldest first.
        db.Index("ix_charges_state_created_at", "state", "created_at"),
        # A user's ledger, newest first, keyset by (created_at, id).
        db.Index("ix_charges_user_id_created_at_id", "user_id", "created_at", "id"),
        # The per-user sum of undelivered charges in every reservation's round: only the
        # user's pending charges, however long their history (the ledger's index walked it all).
        db.Index("ix_charges_user_id_state", "user_id", "state"),
        # Everybody's ledger for administrators, keyset by (created_at, id).
        db.Index("ix_charges_created_at_id", "created_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    #: The answer this charges for; one charge per answer. NULL once the answer is
    #: deleted (with its chat or store): the charge and its delivery stay.
    message_id = db.Column(db.Integer, db.ForeignKey("messages.id", ondelete="SET NULL"), unique=True)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="SET NULL"))
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    #: The idempotency key: the message's ``charge_key`` (Casdoor ``subtype``; legacy: its name).
    key = db.Column(db.String(36), nullable=False, unique=True)
    #: The price, positive (Casdoor is sent minus this).
    amount = db.Column(MONEY, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    state = db.Column(db.String(12), nullable=False, default=PENDING)
    #: Why it was refused or failed, or the last delivery error, in words for people.
    reason = db.Column(db.Text, nullable=False, default="")
    #: What delivery sends: the Casdoor organization and username, the chat
    #: (``type``), the model provider, the public URL (``domain``), the answer's time.
    casdoor_org = db.Column(db.String(100), nullable=False, default="")
    casdoor_user = db.Column(db.String(255), nullable=False, default="")
    chat_label = db.Column(db.String(100), nullable=False, default="")
    provider = db.Column(db.String(100), nullable=False, default="")
    domain = db.Column(db.String(1000), nullable=False, default="")
    #: Legacy shape only (``detail``): the token counts.
    detail = db.Column(db.String(255), nullable=False, default="")
    answered_at = db.Column(db.DateTime, nullable=False)
    #: The transaction's name at Casdoor (``<casdoor_org>/<casdoor_name>`` in its UI).
    casdoor_name = db.Column(db.String(100))
    #: Sends that may have reached Casdoor.
    attempts = db.Column(db.Integer, nullable=False, default=0)
    #: Tries of the current delivery job whose outcome is recorded here; a job on a later
    #: try than this knows an earlier one died unrecorded (maybe mid-send) and looks first.
    tries_recorded = db.Column(db.Integer, nullable=False, default=0)
    #: When the next attempt is due (pending only), for the admin page.
    next_attempt_at = db.Column(db.DateTime)
    #: The last time a send ended without an answer (timeout, HTTP 5xx, dropped):
    #: Casdoor may still record it, so the next lookup waits past its timeout.
    ambiguous_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    delivered_at = db.Column(db.DateTime)

    message = db.relationship("Message")
    user = db.relationship("User")
    store = db.relationship("Store")

    @property
    def casdoor_id(self):
        """``<organization>/<name>``: the transaction's id in Casdoor's UI, or None."""
        return f"{self.casdoor_org}/{self.casdoor_name}" if self.casdoor_name else None

    def __repr__(self):
        return f"<Charge {self.id} {self.amount} {self.currency} {self.state}>"


class Reservation(db.Model):
    """The most an answer in flight may cost; counted against the balance and the limits until released."""

    __tablename__ = "reservations"
    __table_args__ = (
        db.Index("ix_reservations_user_id_expires_at", "user_id", "expires_at"),
        # A store's answers in flight, for its store limit.
        db.Index("ix_reservations_store_id_expires_at", "store_id", "expires_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    #: The store the answer is in (None for reservations made before limits existed).
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"))
    #: Upper bound: counted prompt tokens at the input price + maximum answer tokens at the output price.
    amount = db.Column(MONEY, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: An answer that never settles (its process died) stops counting then.
    expires_at = db.Column(db.DateTime, nullable=False)

    def __repr__(self):
        return f"<Reservation {self.id} user {self.user_id} {self.amount} {self.currency}>"


class BillingAccount(db.Model):
    """Billing's per-user row: the reservation version and the overdrawn flag."""

    __tablename__ = "billing_accounts"

    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Bumped by every reservation; a reservation is taken only if the version
    #: is still the one its balance check saw (so concurrent answers of one user
    #: are checked one after another, without holding a lock during the check).
    version = db.Column(db.Integer, nullable=False, default=0)
    #: Casdoor refused a charge for lack of balance; cleared when a balance check passes again.
    overdrawn_at = db.Column(db.DateTime)
    overdrawn_reason = db.Column(db.Text, nullable=False, default="")

    @property
    def is_overdrawn(self):
        return self.overdrawn_at is not None


class ReconcileRun(db.Model):
    """The outcome of one ``flask billing reconcile`` (the admin page shows the last)."""

    __tablename__ = "billing_reconcile_runs"

    id = db.Column(db.Integer, primary_key=True)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    since = db.Column(db.DateTime)
    checked = db.Column(db.Integer, nullable=False, default=0)
    missing = db.Column(db.Integer, nullable=False, default=0)
    extra = db.Column(db.Integer, nullable=False, default=0)
    mismatched = db.Column(db.Integer, nullable=False, default=0)
    requeued = db.Column(db.Integer, nullable=False, default=0)
    #: A few lines naming the differences (first ones only).
    report = db.Column(db.Text, nullable=False, default="")


#: Limit periods, in ``BILLING_TIMEZONE``: a calendar day, a week from Monday, a calendar month.
PERIODS = ("day", "week", "month")
#: ``StoreLimit.subject``: the store's limit for everyone together, or its default per person.
STORE, PER_PERSON = "store", "per_person"


class LimitFields:
    """What every limit has: a period, an exact amount and its currency, an alert threshold."""

    period = db.Column(db.String(5), nullable=False)
    amount = db.Column(MONEY, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    #: Percent of the amount at which people are warned (and the webhook told).
    alert_at = db.Column(db.Integer, nullable=False, default=80)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class StoreLimit(LimitFields, db.Model):
    """A store's limit (``subject`` "store": everyone together) or its default per person ("per_person")."""

    __tablename__ = "store_limits"

    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    subject = db.Column(db.String(10), primary_key=True)

    def __repr__(self):
        return f"<StoreLimit {self.store_id} {self.subject} {self.amount} {self.currency}/{self.period}>"


class PersonLimit(LimitFields, db.Model):
    """One person's limit in one store, in place of the store's default per person."""

    __tablename__ = "person_limits"

    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    def __repr__(self):
        return f"<PersonLimit {self.store_id}/{self.user_id} {self.amount} {self.currency}/{self.period}>"


class StoreAccount(db.Model):
    """Billing's per-store row: the version that serialises reservations against a store limit."""

    __tablename__ = "billing_store_accounts"

    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    version = db.Column(db.Integer, nullable=False, default=0)


class LimitAlert(db.Model):
    """A limit's threshold (``level`` "threshold") or the limit itself ("limit") reached in one period.

    The unique key makes "once per threshold per period" a property of the table: the
    first answer to cross it inserts the row (and queues the webhook job); later ones
    find it there. Also what *Admin > Billing > Limits* lists.
    """

    __tablename__ = "limit_alerts"
    __table_args__ = (
        db.UniqueConstraint("store_id", "user_id", "subject", "period_start", "level",
                            name="uq_limit_alerts_once_per_period"),
        # The admin list: this period's alerts, newest first, keyset by (created_at, id).
        db.Index("ix_limit_alerts_created_at_id", "created_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False)
    #: The person (a per-person limit), or 0 for the store's limit (0, not NULL, so that the key is unique).
    user_id = db.Column(db.Integer, nullable=False, default=0)
    #: "store" or "per_person".
    subject = db.Column(db.String(10), nullable=False)
    #: "threshold" or "limit".
    level = db.Column(db.String(10), nullable=False)
    period = db.Column(db.String(5), nullable=False)
    period_start = db.Column(db.Date, nullable=False)
    amount = db.Column(MONEY, nullable=False)
    spent = db.Column(MONEY, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
