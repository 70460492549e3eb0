"""Chats and their messages.

* ``Chat``      a conversation of one user in one store.
* ``Message``   a question (role "user") or an answer (role "assistant"). An answer
  records its usage and price exactly as they were when it was answered (the
  provider may later change or go), and carries ``charge_key``, the idempotency
  key billing sends to Casdoor.

Money: prices per million tokens are ``Numeric(18, 8)``; a message's price is
``Numeric(18, 8)``, computed in ``Decimal`` by ``webapp.providers.pricing``; never floats.
"""
import uuid

from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.providers.models import MONEY
from webapp.stores.models import StoreOwnedMixin

ROLES = ("user", "assistant")
#: Message states: an answer is "streaming" while the model writes it.
STREAMING, COMPLETE, STOPPED, FAILED = "streaming", "complete", "stopped", "failed"
STATUSES = (STREAMING, COMPLETE, STOPPED, FAILED)


class Chat(StoreOwnedMixin, db.Model):
    admin_count_label = "Chats"
    """One user's conversation in one store."""

    __tablename__ = "chats"
    __table_args__ = (
        # The sidebar: a user's chats in a store, most recently active first, keyset by (updated_at, id).
        db.Index("ix_chats_store_id_user_id_updated_at_id", "store_id", "user_id", "updated_at", "id"),
        # Title search and the admin view of a store's chats.
        db.Index("ix_chats_store_id_title", "store_id", "title"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    user = db.relationship("User")
    title = db.Column(db.String(200), nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: Deleted by its owner: hidden everywhere, kept so that its answers' usage stays complete.
    deleted_at = db.Column(db.DateTime)

    def __repr__(self):
        return f"<Chat {self.id} in store {self.store_id}>"


def new_charge_key():
    return str(uuid.uuid4())


class Message(StoreOwnedMixin, db.Model):
    """A question or an answer. Answers carry usage, price and the billing key."""

    __tablename__ = "messages"
    __table_args__ = (
        # A chat's messages in order, keyset by id.
        db.Index("ix_messages_chat_id_id", "chat_id", "id"),
        # Usage pages: totals per store / per user over a date range. On PostgreSQL the store
        # index also carries what the totals read, so they run as index-only scans.
        db.Index("ix_messages_store_id_created_at", "store_id", "created_at",
                 postgresql_include=["role", "user_id", "provider_name", "currency", "prompt_tokens",
                                     "completion_tokens", "price"]),
        db.Index("ix_messages_user_id_created_at", "user_id", "created_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    chat_id = db.Column(db.Integer, db.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False)
    chat = db.relationship("Chat")
    #: The chat's owner, kept here so usage groups by user without a join.
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    role = db.Column(db.String(10), nullable=False)
    text = db.Column(db.Text, nullable=False, default="")
    #: ``[{"n", "file_id", "file_name", "chunk_id", "heading", "snippet"}, ...]``: numbered 1..K.
    sources = db.Column(db.JSON, nullable=False, default=list)
    status = db.Column(db.String(10), nullable=False, default=COMPLETE)
    #: What went wrong, for a person (never a key or a stack trace).
    error = db.Column(db.Text, nullable=False, default="")
    provider_id = db.Column(db.Integer, db.ForeignKey("providers.id", ondelete="SET NULL"), index=True)
    provider_name = db.Column(db.String(100), nullable=False, default="")
    model = db.Column(db.String(200), nullable=False, default="")
    prompt_tokens = db.Column(db.Integer, nullable=False, default=0)
    completion_tokens = db.Column(db.Integer, nullable=False, default=0)
    #: True when the counts come from an offline tokenizer, not the provider.
    usage_estimated = db.Column(db.Boolean, nullable=False, default=False)
    price = db.Column(MONEY, nullable=False, default=0)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    latency_ms = db.Column(db.Integer)
    ttft_ms = db.Column(db.Integer)
    #: The billing idempotency key (a UUID), set on answers.
    charge_key = db.Column(db.String(36), unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: Replaced by a regenerated answer or dropped by an edited question: hidden from the
    #: chat, kept for usage and billing (an answer's tokens were consumed all the same).
    deleted_at = db.Column(db.DateTime)

    @property
    def is_answer(self):
        return self.role == "assistant"

    def __repr__(self):
        return f"<Message {self.id} {self.role} in chat {self.chat_id}>"


class UsageDay(db.Model):
    """The usage rollup: one row per (store, person, provider, currency, day) with its totals.

    ``day`` is the calendar day of the answer's ``created_at`` in ``BILLING_TIMEZONE``.
    Kept by ``webapp.chat.rollup.record`` in each final answer's own transaction (an upsert),
    so usage pages and spending limits read days x groups, never the answers themselves.
    ``flask usage verify`` recomputes it from the answers.
    """

    __tablename__ = "usage_days"
    __table_args__ = (
        # The upsert's conflict target, and a store's usage over a range of days.
        db.UniqueConstraint("store_id", "day", "user_id", "provider", "currency",
                            name="uq_usage_days_store_id_day_user_id_provider_currency"),
        # A person's usage (mine, and a person's limit in a store) over a range of days.
        db.Index("ix_usage_days_user_id_day", "user_id", "day"),
        # Every store over a range of days (administrators' usage over all stores).
        db.Index("ix_usage_days_day", "day"),
    )

    id = db.Column(db.Integer, primary_key=True)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    #: The provider's name as the answer recorded it ("" when no model ran).
    provider = db.Column(db.String(100), nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    day = db.Column(db.Date, nullable=False)
    answers = db.Column(db.Integer, nullable=False, default=0)
    prompt_tokens = db.Column(db.BigInteger, nullable=False, default=0)
    completion_tokens = db.Column(db.BigInteger, nullable=False, default=0)
    cost = db.Column(MONEY, nullable=False, default=0)

    def __repr__(self):
        return f"<UsageDay store {self.store_id} user {self.user_id} {self.provider} {self.day}>"
