"""Server-side sessions: one row per browser or API client."""
import hashlib

from webapp.core.clock import utcnow
from webapp.extensions import db

#: ``webapp.crypto`` purpose of the Casdoor id_token a session keeps for sign-out
#: (encrypted at rest: it is a usable credential until it expires).
ID_TOKEN_PURPOSE = "casdoor-id-token"


def hash_key(key):
    """Sessions are looked up by a SHA-256 of their key, so a leaked table is no key ring."""
    return hashlib.sha256(key.encode()).hexdigest()


class Session(db.Model):
    __tablename__ = "sessions"

    id = db.Column(db.Integer, primary_key=True)
    #: SHA-256 of the session key; the key itself is only ever in the cookie or the client.
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    #: NULL until somebody signs in (anonymous sessions carry CSRF and OAuth state).
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Session data (CSRF token, flashes, OAuth state, the Casdoor id_token for logout).
    data = db.Column(db.JSON, nullable=False, default=dict)
    #: How the user signed in: "password" or "casdoor".
    auth_method = db.Column(db.String(20))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_seen_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    ip = db.Column(db.String(64), nullable=False, default="")
    user_agent = db.Column(db.String(255), nullable=False, default="")
    revoked_at = db.Column(db.DateTime)

    user = db.relationship("User", backref=db.backref("sessions", passive_deletes=True))

    @property
    def is_active(self):
        return self.revoked_at is None and self.expires_at > utcnow()
