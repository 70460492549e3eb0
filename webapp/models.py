"""Every feature's models, imported so that Alembic sees them (imports only)."""
from webapp.audit.models import AuditEvent  # noqa: F401
from webapp.billing.models import (  # noqa: F401
    BillingAccount,
    Charge,
    LimitAlert,
    PersonLimit,
    ReconcileRun,
    Reservation,
    StoreAccount,
    StoreLimit,
)
from webapp.chat.models import Chat, Message, UsageDay  # noqa: F401
from webapp.identity.models import LogoutTokenId, SyncRun  # noqa: F401
from webapp.jobs.models import Job  # noqa: F401
from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile  # noqa: F401
from webapp.providers.models import Provider  # noqa: F401
from webapp.sessions.models import Session  # noqa: F401
from webapp.stores.models import Document, Store, StoreAlias, StoreGrant  # noqa: F401
from webapp.users.models import User  # noqa: F401
