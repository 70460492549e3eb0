"""Answers that stay with their sources (issue 20): the citation line in the prompt, the notice
while the tiny demo model answers, and the mark on an answer that cites none of its sources."""
import json

import pytest

from tests.support.chat import FACT, add_file, make_provider, new_chat
from tests.support.model_servers import ScriptedServer, chunk, sse
from webapp.chat.models import Message
from webapp.chat.prompt import CITE_LINE, build_prompt
from webapp.chat.rendering import cites_a_source
from webapp.chat.retrieval import Source
from webapp.providers.interface import ProviderConfig
from webapp.providers.runtimes import get_provider

STREAM = {"Accept": "text/event-stream"}


def last_event(response):
    """``(event, data)`` of the last event of an SSE response."""
    block = response.get_data(as_text=True).strip().split("\n\n")[-1]
    fields = dict(line.split(": ", 1) for line in block.splitlines())
    return fields["event"], json.loads(fields["data"])


def _sources(*texts):
    return [Source(n=n, file_id=n, file_name=f"f{n}.txt", chunk_id=n, heading="", text=text, snippet="")
            for n, text in enumerate(texts, start=1)]


def _gateway(context_length=2048, max_tokens=64):
    # Counting an OpenAI-compatible prompt is an offline estimate: no server is asked.
    config = ProviderConfig(kind="openai", name="Gateway", model="m", base_url="http://127.0.0.1:9/v1",
                            context_length=context_length, max_tokens=max_tokens)
    return get_provider(config), config


# --- the prompt --------------------------------------------------------------------------

def test_the_prompt_asks_for_citations_after_the_question():
    provider, config = _gateway()
    built = build_prompt(provider, config, None, _sources("The catalyst is due every 90 days."), [],
                         "How often is the catalyst maintained?")
    last = built.messages[-1]
    assert last["role"] == "user"
    assert last["content"] == f"How often is the catalyst maintained?\n\n{CITE_LINE}"
    assert "[n]" in CITE_LINE and "sources above" in CITE_LINE
    # The sources come before the line that points back at them.
    assert "[1] f1.txt" in built.messages[0]["content"]


def test_no_sources_no_citation_line_and_the_line_counts_in_the_budget():
    provider, config = _gateway()
    bare = build_prompt(provider, config, None, [], [], "Anything?")
    assert bare.messages[-1]["content"] == "Anything?"
    without = build_prompt(provider, config, None, _sources("a fact"), [], "Q?", cite_line="")
    with_line = build_prompt(provider, config, None, _sources("a fact"), [], "Q?")
    assert without.messages[-1]["content"] == "Q?"
    assert with_line.prompt_tokens > without.prompt_tokens
    # History turns keep the question as it was asked; only the last turn carries the line.
    history = build_prompt(provider, config, None, _sources("a fact"), [("user", "Earlier?"), ("assistant", "Yes.")],
                           "Q?")
    assert [m["content"] for m in history.messages[1:3]] == ["Earlier?", "Yes."]


def test_the_citation_line_reaches_the_model_server(app, db, person, client):
    user, store = person
    add_file(db, store, "lighthouse.txt", FACT)
    with ScriptedServer(200, {"Content-Type": "text/event-stream"},
                        sse(chunk("Brandvik [1]."), chunk(None, "stop"), "[DONE]")) as server:
        make_provider(db, name="Scripted", kind="openai", base_url=server.url, model="m", max_tokens=20)
        chat_id = new_chat(client)
        event, end = last_event(client.post(f"/api/v1/s/research/chats/{chat_id}/messages/",
                                            json={"text": "Who built the Zephyrine lighthouse?"}, headers=STREAM))
        sent = server.requests[0]["json"]["messages"]
    assert event == "end"
    assert sent[-1] == {"role": "user", "content": f"Who built the Zephyrine lighthouse?\n\n{CITE_LINE}"}
    assert "Ottilie Brandvik" in sent[0]["content"]
    assert end["cites_nothing"] is False


# --- the demo model notice ------------------------------------------------------------

def test_the_chat_says_when_the_tiny_demo_model_answers(app, db, person, client):
    user, store = person
    # No provider yet: the first answer would create Local (SmolLM2), so the notice shows already.
    page = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="demo-model-note"' in page and "SmolLM2-135M" in page
    # Not an administrator: no link to pages they cannot open.
    assert 'data-testid="demo-model-link"' not in page and "An administrator can choose" in page
    make_provider(db)  # Local, SmolLM2
    chat_id = new_chat(client)
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)
    assert page.count('data-testid="demo-model-note"') == 1


def test_administrators_get_the_link_to_providers(app, db, client, create_user, create_store, login):
    create_store("research")
    make_provider(db)
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    page = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="demo-model-link"' in page and 'href="/admin/providers/"' in page
    assert client.get("/admin/providers/").status_code == 200


@pytest.mark.parametrize("fields", [
    {"name": "Gateway", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
    {"name": "Local 1.5B", "kind": "local", "model": "/srv/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"},
])
def test_no_notice_for_other_models(app, db, person, client, fields):
    make_provider(db, **fields)
    page = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="demo-model-note"' not in page
    assert "can be wrong: check the sources" in page


def test_a_store_with_its_own_model_has_no_notice_though_the_default_is_the_demo(app, db, person, client):
    from webapp.providers.service import assign_store_provider

    user, store = person
    make_provider(db)  # the default: Local, SmolLM2
    make_provider(db, name="Gateway", kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    from webapp.providers.service import find_provider, set_default
    set_default(find_provider("Local"))
    assign_store_provider(store, "Gateway")
    db.session.commit()
    assert 'data-testid="demo-model-note"' not in client.get("/s/research/chat/").get_data(as_text=True)


# --- answers that cite nothing ------------------------------------------------------

def test_cites_a_source_counts_only_citations_that_resolve():
    assert cites_a_source("Built in 1887 [2].", 3)
    assert not cites_a_source("Built in 1887.", 3)
    assert not cites_a_source("Built in 1887 [4].", 3)
    assert not cites_a_source("See [1](http://example.com).", 3)


def _answer(db, store, user, chat_id, text, status="complete", sources=True, model="m"):
    source = {"n": 1, "file_id": 1, "file_name": "f.txt", "chunk_id": 1, "heading": "", "snippet": "s"}
    message = Message(store_id=store.id, chat_id=chat_id, user_id=user.id, role="assistant", text=text,
                      status=status, sources=[source] if sources else [], provider_name="P", model=model)
    db.session.add(message)
    db.session.commit()
    return message


def test_an_answer_that_cites_nothing_is_marked_next_to_its_sources(app, db, person, client):
    user, store = person
    chat_id = new_chat(client)
    uncited = _answer(db, store, user, chat_id, "The catalyst is nickel on alumina.")
    cited = _answer(db, store, user, chat_id, "Every 90 days [1].")
    stopped = _answer(db, store, user, chat_id, "The cata", status="stopped")
    failed = _answer(db, store, user, chat_id, "", status="failed")
    no_knowledge = _answer(db, store, user, chat_id, "No knowledge matched.", sources=False, model="")
    page = client.get(f"/s/research/chat/{chat_id}").get_data(as_text=True)

    # Each message's markup, up to the next message.
    blocks = {int(part.split('"', 1)[0]): part for part in page.split('data-message-id="')[1:]}

    def block(message):
        return blocks[message.id]

    assert 'data-testid="cites-nothing"' in block(uncited)
    assert 'data-testid="cites-nothing"' in block(stopped)
    for message in (cited, failed, no_knowledge):
        assert 'data-testid="cites-nothing"' not in block(message)
    items = {m["id"]: m for m in client.get(f"/api/v1/s/research/chats/{chat_id}/messages/").json["items"]}
    assert items[uncited.id]["cites_nothing"] is True and items[cited.id]["cites_nothing"] is False
