"""Chat: providers (admin API), chats, answers streamed with sources, usage and exact price.

Models run for real: the local SmolLM2 in-process, and llama.cpp's OpenAI-compatible
server on loopback (``tests.support.model_servers``). Answers are kept to a few tokens.
"""
import json
import threading
from decimal import Decimal

import pytest

from tests.support.chat import FACT, add_file, make_provider, new_chat
from tests.support.client import csrf_token, post_form
from tests.support.database import counting_queries
from tests.support.model_servers import SERVER_KEY, ScriptedServer, chunk, free_port, sse
from webapp.chat import charging, rollup
from webapp.chat.errors import AnswerRefused
from webapp.chat.models import Chat, Message
from webapp.chat.rendering import render_answer
from webapp.core.clock import utcnow
from webapp.providers.models import Provider
from webapp.providers.pricing import answer_price

# --- helpers -----------------------------------------------------------------------

def events_of(response):
    """``[(event, data), ...]`` of an SSE response body."""
    out = []
    for block in response.get_data(as_text=True).split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if name:
            out.append((name, data))
    return out


STREAM = {"Accept": "text/event-stream"}


def assert_rollup_equals_answers(db, answers):
    """The usage rollup holds exactly the final answers: ``answers`` of them, with their tokens and cost,
    summed here straight from the messages (not by the code that keeps the rollup)."""
    from webapp.chat.models import UsageDay

    final = db.select(db.func.count(), db.func.coalesce(db.func.sum(Message.prompt_tokens), 0),
                      db.func.coalesce(db.func.sum(Message.completion_tokens), 0),
                      db.func.coalesce(db.func.sum(Message.price), 0)).where(
        Message.role == "assistant", Message.status != "streaming")
    rolled = db.select(db.func.coalesce(db.func.sum(UsageDay.answers), 0),
                       db.func.coalesce(db.func.sum(UsageDay.prompt_tokens), 0),
                       db.func.coalesce(db.func.sum(UsageDay.completion_tokens), 0),
                       db.func.coalesce(db.func.sum(UsageDay.cost), 0))
    want = tuple(db.session.execute(final).one())
    have = tuple(db.session.execute(rolled).one())
    assert (int(want[0]), int(want[1]), int(want[2]), Decimal(want[3])) == (
        int(have[0]), int(have[1]), int(have[2]), Decimal(have[3]))
    assert int(want[0]) == answers


# --- price -------------------------------------------------------------------------

def test_price_is_exact_decimal_arithmetic():
    assert answer_price(1234, 567, Decimal("0.15"), Decimal("0.60")) == Decimal("0.00052530")
    assert str(answer_price(1234, 567, "0.15", "0.60")) == "0.00052530"
    assert answer_price(0, 0, "3", "15") == Decimal("0E-8")
    # Half-up at the 8th place, never binary floats.
    assert answer_price(1, 0, "0.005", "0") == Decimal("0.00000001")


# --- providers ---------------------------------------------------------------------

def test_provider_api_keeps_the_key_write_only(app, db, client, create_user, login):
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    created = client.post("/api/v1/providers/", json={
        "name": "Gateway", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "gpt-x",
        "api_key": "sk-very-secret-1234", "input_price": "0.15", "output_price": "0.60", "currency": "USD"})
    assert created.status_code == 201, created.json
    body = created.get_data(as_text=True)
    assert "sk-very-secret" not in body
    provider = created.json["provider"]
    assert provider["has_api_key"] is True and provider["input_price"] == "0.15000000"
    assert provider["is_default"] is True  # the first provider becomes the default
    row = db.session.get(Provider, provider["id"])
    assert row.api_key_encrypted and "sk-very-secret" not in row.api_key_encrypted

    # PATCH without a key keeps it; the list never shows it.
    changed = client.patch(f"/api/v1/providers/{row.id}", json={"output_price": "0.75"})
    assert changed.status_code == 200 and changed.json["provider"]["has_api_key"] is True
    from webapp.providers.service import config_for
    db.session.expire_all()
    assert config_for(db.session.get(Provider, row.id)).api_key == "sk-very-secret-1234"
    listing = client.get("/api/v1/providers/")
    assert listing.status_code == 200 and "sk-very-secret" not in listing.get_data(as_text=True)
    assert [p["name"] for p in listing.json["items"]] == ["Gateway"]
    # The admin page never renders it either.
    page = client.get(f"/admin/providers/{row.id}/edit")
    assert page.status_code == 200 and "sk-very-secret" not in page.get_data(as_text=True)
    assert "leave blank to keep" in page.get_data(as_text=True)

    # Floats are refused (exact decimals only), as are unknown fields.
    assert client.patch(f"/api/v1/providers/{row.id}", json={"input_price": 0.1}).status_code == 422
    assert client.patch(f"/api/v1/providers/{row.id}", json={"input_price": "abc"}).status_code == 422
    assert client.delete(f"/api/v1/providers/{row.id}").status_code == 200
    assert db.session.get(Provider, row.id) is None


def test_provider_admin_needs_an_administrator(app, person, client):
    assert client.get("/api/v1/providers/").status_code == 403
    assert client.post("/api/v1/providers/", json={"name": "x"}).status_code == 403
    assert client.get("/admin/providers/").status_code == 403


def test_provider_pages_create_edit_and_delete(app, db, client, create_user, login):
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    response = post_form(client, "/admin/providers/new", {
        "name": "Remote", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key": "sk-abc-999",
        "context_length": "4096", "max_tokens": "100", "timeout": "30", "input_price": "0.15",
        "output_price": "0.6", "currency": "USD"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    provider = db.session.execute(db.select(Provider)).scalar_one()
    assert provider.input_price == Decimal("0.15") and provider.is_default
    listing = client.get("/admin/providers/").get_data(as_text=True)
    assert "Remote" in listing and "sk-abc-999" not in listing
    response = post_form(client, f"/admin/providers/{provider.id}/edit", {
        "name": "Remote", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m2", "api_key": "",
        "context_length": "4096", "max_tokens": "100", "timeout": "30", "input_price": "0.15",
        "output_price": "0.6", "currency": "USD"})
    assert response.status_code == 302
    db.session.expire_all()
    assert provider.model == "m2" and provider.has_api_key  # blank kept the key
    assert post_form(client, f"/admin/providers/{provider.id}/delete").status_code == 302
    assert db.session.execute(db.select(Provider)).scalar_one_or_none() is None


def test_store_picks_its_provider_through_the_stores_api(app, db, client, create_user, create_store, login):
    store = create_store("research")
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    remote = make_provider(db, name="Remote", kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    response = client.patch("/api/v1/s/research/", json={"model_provider": "Remote"})
    assert response.status_code == 200, response.json
    db.session.expire_all()
    assert store.provider_id == remote.id
    refused = client.patch("/api/v1/s/research/", json={"model_provider": "nope"})
    assert refused.status_code == 422 and "model_provider" in refused.json["fields"]
    assert client.patch("/api/v1/s/research/", json={"model_provider": "local"}).status_code == 200
    db.session.expire_all()
    assert store.provider_id is None


# --- chats -------------------------------------------------------------------------

def test_chats_crud_search_and_pagination(app, db, person, client):
    ids = [new_chat(client) for _ in range(3)]
    assert client.patch(f"/api/v1/s/research/chats/{ids[0]}", json={"title": "Lighthouse facts"}).status_code == 200
    first = client.get("/api/v1/s/research/chats/?limit=2")
    assert first.status_code == 200 and len(first.json["items"]) == 2 and first.json["next"]
    second = client.get(f"/api/v1/s/research/chats/?limit=2&cursor={first.json['next']}")
    assert len(second.json["items"]) == 1 and second.json["next"] is None
    found = client.get("/api/v1/s/research/chats/?q=house")
    assert [c["id"] for c in found.json["items"]] == [ids[0]]
    assert client.delete(f"/api/v1/s/research/chats/{ids[1]}").status_code == 200
    assert client.get(f"/api/v1/s/research/chats/{ids[1]}").status_code == 404


def test_chats_are_their_owners(app, db, person, client, create_user, grant, login):
    user, store = person
    chat_id = new_chat(client)
    other = create_user("other")
    grant(other, store)
    other_client = app.test_client()
    login(other_client, other)
    other_client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(other_client)
    assert other_client.get(f"/api/v1/s/research/chats/{chat_id}").status_code == 404
    assert other_client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "hi"}).status_code == 404
    assert other_client.get("/api/v1/s/research/chats/").json["items"] == []
    # An administrator of the store may read it (and the page says so), not write in it.
    admin = create_user("boss", is_admin=True)
    admin_client = app.test_client()
    login(admin_client, admin)
    admin_client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(admin_client)
    assert admin_client.get(f"/api/v1/s/research/chats/{chat_id}").status_code == 200
    assert admin_client.get("/api/v1/s/research/chats/?all=1").json["items"][0]["id"] == chat_id
    page = admin_client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert "because you administer this store" in page
    assert admin_client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "x"}).status_code == 404


def test_no_matching_knowledge_answers_without_the_model(app, db, person, client):
    chat_id = new_chat(client)
    response = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "What about quasars?"})
    assert response.status_code == 201, response.json
    assert response.json["no_matching_knowledge"] is True
    assert "nothing in this store's knowledge" in response.json["text"]
    assert response.json["usage"] == {"prompt": 0, "completion": 0, "estimated": False}
    assert db.session.execute(db.select(Provider)).first() is None  # no model was needed
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert "no matching knowledge" in page
    chat = db.session.get(Chat, chat_id)
    assert chat.title == "What about quasars?"
    assert_rollup_equals_answers(db, 1)


def test_refused_answer_keeps_only_the_question(app, db, person, client, monkeypatch):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    make_provider(db)
    chat_id = new_chat(client)

    def refuse(*args):
        raise AnswerRefused("Your balance is too low for this answer.")

    monkeypatch.setattr(charging, "before_answer", refuse)
    response = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "Who built the Zephyrine lighthouse?"},
                           headers=STREAM)
    events = events_of(response)
    assert events == [("error", {"error": "Your balance is too low for this answer.", "refused": True, "message_id": None})]
    rows = db.session.execute(db.select(Message.role)).scalars().all()
    assert rows == ["user"]
    as_json = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "Who built the Zephyrine lighthouse?"})
    assert as_json.status_code == 402 and as_json.json["message"] == "Your balance is too low for this answer."


# --- grounded answers from real models ---------------------------------------------------

def test_local_model_streams_a_grounded_answer_with_its_source(app, db, person, client, monkeypatch):
    user, store = person
    file = add_file(db, store, "lighthouse.md", FACT, heading="History")
    make_provider(db)
    seen = {}

    def remember(reservation, message):
        seen["message"] = (message.id, message.status, message.completion_tokens, str(message.price))

    monkeypatch.setattr(charging, "after_answer", remember)
    chat_id = new_chat(client)
    response = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                           json={"text": "Who built the Zephyrine lighthouse?"}, headers=STREAM)
    assert response.mimetype == "text/event-stream"
    events = events_of(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[1] == "sources" and names[-1] == "end" and "delta" in names
    sources = events[1][1]["sources"]
    assert sources[0]["n"] == 1 and sources[0]["file_id"] == file.id and sources[0]["file_name"] == "lighthouse.md"
    assert sources[0]["heading"] == "History" and "<mark>" in sources[0]["snippet"]
    end = events[-1][1]
    text = "".join(data["text"] for name, data in events if name == "delta")
    answer = db.session.get(Message, end["message_id"])
    assert answer.status in ("complete", "stopped") or answer.status == "complete"
    assert 0 < answer.completion_tokens <= 12 and answer.prompt_tokens > 50 and not answer.usage_estimated
    assert end["usage"] == {"prompt": answer.prompt_tokens, "completion": answer.completion_tokens, "estimated": False}
    assert end["price"] == "0.00000000" and end["currency"] == "USD"
    assert answer.text.strip() and text.startswith(answer.text[:5])
    assert answer.latency_ms is not None and answer.ttft_ms is not None and answer.ttft_ms <= answer.latency_ms
    assert answer.provider_name == "Local" and answer.model == "SmolLM2-135M-Instruct"
    assert len(answer.charge_key) == 36
    assert seen["message"][0] == answer.id  # after_answer ran with the saved answer


def test_a_busy_local_model_makes_the_answer_wait(app, db, person, client):
    from webapp.providers.local_model import get_local_model
    from webapp.providers.tokens import bundled_model_path

    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    make_provider(db, max_tokens=4)
    model = get_local_model(bundled_model_path(), 2048)
    model.lock.acquire()  # someone else's answer is being generated
    threading.Timer(1.0, model.lock.release).start()
    chat_id = new_chat(client)
    events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                   json={"text": "Who built the Zephyrine lighthouse?"}, headers=STREAM))
    names = [name for name, _ in events]
    assert names.index("waiting") < names.index("delta") and names[-1] == "end"


def test_retrieval_is_confined_to_the_store(app, db, person, create_store):
    from webapp.chat.retrieval import retrieve

    user, store = person
    other = create_store("elsewhere")
    add_file(db, other, "secret.txt", FACT)
    assert retrieve(store, "Zephyrine lighthouse", 5) == []
    add_file(db, store, "mine.txt", "The Zephyrine lighthouse is painted red.")
    hits = retrieve(store, "Zephyrine lighthouse", 5)
    assert [h.file_name for h in hits] == ["mine.txt"] and hits[0].n == 1


def test_stop_mid_stream_saves_the_partial_answer_with_usage(app, db, person, client):
    user, store = person
    add_file(db, store, "numbers.txt", "Counting: one, two, three, four, five, six, seven, eight, nine, ten.")
    make_provider(db, max_tokens=200)
    chat_id = new_chat(client)
    response = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                           json={"text": "Count from 1 to 100 with numbers: counting"}, headers=STREAM, buffered=False)
    body = iter(response.response)
    buffer = ""
    message_id = None
    deltas = 0
    for piece in body:
        buffer += piece.decode() if isinstance(piece, bytes) else piece
        if message_id is None and '"message_id": ' in buffer:
            message_id = json.loads(buffer.split("data: ", 1)[1].split("\n", 1)[0])["message_id"]
        deltas = buffer.count("event: delta")
        if deltas >= 3:
            break
    # The stop arrives as another request, on another thread (as under gunicorn's gthread).
    stops = []
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(cookie_name).value

    def send_stop():
        with app.app_context():
            other = app.test_client()
            other.set_cookie(cookie_name, cookie)
            other.environ_base.update(client.environ_base)
            stops.append(other.post(f"/api/v1/s/research/chats/{chat_id}/messages/{message_id}/stop", json={}))

    thread = threading.Thread(target=send_stop)
    thread.start()
    thread.join(30)
    assert stops[0].status_code == 200 and stops[0].json["stopping"] is True
    for piece in body:
        buffer += piece.decode() if isinstance(piece, bytes) else piece
    response.close()
    end = [json.loads(b.split("data: ", 1)[1]) for b in buffer.split("\n\n") if b.startswith("event: end")][0]
    assert end["status"] == "stopped"
    db.session.expire_all()
    answer = db.session.get(Message, message_id)
    assert answer.status == "stopped" and answer.text
    assert 3 <= answer.completion_tokens < 200 and answer.prompt_tokens > 0
    assert_rollup_equals_answers(db, 1)


def test_client_disconnect_stops_and_saves(app, db, person, client):
    user, store = person
    add_file(db, store, "numbers.txt", "Counting: one, two, three, four, five, six, seven, eight, nine, ten.")
    make_provider(db, max_tokens=200)
    chat_id = new_chat(client)
    response = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                           json={"text": "Count from 1 to 100 with numbers: counting"}, headers=STREAM, buffered=False)
    buffer = ""
    for piece in response.response:
        buffer += piece.decode() if isinstance(piece, bytes) else piece
        if buffer.count("event: delta") >= 2:
            break
    response.close()  # the browser went away
    db.session.expire_all()
    answer = db.session.execute(db.select(Message).where(Message.role == "assistant")).scalar_one()
    assert answer.status == "stopped" and answer.completion_tokens >= 2 and answer.text
    assert_rollup_equals_answers(db, 1)


def test_regenerate_and_edit_and_resend(app, db, person, client):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    make_provider(db, max_tokens=6)
    chat_id = new_chat(client)
    first = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "Who built the lighthouse?"})
    assert first.status_code == 201
    again = client.post(f"/api/v1/s/research/chats/{chat_id}/regenerate")
    assert again.status_code == 201 and again.json["status"] in ("complete", "stopped")
    visible = db.select(Message.role).where(Message.deleted_at.is_(None)).order_by(Message.id)
    assert db.session.execute(visible).scalars().all() == ["user", "assistant"]
    # The replaced answer is hidden, not gone: its tokens were consumed and stay in usage.
    assert db.session.execute(db.select(db.func.count()).where(Message.role == "assistant")).scalar() == 2
    second = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "How far is its lamp seen?"})
    assert second.status_code == 201
    question_id = first.json["question_id"]
    resent = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/{question_id}/resend",
                         json={"text": "When was the Zephyrine lighthouse built?"})
    assert resent.status_code == 201
    rows = db.session.execute(db.select(Message.role, Message.text).where(Message.deleted_at.is_(None))
                              .order_by(Message.id)).all()
    assert [r.role for r in rows] == ["user", "assistant"]
    assert rows[0].text == "When was the Zephyrine lighthouse built?"
    listing = client.get(f"/api/v1/s/research/chats/{chat_id}/messages/")
    assert [m["role"] for m in listing.json["items"]] == ["user", "assistant"]
    # Replaced and dropped answers stay in the rollup: four answers ran.
    assert_rollup_equals_answers(db, 4)


# --- the OpenAI-compatible provider over loopback ----------------------------------------

def test_openai_compatible_streaming_without_usage_is_estimated_and_priced(app, db, person, client, llama_server):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    make_provider(db, name="Llama server", kind="openai", base_url=llama_server.url, model="smollm2",
                  api_key=SERVER_KEY, input_price="0.15", output_price="0.60", max_tokens=10)
    chat_id = new_chat(client)
    events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                   json={"text": "Who built the Zephyrine lighthouse?"}, headers=STREAM))
    end = events[-1][1]
    assert events[-1][0] == "end", events[-3:]
    answer = db.session.get(Message, end["message_id"])
    assert answer.usage_estimated is True and end["usage"]["estimated"] is True
    assert answer.prompt_tokens > 0 and answer.completion_tokens > 0
    assert answer.price == answer_price(answer.prompt_tokens, answer.completion_tokens, "0.15", "0.60")
    assert end["price"] == str(answer.price)
    # Not streamed: the server's own usage, exact.
    done = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "Who built the Zephyrine lighthouse?"})
    assert done.status_code == 201 and done.json["status"] == "complete"
    assert done.json["usage"]["estimated"] is False and done.json["usage"]["completion"] > 0


def test_openai_compatible_failures_end_the_answer_with_a_message(app, db, person, client, llama_server):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    provider = make_provider(db, name="Down", kind="openai", base_url=f"http://127.0.0.1:{free_port()}/v1",
                             model="smollm2", max_tokens=8, timeout=5)
    chat_id = new_chat(client)
    events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                   json={"text": "Zephyrine lighthouse?"}, headers=STREAM))
    assert events[-1][0] == "error" and "cannot be reached" in events[-1][1]["error"]
    assert events[-1][1]["usage"] == {"prompt": 0, "completion": 0, "estimated": False}

    # A wrong key: 401 from the real server.
    provider.base_url, provider.api_key_encrypted = llama_server.url, ""
    from webapp.providers.service import update_provider
    update_provider(provider, {}, api_key="sk-wrong")
    db.session.commit()
    events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                   json={"text": "Zephyrine lighthouse?"}, headers=STREAM))
    assert events[-1][0] == "error" and "refused the API key" in events[-1][1]["error"]
    assert "sk-wrong" not in json.dumps(events)

    # A cut stream keeps the partial text, marks it, counts what was consumed.
    body = sse(chunk("Brandvik"), chunk(" built"))
    with ScriptedServer(200, {"Content-Type": "text/event-stream"}, body) as scripted:
        provider.base_url = scripted.url
        db.session.commit()
        events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                       json={"text": "Zephyrine lighthouse?"}, headers=STREAM))
    final = events[-1][1]
    assert events[-1][0] == "error" and final["status"] == "failed" and final["text"] == "Brandvik built"
    assert final["usage"]["estimated"] is True and final["usage"]["completion"] > 0
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert "Incomplete answer." in page
    assert_rollup_equals_answers(db, 3)  # failed answers count: their tokens were consumed

    # A server that accepts the connection and never answers: the provider's timeout.
    from tests.support.model_servers import SilentServer
    with SilentServer() as silent:
        provider.base_url, provider.timeout = silent.url, 1
        db.session.commit()
        events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                       json={"text": "Zephyrine lighthouse?"}, headers=STREAM))
    assert events[-1][0] == "error" and "did not answer within 1 s" in events[-1][1]["error"]

    # 429 with a server's retry hint.
    with ScriptedServer(429, {"Content-Type": "application/json", "Retry-After": "7"},
                        b'{"error": {"message": "slow down"}}') as scripted:
        provider.base_url = scripted.url
        db.session.commit()
        events = events_of(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                       json={"text": "Zephyrine lighthouse?"}, headers=STREAM))
    assert events[-1][0] == "error" and "429" in events[-1][1]["error"]


@pytest.mark.parametrize("app_config", [{"CHAT_MAX_STREAMS_PER_USER": 1}])
def test_streams_per_user_are_capped(app, db, person, client):
    user, store = person
    chat_id = new_chat(client)
    chat = db.session.get(Chat, chat_id)
    db.session.add(Message(store_id=store.id, chat_id=chat_id, user_id=user.id, role="assistant", status="streaming"))
    db.session.commit()
    refused = client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "another?"})
    assert refused.status_code == 429 and "answers being written" in refused.json["message"]
    assert chat is not None


# --- rendering and pages -----------------------------------------------------------

def test_answers_render_as_sanitised_markdown_with_resolved_citations():
    html = str(render_answer("See [1] and [9]. <script>alert(1)</script> <img src=x onerror=alert(1)> "
                             "[x](javascript:alert(1))\n\n```python\nprint(1)\n```", 2, "src-5"))
    assert '<a href="#src-5-1"' in html and "[9]" not in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert 'class="language-python"' in html and '<span class="nb">print</span>' in html


def test_chat_pages_render(app, db, person, client):
    user, store = person
    chat_id = new_chat(client)
    client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": "<b>bold</b> question"})
    workspace = client.get("/s/research/chat/")
    assert workspace.status_code == 200 and 'data-testid="composer"' in workspace.get_data(as_text=True)
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt; question" in page and "<b>bold</b>" not in page
    nav = client.get("/s/research/").get_data(as_text=True)
    assert 'data-testid="nav-chat"' in nav and 'data-testid="nav-usage"' in nav


def test_chat_list_and_messages_use_a_fixed_number_of_queries(frozen_clock, app, db, person, client):
    user, store = person
    counts = {}
    for n in (2, 12):
        while db.session.execute(db.select(db.func.count()).select_from(Chat)).scalar() < n:
            chat_id = new_chat(client)
            for i in range(3):
                client.post(f"/api/v1/s/research/chats/{chat_id}/messages/", json={"text": f"question {i}"})
        client.get(f"/s/research/chat/{chat_id}")  # the session's own bookkeeping settles
        with counting_queries(db.engine) as api_list:
            assert client.get("/api/v1/s/research/chats/").status_code == 200
        with counting_queries(db.engine) as api_messages:
            assert client.get(f"/api/v1/s/research/chats/{chat_id}/messages/").status_code == 200
        with counting_queries(db.engine) as page:
            assert client.get(f"/s/research/chat/{chat_id}").status_code == 200
        counts[n] = (len(api_list), len(api_messages), len(page))
    assert counts[2] == counts[12], counts


# --- usage -------------------------------------------------------------------------

def test_usage_page_totals_groups_and_csv(app, db, person, client, create_user, login):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    chat_id = new_chat(client)
    chat = db.session.get(Chat, chat_id)
    for prompt, completion in ((1234, 567), (1000, 0)):
        answer = Message(store_id=store.id, chat_id=chat.id, user_id=user.id, role="assistant", text="x",
                         status="complete", provider_name="Gateway", model="m", prompt_tokens=prompt,
                         completion_tokens=completion, currency="USD",
                         price=answer_price(prompt, completion, "0.15", "0.60"), created_at=utcnow())
        db.session.add(answer)
        db.session.flush()
        rollup.record(answer)  # as the answer's own transaction does
    db.session.commit()
    page = client.get("/s/research/usage/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "0.0006753" in text and 'data-testid="usage-chart"' in text
    csv_text = client.get("/s/research/usage/?format=csv&group=provider").get_data(as_text=True)
    assert csv_text.splitlines() == ["provider,answers,prompt_tokens,completion_tokens,price,currency",
                                     "Gateway,2,2234,567,0.00067530,USD"]
    # Nobody else's answers count as "mine"; a store admin sees everyone's, by user.
    admin = create_user("boss", is_admin=True)
    admin_client = app.test_client()
    login(admin_client, admin)
    mine = admin_client.get("/s/research/usage/?scope=mine&format=csv").get_data(as_text=True)
    assert len(mine.splitlines()) == 1
    by_user = admin_client.get("/s/research/usage/?scope=store&group=user&format=csv").get_data(as_text=True)
    assert "asker,2,2234,567,0.00067530,USD" in by_user


def test_init_provider_command_creates_the_default_local_provider(app, db):
    result = app.test_cli_runner().invoke(args=["chat", "init-provider"])
    assert result.exit_code == 0, result.output
    assert "Default provider: Local (local, SmolLM2-135M-Instruct)" in result.output
    provider = db.session.execute(db.select(Provider)).scalar_one()
    assert provider.is_default and provider.input_price == 0 and provider.output_price == 0
    # Running it again changes nothing.
    assert app.test_cli_runner().invoke(args=["chat", "init-provider"]).exit_code == 0
    assert db.session.execute(db.select(db.func.count()).select_from(Provider)).scalar() == 1


def test_usage_page_uses_a_fixed_number_of_queries(frozen_clock, app, db, person, client):
    user, store = person
    chat_id = new_chat(client)
    counts = []
    for n in (2, 40):
        while db.session.execute(db.select(db.func.count()).where(Message.role == "assistant")).scalar() < n:
            answer = Message(store_id=store.id, chat_id=chat_id, user_id=user.id, role="assistant", text="x",
                             status="complete", provider_name=f"P{n % 3}", model="m", prompt_tokens=10,
                             completion_tokens=5, price=Decimal("0.00000150"), currency="USD", created_at=utcnow())
            db.session.add(answer)
            db.session.flush()
            rollup.record(answer)
            db.session.commit()
        client.get("/s/research/usage/")
        with counting_queries(db.engine) as queries:
            assert client.get("/s/research/usage/?group=provider").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_long_chat_pages_back_through_earlier_messages(app, db, person, client):
    user, store = person
    chat_id = new_chat(client)
    db.session.add_all([Message(store_id=store.id, chat_id=chat_id, user_id=user.id, role="user", text=f"question {i}")
                        for i in range(60)])
    db.session.commit()
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert "question 59" in page and "question 9<" not in page and 'data-testid="earlier-messages"' in page
    first_shown = db.session.execute(db.select(Message.id).where(Message.text == "question 10")).scalar()
    earlier = client.get(f"/s/research/chat/{chat_id}?before={first_shown}").get_data(as_text=True)
    assert "question 9<" in earlier and "question 0<" in earlier and "question 10<" not in earlier
