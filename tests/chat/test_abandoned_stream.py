"""An answer stream whose client leaves before the first byte: saved "stopped", settled, slot freed.

A real HTTP server on loopback and a raw socket: the client sends the question
and resets the connection at once (``SO_LINGER`` 0), so the server's first
write fails before any event reaches the client and the model run never begins.
"""
import json
import socket
import struct
from decimal import Decimal

import pytest

from tests.support.chat import FACT, add_file, make_provider
from tests.support.client import csrf_token, session_cookie
from tests.support.live_server import LiveServer
from tests.support.model_servers import ScriptedServer, chunk, sse
from tests.support.waiting import wait_until
from webapp.billing.models import Reservation
from webapp.chat.models import Message


@pytest.fixture
def asker(app, db, create_user, create_store, grant, login, client):
    store = create_store("research")
    user = create_user("asker")
    grant(user, store)
    login(client, user)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    add_file(db, store, "lighthouse.txt", FACT)
    return user, store


def _ask_and_reset(server, path, cookie_name, cookie, csrf, text):
    """POST a streamed question, then reset the connection without reading a byte."""
    body = json.dumps({"text": text}).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-CSRFToken: {csrf}\r\n"
               f"Cookie: {cookie_name}={cookie}\r\nConnection: close\r\n\r\n").encode() + body
    sock = socket.create_connection(("127.0.0.1", server.server.server_port), timeout=10)
    sock.sendall(request)
    # RST instead of FIN: the server's very first write fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_stream_closed_before_its_first_byte_ends_stopped_and_frees_the_slot(app, db, asker, client):
    user, store = asker
    # The model would answer (and cost) if it ran; it must not have run at all.
    body = sse(chunk("Brandvik"), chunk(None, "stop"),
               chunk(choices=False, usage={"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41}))
    with ScriptedServer(200, {"Content-Type": "text/event-stream"}, body) as scripted:
        make_provider(db, name="Priced", kind="openai", base_url=scripted.url, model="m", api_key="sk-x",
                      input_price="3", output_price="15", max_tokens=8)
        chat_id = client.post("/api/v1/s/research/chats/", json={}).json["chat"]["id"]
        path = f"/api/v1/s/research/chats/{chat_id}/messages/"
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookie, csrf = session_cookie(client, app), client.environ_base["HTTP_X_CSRFTOKEN"]

        with LiveServer(app) as server:
            for asked in range(1, app.config["CHAT_MAX_STREAMS_PER_USER"] + 2):
                _ask_and_reset(server, path, cookie_name, cookie, csrf, "Who built the Zephyrine lighthouse?")

                def settled(asked=asked):
                    db.session.rollback()
                    statuses = db.session.execute(
                        db.select(Message.status).where(Message.role == "assistant")).scalars().all()
                    return len(statuses) == asked and "streaming" not in statuses

                wait_until(settled, 20, message="the abandoned answer saved")

        # More abandoned streams than the cap: none of them kept a slot.
        answers = db.session.execute(db.select(Message).where(Message.role == "assistant")).scalars().all()
        assert len(answers) == app.config["CHAT_MAX_STREAMS_PER_USER"] + 1
        for answer in answers:
            assert answer.status == "stopped"
            assert answer.prompt_tokens == 0 and answer.completion_tokens == 0
            assert answer.price == Decimal("0") and answer.currency == "USD"
        # The reservations made before answering are released, as for any stopped answer.
        assert db.session.execute(db.select(db.func.count()).select_from(Reservation)).scalar() == 0
        assert scripted.requests == []  # the model was never asked

        # And the person may ask again at once (no 429 "answers being written").
        again = client.post(path, json={"text": "Who built the Zephyrine lighthouse?"})
        assert again.status_code == 201, again.json
