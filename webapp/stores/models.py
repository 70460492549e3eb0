"""Stores (the workspaces a Casdoor Homepage binds to), who may use them, and what they own.

Every model whose rows belong to one store mixes in ``StoreOwnedMixin``: its rows
are read only through ``Model.query_for(store)`` and
``webapp.stores.scoping.get_in_store_or_404``, so a row of another store is
never reached by accident.
"""
from sqlalchemy.orm import declared_attr

from webapp.core.clock import utcnow
from webapp.extensions import db

#: Every model that mixes in StoreOwnedMixin (filled as the classes are defined).
STORE_OWNED_MODELS = []


class StoreOwnedMixin:
    """A row that belongs to exactly one store; read it only through ``query_for``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__tablename__", None):
            STORE_OWNED_MODELS.append(cls)

    @declared_attr
    def store_id(cls):
        return db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"),
                         nullable=False, index=True)

    @declared_attr
    def store(cls):
        return db.relationship("Store")

    #: Set to a plural label ("Files") to show this table's count per store on the
    #: administrators' store list. Only tables people think in get one: a count is a
    #: query per page, and chunk- or message-sized tables would make it grow with the data.
    admin_count_label = None

    @classmethod
    def query_for(cls, store):
        """A ``select`` of this model's rows in ``store`` (add ordering and filters to it)."""
        return db.select(cls).filter(cls.store_id == store.id)


#: Width of ``stores.name``: names made before the rule of ``webapp.stores.rules``
#: (at most 64 characters) could be up to 100 long, and keep working.
NAME_COLUMN_LENGTH = 100


class Store(db.Model):
    __tablename__ = "stores"
    __table_args__ = (
        # At most one default store, enforced by the database as well as the service.
        db.Index("ix_stores_one_default", "is_default", unique=True,
                 sqlite_where=db.text("is_default"), postgresql_where=db.text("is_default")),
    )

    id = db.Column(db.Integer, primary_key=True)
    #: What a Casdoor Homepage binds to (compared exactly); the rule is in ``webapp.stores.rules``.
    name = db.Column(db.String(NAME_COLUMN_LENGTH), nullable=False, unique=True)
    #: Shown instead of the name (at most ``rules.DISPLAY_NAME_MAX`` characters, one line).
    display_name = db.Column(db.String(255), nullable=False, default="")
    description = db.Column(db.Text, nullable=False, default="")
    #: Shown on the store's home page and, later, on an empty chat.
    welcome_text = db.Column(db.Text, nullable=False, default="")
    #: System prompt for the store's assistant (used by the chat feature).
    system_prompt = db.Column(db.Text, nullable=False, default="")
    #: Name of the model provider answering in this store (used by the chat feature).
    model_provider = db.Column(db.String(100), nullable=False, default="local")
    #: The provider answering in this store (``webapp.providers.models.Provider``); NULL: the default one.
    provider_id = db.Column(db.Integer, db.ForeignKey("providers.id", ondelete="SET NULL"), index=True)
    #: The provider that embeds this store's knowledge for search (purpose "embedding");
    #: NULL: the built-in "Local embeddings" (see ``webapp.providers.service``).
    embedding_provider_id = db.Column(db.Integer, db.ForeignKey("providers.id", ondelete="SET NULL"), index=True)
    embedding_provider = db.relationship("Provider", foreign_keys=[embedding_provider_id], lazy="selectin")
    #: True: no vectors at all, search by full text only.
    embeddings_off = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    #: Bumped whenever the store's vectors change: a process's cached matrix of an older
    #: version is stale (``webapp.knowledge.vectors``).
    vector_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    #: The embedding model ("<provider id>/<model>") whose vectors cover the store's ready
    #: files; search uses vectors only while it is the store's current one.
    vector_key = db.Column(db.String(320))
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


class StoreAlias(db.Model):
    """A store's former name, still binding the users whose Casdoor Homepage says it.

    A rename commits at once; the bound users' Homepages are then updated at
    Casdoor by background jobs. Until Casdoor confirms a user's new Homepage,
    the old name keeps binding them to the store (never to all stores, never to
    none); the alias goes when no Homepage names it any more.
    """

    __tablename__ = "store_aliases"

    id = db.Column(db.Integer, primary_key=True)
    #: The former name (no store and no other alias may take it while it exists).
    name = db.Column(db.String(NAME_COLUMN_LENGTH), nullable=False, unique=True)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True)
    store = db.relationship("Store")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class StoreGrant(db.Model):
    """An administrator let a local account use a store.

    Local accounts (and Casdoor accounts signed in with their local password)
    use exactly the stores granted to them; administrators use every store.
    """

    __tablename__ = "store_grants"
    __table_args__ = (db.UniqueConstraint("user_id", "store_id"),)

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    store_id = db.Column(db.Integer, db.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True)
    #: Who granted it (kept as NULL when that account is deleted).
    granted_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User", foreign_keys=[user_id])
    store = db.relationship("Store")


class Document(StoreOwnedMixin, db.Model):
    admin_count_label = "Documents"
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

    __table_args__ = (
        # The store page's "recently updated" and the newest-first list.
        db.Index("ix_documents_store_id_updated_at", "store_id", "updated_at"),
        # The alphabetical list, paged by (title, id).
        db.Index("ix_documents_store_id_title_id", "store_id", "title", "id"),
    )

    def __repr__(self):
        return f"<Document {self.id} in store {self.store_id}>"
