"""People who use Storehouse, whether they sign in locally or through Casdoor."""
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.core.clock import utcnow
from webapp.extensions import db


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    #: Stable handle; set once at creation and never rewritten from claims.
    username = db.Column(db.String(64), nullable=False, unique=True)
    #: Lower-cased; unique when present (a Casdoor user may have none).
    email = db.Column(db.String(255), unique=True)
    display_name = db.Column(db.String(255), nullable=False, default="")
    first_name = db.Column(db.String(100), nullable=False, default="")
    last_name = db.Column(db.String(100), nullable=False, default="")
    avatar_url = db.Column(db.String(1000), nullable=False, default="")
    #: scrypt hash (werkzeug); NULL for accounts that only sign in through Casdoor.
    password_hash = db.Column(db.String(255))
    #: Admin granted here (bootstrap, CLI) as opposed to derived from Casdoor.
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime)

    #: Casdoor ``sub`` (the user's Casdoor id); the only key SSO sign-in uses.
    casdoor_sub = db.Column(db.String(255), unique=True)
    #: Casdoor organization and username at the last sign-in (display only).
    casdoor_org = db.Column(db.String(100))
    casdoor_name = db.Column(db.String(255), index=True)
    casdoor_linked_at = db.Column(db.DateTime)
    casdoor_last_login_at = db.Column(db.DateTime)
    #: When the profile was last copied from claims (sync runs at most every 5 minutes).
    casdoor_profile_synced_at = db.Column(db.DateTime)
    #: Casdoor ``homepage`` at the last sign-in: the store binding.
    casdoor_homepage = db.Column(db.String(255), index=True)
    #: Casdoor groups (``org/group``) at the last sign-in, as a JSON list.
    casdoor_groups = db.Column(db.JSON, nullable=False, default=list)
    #: Admin derived from Casdoor (``isAdmin`` or an admin group) at the last sign-in.
    casdoor_is_admin = db.Column(db.Boolean, nullable=False, default=False)
    #: When Storehouse last read this person from Casdoor's API (webhook, sync). A token
    #: issued before it carries older facts than the row: its claims do not overwrite them.
    casdoor_state_read_at = db.Column(db.DateTime)
    #: Why Casdoor no longer lets this person in ("deleted", "forbidden", "groups"), as last
    #: read; NULL when allowed. Sessions and Bearer tokens are refused while it is set.
    casdoor_blocked_reason = db.Column(db.String(40))
    #: The person signed out in Casdoor (logout, sso-logout, back-channel logout): Casdoor
    #: tokens issued before it no longer authenticate.
    casdoor_signed_out_at = db.Column(db.DateTime)

    #: Set per request by ``webapp.auth.current``: Casdoor-derived privileges (admin
    #: from Casdoor, every store for an unbound user) apply only to a session that
    #: came through Casdoor, and only while the Casdoor profile is fresh. Casdoor's
    #: restrictions (the Homepage binding, the group gate) apply to every session.
    casdoor_privileges = False

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def has_password(self):
        return bool(self.password_hash)

    @property
    def is_effective_admin(self):
        """Admin in this request: granted here, or by Casdoor in a Casdoor session."""
        return self.is_admin or (self.casdoor_is_admin and self.casdoor_privileges)

    @property
    def is_casdoor_linked(self):
        return self.casdoor_sub is not None

    @property
    def label(self):
        return self.display_name or self.username

    def __repr__(self):
        return f"<User {self.username}>"
