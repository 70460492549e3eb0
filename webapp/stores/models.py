"""Stores (the workspaces a Casdoor Homepage binds to) and the documents they own.

Every model whose rows belong to one store mixes in ``StoreOwnedMixin`` from
``webapp.stores.scoping``; that module is the only place that filters by store.
"""
from webapp.extensions import db
from webapp.stores.scoping import StoreOwnedMixin
from webapp.users.models import utcnow

#: Characters a store name may not contain: they would break ``/s/<store>/``
#: URLs or Casdoor's Homepage field (``%`` and ``+`` also change meaning when decoded).
FORBIDDEN_NAME_CHARACTERS = "/?:#&%=+;"
NAME_MAX_LENGTH = 100


class Store(db.Model):
    __tablename__ = "stores"
    __table_args__ = (
        # At most one default store, enforced by the database as well as the service.
        db.Index("ix_stores_one_default", "is_default", unique=True,
                 sqlite_where=db.text("is_default"), postgresql_where=db.text("is_default")),
    )

    id = db.Column(db.Integer, primary_key=True)
    #: What a Casdoor Homepage binds to (compared exactly); see ``service.validate_store_name``.
    name = db.Column(db.String(NAME_MAX_LENGTH), nullable=False, unique=True)
    display_name = db.Column(db.String(255), nullable=False, default="")
    description = db.Column(db.Text, nullable=False, default="")
    #: Shown on the store's home page and, later, on an empty chat.
    welcome_text = db.Column(db.Text, nullable=False, default="")
    #: System prompt for the store's assistant (used by the chat feature).
    system_prompt = db.Column(db.Text, nullable=False, default="")
    #: Name of the model provider answering in this store (used by the chat feature).
    model_provider = db.Column(db.String(100), nullable=False, default="local")
    #: How many knowledge chunks retrieval puts in front of the model.
    knowledge_count = db.Column(db.Integer, nullable=False, default=5)
    #: How many earlier question/answer pairs of a chat the model sees.
    memory_limit = db.Column(db.Integer, nullable=False, default=10)
    #: The store people land in when nothing binds them; exactly one once any store exists.
    is_default = db.Column(db.Boolean, nullable=False, default=False)
    #: Inactive stores are hidden from everybody but administrators.
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @property
    def label(self):
        return self.display_name or self.name

    def __repr__(self):
        return f"<Store {self.name}>"


class Document(StoreOwnedMixin, db.Model):
    """A piece of a store's knowledge."""

    __tablename__ = "documents"

    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(255), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    #: Who wrote it; kept (as NULL) when the account is deleted.
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_by = db.relationship("User")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<Document {self.id} in store {self.store_id}>"
