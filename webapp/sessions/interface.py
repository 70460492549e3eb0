"""A Flask session interface that keeps session data in the database.

The browser cookie carries only the session key, signed with SECRET_KEY (and
still accepted when signed with a key in SECRET_KEY_FALLBACKS); API clients
send the same key as ``Authorization: Token <key>``. Casdoor JWTs are several
KB each and would overflow a cookie, so everything else stays in the
``sessions`` table.

Rules this module keeps:

* rows are written on connections of their own (``SessionStore``), so saving a
  session never commits or blocks on the view's uncommitted work; the data is
  read on the request's connection, so a request needs one pooled connection;
* a row is created only when the session holds something: a 404 or a scanner
  costs no row; a form's CSRF token, a sign-in in progress or a flash does;
* a request writes only the keys it set or removed (two tabs cannot erase each
  other's state); the data is read only when the request reads it;
* who a key belongs to is cached for AUTH_CACHE_SECONDS; revocation drops the
  cached entry at once here (and in Redis when configured).
"""
import logging
import secrets

from flask import request
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.sessions.store import SessionStore

log = logging.getLogger("webapp.sessions")


def new_session_key():
    return secrets.token_urlsafe(32)


def token_from_header(req):
    """The session key from ``Authorization: Token <key>``, or None."""
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return None


class ServerSession(SessionMixin):
    """Session data (loaded on first read) plus what the interface needs to save it."""

    def __init__(self, store=None, *, key=None, record=None, from_header=False):
        self._store = store
        self.key = key
        #: ``SessionRecord`` of the stored row, None until one exists.
        self.record = record
        #: Authenticated through ``Authorization: Token``: never answer with a cookie.
        self.from_header = from_header
        self.user_id = record.user_id if record is not None else None
        self.auth_method = record.auth_method if record is not None else None
        self._data = None if record is not None else {}
        self._changed = {}
        self._removed = set()
        self.modified = False
        #: Key hashes of rows to revoke when this response is saved (rotation, sign-out).
        self.revoke_on_save = []
        self.ended = False
        #: The session could not be read (database down): never written back.
        self.unavailable = False
        #: Why: the ``SQLAlchemyError`` (a pool timeout means "busy", not "down").
        self.unavailable_error = None

    # -- the mapping: data is read from the row on first use --------------------

    def _loaded(self):
        if self._data is None:
            self._data = self._store.load_data(self.record) if self._store is not None else {}
        return self._data

    def __getitem__(self, key):
        return self._loaded()[key]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self):
        return len(self._loaded())

    def __contains__(self, key):
        return key in self._loaded()

    def __setitem__(self, key, value):
        self._loaded()[key] = value
        self._changed[key] = value
        self._removed.discard(key)
        self.modified = True

    def __delitem__(self, key):
        del self._loaded()[key]
        self._changed.pop(key, None)
        self._removed.add(key)
        self.modified = True

    # Flask asks for these; they must not load the data.
    permanent = property(lambda self: True, lambda self, value: None)

    @property
    def row_id(self):
        return self.record.id if self.record is not None else None

    @property
    def has_changes(self):
        return bool(self._changed or self._removed)


def rotate_session(session, user, auth_method):
    """Give ``session`` a fresh key and bind it to ``user``.

    Called at every sign-in, so a key planted before sign-in (session fixation)
    is worthless afterwards. The old row is revoked when the response is saved;
    the data (CSRF token aside) carries over to the new row.
    """
    data = dict(session._loaded())
    data.pop("csrf_token", None)  # a new CSRF token goes with the new key
    if session.record is not None:
        session.revoke_on_save.append(session.record.key_hash)
    session.record = None
    session.key = new_session_key()
    session.user_id = user.id
    session.auth_method = auth_method
    session._data = data
    session._changed = dict(data)
    session._removed = set()
    session.modified = True
    return session.key


def end_session(session):
    """Sign out: revoke the row when the response is saved.

    Whatever is put in the session afterwards (a flash saying "signed out")
    goes into a new anonymous session with a new key.
    """
    if session.record is not None:
        session.revoke_on_save.append(session.record.key_hash)
    session.record = None
    session.key = None
    session.user_id = None
    session.auth_method = None
    session._data = {}
    session._changed = {}
    session._removed = set()
    session.ended = True
    session.modified = True


class DatabaseSessionInterface(SessionInterface):
    salt = "storehouse-session-key"

    @staticmethod
    def store(app):
        store = app.extensions.get("session_store")
        if store is None:
            store = app.extensions["session_store"] = SessionStore(app)
        return store

    def _signer(self, app):
        # Oldest first, current last: itsdangerous signs with the last and accepts all.
        keys = [*app.config.get("SECRET_KEY_FALLBACKS", []), app.secret_key]
        return Signer(keys, salt=self.salt)

    def open_session(self, app, req):
        try:
            return self._open(app, req)
        except SQLAlchemyError as exc:
            # The database is down: carry on anonymously, so that the request
            # reaches the error pages (which need a session to render) instead
            # of dying before Flask can answer at all.
            log.exception("Could not read the session (database unavailable?)")
            session = ServerSession(None)
            session.unavailable = True
            session.unavailable_error = exc
            return session

    def _open(self, app, req):
        store = self.store(app)
        scheme = req.headers.get("Authorization", "").split(" ", 1)[0].lower()
        if scheme == "bearer":
            # Casdoor JWT callers: no cookie session, so a cookie can never
            # stand in for the header credential that exempted them from CSRF.
            return ServerSession(store, from_header=True)
        key = token_from_header(req)
        if key is not None:
            record = store.load_record(key)
            # An unknown token gets an empty, header-bound session: the auth
            # layer answers 401, and no cookie is ever set for API clients.
            if record is None:
                return ServerSession(store, from_header=True)
            return ServerSession(store, key=key, record=record, from_header=True)

        signed = req.cookies.get(self.get_cookie_name(app))
        if signed:
            try:
                key = self._signer(app).unsign(signed).decode()
            except BadSignature:
                key = None
            record = store.load_record(key) if key else None
            if record is not None:
                return ServerSession(store, key=key, record=record)
        return ServerSession(store)

    def save_session(self, app, session, response):
        if session.unavailable:
            return
        store = self.store(app)
        # Whatever the view left uncommitted is discarded at teardown anyway;
        # dropping it now means our own writes never wait on its locks.
        if db.session().in_transaction():
            db.session.rollback()
        if session.revoke_on_save:
            store.revoke(session.revoke_on_save)

        cookie_name = self.get_cookie_name(app)
        cookie_kwargs = dict(
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
            secure=self._cookie_secure(app),
        )

        record = session.record
        if record is None:
            if session.user_id is None and not session.has_changes:
                # Nothing worth a row: a fresh visitor, or a sign-out with no flash.
                if session.ended and not session.from_header:
                    response.delete_cookie(cookie_name, **cookie_kwargs)
                return
            session.key = session.key or new_session_key()
            session.record = store.create(
                session.key, user_id=session.user_id, auth_method=session.auth_method,
                data=dict(session._loaded()), ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""))
            refresh_cookie = True
        else:
            touch = store.needs_touch(record)
            if session.has_changes:
                store.save_changes(record, session._changed, session._removed, touch=touch)
            elif touch:
                try:
                    store.touch(record)
                except SQLAlchemyError:
                    # "Last seen" is bookkeeping: a saturated or failing database must not
                    # turn an answered request into an error; the next request touches it.
                    log.warning("Could not record session activity; retried on the next request")
                    touch = False
            refresh_cookie = touch or session.has_changes
        session._changed, session._removed = {}, set()

        if not session.from_header and refresh_cookie:
            signed = self._signer(app).sign(session.key.encode()).decode()
            response.set_cookie(cookie_name, signed, expires=session.record.expires_at, **cookie_kwargs)
            response.vary.add("Cookie")

    @staticmethod
    def _cookie_secure(app):
        configured = app.config.get("SESSION_COOKIE_SECURE")
        if configured is None:
            return request.is_secure
        return bool(configured)
