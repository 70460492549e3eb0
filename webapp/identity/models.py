"""The Casdoor sync's runs, and the back-channel logout tokens already used."""
from webapp.core.clock import utcnow
from webapp.extensions import db

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


class SyncRun(db.Model):
    """One pass of the Casdoor sync (the job or ``flask casdoor sync``), kept as a record."""

    __tablename__ = "casdoor_sync_runs"

    id = db.Column(db.Integer, primary_key=True)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    finished_at = db.Column(db.DateTime)
    #: running, succeeded or failed (Casdoor unreachable: nobody was changed).
    state = db.Column(db.String(20), nullable=False, default=RUNNING)
    #: "job" or "command".
    source = db.Column(db.String(20), nullable=False)
    users_read = db.Column(db.Integer, nullable=False, default=0)
    users_changed = db.Column(db.Integer, nullable=False, default=0)
    #: Why the run failed, for the operator (never a secret).
    error = db.Column(db.String(1000), nullable=False, default="")


class LogoutTokenId(db.Model):
    """The ``jti`` of each back-channel logout token accepted, until the token expires:
    a replayed token is refused."""

    __tablename__ = "logout_token_ids"

    jti = db.Column(db.String(255), primary_key=True)
    expires_at = db.Column(db.DateTime, nullable=False, index=True)
