"""Model providers, chats and their messages.

* ``Provider``  how to reach one model, and what its tokens cost (exact decimals);
  not store-owned: administrators keep one list, each store points at one
  (``stores.provider_id``; NULL means "the default provider").
* ``Chat``      a conversation of one user in one store.
* ``Message``   a question (role "user") or an answer (role "assistant"). An answer
  records its usage and price exactly as they were when it was answered (the
  provider may later change or go), and carries ``charge_key``, the idempotency
  key billing sends to Casdoor.

Money: prices per million tokens are ``Numeric(18, 8)``; a message's price is
``Numeric(18, 8)``, computed in ``Decimal`` by ``webapp.chat.pricing``; never floats.
"""
import uuid

from webapp.extensions import db
from webapp.stores.models import StoreOwnedMixin
from webapp.users.models import utcnow

PROVIDER_KINDS = ("local", "openai")
ROLES = ("user", "assistant")
#: Message states: an answer is "streaming" while the model writes it.
STREAMING, COMPLETE, STOPPED, FAILED = "streaming", "complete", "stopped", "failed"
STATUSES = (STREAMING, COMPLETE, STOPPED, FAILED)
MONEY = db.Numeric(18, 8)


class Provider(db.Model):
    """A model an administrator set up. The API key is write-only (see ``api_key``)."""

    __tablename__ = "providers"
    __table_args__ = (
        # At most one default provider, enforced by the database as well as the service.
        db.Index("ix_providers_one_default", "is_default", unique=True,
                 sqlite_where=db.text("is_default"), postgresql_where=db.text("is_default")),
    )

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    #: "local" (a GGUF model in this process) or "openai" (any OpenAI-compatible server).
    kind = db.Column(db.String(20), nullable=False, default="local")
    base_url = db.Column(db.String(500), nullable=False, default="")
    model = db.Column(db.String(200), nullable=False, default="")
    #: Encrypted with ``webapp.crypto`` (purpose "provider-api-key"); read only by ``api_key``.
    api_key_encrypted = db.Column(db.Text, nullable=False, default="")
    context_length = db.Column(db.Integer, nullable=False, default=2048)
    max_tokens = db.Column(db.Integer, nullable=False, default=512)
    #: Seconds (connect and each read; for "local", the longest wait for a busy model).
    timeout = db.Column(db.Integer, nullable=False, default=60)
    #: Price per million prompt (input) and answer (output) tokens, in ``currency``.
    input_price = db.Column(MONEY, nullable=False, default=0)
    output_price = db.Column(MONEY, nullable=False, default=0)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    is_default = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @property
    def has_api_key(self):
        return bool(self.api_key_encrypted)

    def __repr__(self):
        # Never the key.
        return f"<Provider {self.id} {self.name!r} {self.kind}>"


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
