"""Open answer streams: the stop switch each one checks, and the per-user cap.

**Stop.** ``POST .../messages/<id>/stop`` marks the answer row "stopped" while it
is still "streaming" (``request_stop``), and sets this process's flag for it.
The generating thread checks ``StopSwitch.should_stop`` between tokens: the
flag at once, the row at most every ``POLL_SECONDS`` (through its own short
connection, so a stop sent to another gunicorn worker is seen too). A client
that disconnects sets the flag itself (``GeneratorExit`` at the next write).

**Cap.** A user may have ``CHAT_MAX_STREAMS_PER_USER`` answers streaming at once
(counted from the rows, across workers); rows left "streaming" by a crashed
worker stop counting after ``STALE_SECONDS``.
"""
import threading
import time
from datetime import timedelta

from flask import current_app

from webapp.chat.models import STOPPED, STREAMING, Message
from webapp.core.clock import utcnow
from webapp.extensions import db

POLL_SECONDS = 1.0
STALE_SECONDS = 900

_flags = {}
_guard = threading.Lock()


class StopSwitch:
    """The ``should_stop`` of one answer stream."""

    def __init__(self, message_id, engine):
        self.message_id = message_id
        self._engine = engine
        self._event = threading.Event()
        self._polled = time.monotonic()
        with _guard:
            _flags[message_id] = self._event

    def set(self):
        self._event.set()

    def should_stop(self):
        if self._event.is_set():
            return True
        now = time.monotonic()
        if now - self._polled >= POLL_SECONDS:
            self._polled = now
            with self._engine.connect() as connection:
                status = connection.execute(
                    db.select(Message.status).where(Message.id == self.message_id)).scalar()
            if status != STREAMING:
                self._event.set()
        return self._event.is_set()

    def close(self):
        with _guard:
            _flags.pop(self.message_id, None)


def request_stop(message):
    """Ask the stream writing ``message`` to stop (flush only). True if it was still streaming."""
    with _guard:
        event = _flags.get(message.id)
    if event is not None:
        event.set()
    changed = db.session.execute(
        db.update(Message).where(Message.id == message.id, Message.status == STREAMING)
        .values(status=STOPPED).execution_options(synchronize_session=False)).rowcount
    return bool(changed) or event is not None


def stop_streams_of_user(user_id, **_):
    """Stop every answer ``user_id`` has streaming (flush only): their access was revoked.

    Connected to ``webapp.users.signals.access_revoked``. Streams in this process stop
    at their next token; those of other workers at their next poll of the row.
    """
    ids = db.session.execute(
        db.select(Message.id).where(Message.user_id == user_id, Message.status == STREAMING)).scalars().all()
    if not ids:
        return 0
    db.session.execute(
        db.update(Message).where(Message.id.in_(ids), Message.status == STREAMING)
        .values(status=STOPPED).execution_options(synchronize_session=False))
    with _guard:
        events = [_flags[message_id] for message_id in ids if message_id in _flags]
    for event in events:
        event.set()
    return len(ids)


def open_streams(user):
    """How many answers of ``user`` are streaming now (stale rows of a crashed worker aside)."""
    since = utcnow() - timedelta(seconds=STALE_SECONDS)
    return db.session.execute(
        db.select(db.func.count()).select_from(Message)
        .where(Message.user_id == user.id, Message.created_at >= since, Message.status == STREAMING)
    ).scalar_one()


def stream_cap():
    return current_app.config.get("CHAT_MAX_STREAMS_PER_USER", 2)
