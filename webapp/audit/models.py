"""The security log: one append-only row per security event."""
import sqlalchemy as sa

from webapp.core.clock import utcnow
from webapp.extensions import db


class AuditEvent(db.Model):
    """Something that changed who may do what, or an attempt at it.

    Append-only: rows are written with what they record (same transaction) and
    only the retention job removes them (AUDIT_RETENTION_DAYS); an update is refused.
    """

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_created_at_id", "created_at", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: ``webapp.audit.KINDS``: sign-in, binding-changed, webhook-refused ...
    kind = db.Column(db.String(40), nullable=False, index=True)
    #: The person concerned (NULL: none, or the account is gone; ``username`` keeps the name).
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username = db.Column(db.String(64), nullable=False, default="")
    #: Who did it, when someone else did (an administrator); NULL for the person or the system.
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    actor_name = db.Column(db.String(64), nullable=False, default="")
    #: The store concerned, by name at the time (a binding's new store, a grant's store).
    store = db.Column(db.String(255), nullable=False, default="", index=True)
    #: Where the change came from: sign-in, webhook, sync, admin, self, api, backchannel ...
    source = db.Column(db.String(20), nullable=False, default="")
    ip = db.Column(db.String(64), nullable=False, default="")
    user_agent = db.Column(db.String(255), nullable=False, default="")
    #: What else matters (old and new store, the sign-in method, a reason); never a secret.
    detail = db.Column(db.JSON, nullable=False, default=dict)


@sa.event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, event):
    raise RuntimeError("The security log is append-only: audit events are never updated.")
