"""A Flask session interface that keeps session data in the database.

The browser cookie carries only the session key, signed with SECRET_KEY; API
clients send the same key as ``Authorization: Token <key>``. Casdoor JWTs are
several KB each and would overflow a cookie, so everything else stays in the
``sessions`` table. Rows are created lazily, the first time a session holds
something, so a bot fetching the home page costs no row.
"""
import logging
import secrets
from datetime import timedelta

from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from sqlalchemy.orm.attributes import flag_modified
from werkzeug.datastructures import CallbackDict

from webapp.extensions import db
from webapp.sessions.models import Session, hash_key
from webapp.users.models import utcnow

log = logging.getLogger("webapp.sessions")


def new_session_key():
    return secrets.token_urlsafe(32)


def token_from_header(request):
    """The session key from ``Authorization: Token <key>``, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return None


class ServerSession(CallbackDict, SessionMixin):
    """Session data plus the bookkeeping the interface needs to save it."""

    def __init__(self, initial=None, *, key=None, row=None, from_header=False):
        def on_update(self):
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.key = key
        self.row = row
        #: Authenticated through ``Authorization: Token``: never answer with a cookie.
        self.from_header = from_header
        self.modified = False
        self.user_id = row.user_id if row is not None else None
        self.auth_method = row.auth_method if row is not None else None
        #: Rows to revoke when this response is saved (rotation, sign-out).
        self.rows_to_revoke = []
        self.ended = False


def rotate_session(session, user, auth_method):
    """Give ``session`` a fresh key and bind it to ``user``.

    Called at every sign-in, so a key planted before sign-in (session fixation)
    is worthless afterwards. The old row is revoked when the response is saved;
    the data (CSRF token aside) carries over.
    """
    if session.row is not None:
        session.rows_to_revoke.append(session.row)
    session.row = None
    session.key = new_session_key()
    session.user_id = user.id
    session.auth_method = auth_method
    # A new CSRF token goes with the new key.
    session.pop("csrf_token", None)
    session.modified = True
    return session.key


def end_session(session):
    """Sign out: revoke the row when the response is saved.

    Whatever is put in the session afterwards (a flash saying "signed out")
    goes into a new anonymous session with a new key.
    """
    if session.row is not None:
        session.rows_to_revoke.append(session.row)
    session.row = None
    session.key = None
    session.user_id = None
    session.clear()
    session.ended = True
    session.modified = True


class DatabaseSessionInterface(SessionInterface):
    salt = "storehouse-session-key"

    def _signer(self, app):
        return Signer(app.secret_key, salt=self.salt)

    def _load_row(self, key):
        row = db.session.execute(
            db.select(Session).filter_by(key_hash=hash_key(key))
        ).scalar_one_or_none()
        if row is None or not row.is_active:
            return None
        return row

    def open_session(self, app, request):
        scheme = request.headers.get("Authorization", "").split(" ", 1)[0].lower()
        if scheme == "bearer":
            # Casdoor JWT callers: no cookie session, so a cookie can never
            # stand in for the header credential that exempted them from CSRF.
            return ServerSession(from_header=True)
        key = token_from_header(request)
        if key is not None:
            row = self._load_row(key)
            # An unknown token gets an empty, header-bound session: the auth
            # layer answers 401, and no cookie is ever set for API clients.
            if row is None:
                return ServerSession(from_header=True)
            return ServerSession(row.data, key=key, row=row, from_header=True)

        signed = request.cookies.get(self.get_cookie_name(app))
        if signed:
            try:
                key = self._signer(app).unsign(signed).decode()
            except BadSignature:
                key = None
            row = self._load_row(key) if key else None
            if row is not None:
                return ServerSession(row.data, key=key, row=row)
        return ServerSession()

    def save_session(self, app, session, response):
        now = utcnow()
        for old in session.rows_to_revoke:
            old.revoked_at = now
            db.session.add(old)

        cookie_name = self.get_cookie_name(app)
        cookie_kwargs = dict(
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
            secure=self._cookie_secure(app),
        )

        if session.row is None and not session and session.user_id is None:
            # Nothing worth a row (yet): a fresh visitor, or a sign-out with no flash.
            if session.rows_to_revoke:
                db.session.commit()
            if session.ended and not session.from_header:
                response.delete_cookie(cookie_name, **cookie_kwargs)
            return

        lifetime = timedelta(days=app.config["SESSION_LIFETIME_DAYS"])
        refresh_cookie = session.modified
        # Track our own writes rather than trusting db.session.dirty: the view
        # may have committed (expiring the row) before we get here.
        changed = bool(session.rows_to_revoke)
        row = session.row
        if row is None:
            from flask import request

            row = Session(
                key_hash=hash_key(session.key or self._assign_key(session)),
                user_id=session.user_id,
                auth_method=session.auth_method,
                data=dict(session),
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
                ip=(request.remote_addr or "")[:64],
                user_agent=request.headers.get("User-Agent", "")[:255],
            )
            session.row = row
            changed = True
        else:
            if session.modified:
                row.data = dict(session)
                flag_modified(row, "data")
                changed = True
            touch_after = timedelta(seconds=app.config["SESSION_TOUCH_INTERVAL"])
            if now - row.last_seen_at > touch_after:
                row.last_seen_at = now
                row.expires_at = now + lifetime
                refresh_cookie = changed = True
        if changed:
            db.session.add(row)
            db.session.commit()

        if not session.from_header and refresh_cookie:
            signed = self._signer(app).sign(session.key.encode()).decode()
            response.set_cookie(
                cookie_name, signed, expires=now + lifetime, **cookie_kwargs
            )
            response.vary.add("Cookie")

    @staticmethod
    def _assign_key(session):
        session.key = new_session_key()
        return session.key

    @staticmethod
    def _cookie_secure(app):
        from flask import request

        configured = app.config.get("SESSION_COOKIE_SECURE")
        if configured is None:
            return request.is_secure
        return bool(configured)
