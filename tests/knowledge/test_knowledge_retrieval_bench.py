"""The retrieval test bench of a store: test questions by API and page, runs with Recall@5 and MRR@10
per ranking and their history, and ``flask knowledge eval`` for deploy pipelines."""
import hashlib

import pytest

from tests.support.client import csrf_token, post_form
from tests.support.database import counting_queries
from webapp.knowledge.embedding import queue_embedding
from webapp.knowledge.models import READY, KnowledgeChunk, KnowledgeFile, RetrievalQuestion, RetrievalRun
from webapp.knowledge.storage import FileStorage

API = "/api/v1/s/research/retrieval"
PROTEIN = "Adults need about 0.8 grams of protein per kilogram of body weight each day."
TRAIN = "The night train to Vienna leaves platform nine at 22:40 and arrives at 07:15."


@pytest.fixture
def store(create_store):
    return create_store("research", embeddings_off=False)


@pytest.fixture
def files(app, db, store, run_jobs):
    """Two one-chunk files of the store, embedded."""
    made = {}
    for name, text in (("nutrition.txt", PROTEIN), ("travel.txt", TRAIN)):
        digest = hashlib.sha256(name.encode()).hexdigest()
        file = KnowledgeFile(store=store, name=name, content_type="text/plain", size=1, sha256=digest,
                             storage_key=FileStorage.key_for(digest), status=READY, progress=100, chunk_count=1)
        db.session.add(file)
        db.session.flush()
        db.session.add(KnowledgeChunk(store_id=store.id, file_id=file.id, ordinal=0, heading="", text=text,
                                      token_count=12))
        db.session.flush()
        queue_embedding(file, store)
        db.session.commit()
        made[name] = file.id
    run_jobs()
    return made


@pytest.fixture
def admin(client, login, create_user):
    login(client, create_user("boss", is_admin=True))
    return client


def test_questions_by_api_runs_and_history(app, db, admin, store, files, create_store):
    other = create_store("elsewhere")
    token = {"X-CSRFToken": csrf_token(admin)}
    by_id = admin.post(f"{API}/questions/", json={"question": "How much meat should a grown-up eat?",
                                                  "file_id": files["nutrition.txt"]}, headers=token)
    assert by_id.status_code == 201, by_id.json
    by_name = admin.post(f"{API}/questions/", json={"question": "When does the night train to Vienna leave?",
                                                    "file": "travel.txt"}, headers=token)
    assert by_name.status_code == 201 and by_name.json["question"]["file_id"] == files["travel.txt"]
    for body, field in (({"question": " ", "file_id": files["travel.txt"]}, "question"),
                        ({"question": "x", "file": "missing.txt"}, "file_id"),
                        ({"question": "x", "file_id": 2**30}, "file_id")):
        refused = admin.post(f"{API}/questions/", json=body, headers=token)
        assert refused.status_code == 422 and field in refused.json["fields"], refused.json
    assert admin.post(f"{API}/questions/", json={"question": "x", "file_id": files["travel.txt"], "extra": 1},
                      headers=token).status_code == 422
    assert len(admin.get(f"{API}/questions/").json["items"]) == 2

    run = admin.post(f"{API}/runs/", headers=token)
    assert run.status_code == 201, run.json
    metrics = run.json["run"]["metrics"]
    # The paraphrase shares no word with its passage: full text misses it, vectors and hybrid find it.
    assert metrics["fulltext"] == {"recall_at_5": 0.5, "mrr_at_10": 0.5}
    assert metrics["vectors"]["recall_at_5"] == 1.0 and metrics["hybrid"]["recall_at_5"] == 1.0
    ranks = {r["question"]: r["ranks"] for r in run.json["run"]["results"]}
    assert ranks["How much meat should a grown-up eat?"]["fulltext"] is None
    assert ranks["How much meat should a grown-up eat?"]["hybrid"] == 1
    assert admin.post(f"{API}/runs/", headers=token).status_code == 201
    assert [r["id"] for r in admin.get(f"{API}/runs/").json["items"]] == sorted(
        (r.id for r in db.session.execute(db.select(RetrievalRun)).scalars()), reverse=True)

    question_id = by_id.json["question"]["id"]
    assert admin.delete(f"/api/v1/s/elsewhere/retrieval/questions/{question_id}", headers=token).status_code == 404
    assert admin.delete(f"{API}/questions/{question_id}", headers=token).status_code == 200
    assert db.session.get(RetrievalQuestion, question_id) is None
    assert other.id  # the other store was never touched
    assert admin.post("/api/v1/s/elsewhere/retrieval/runs/", headers=token).status_code == 422  # no questions


def test_members_cannot_use_the_bench(app, client, login, create_user, grant, store):
    member = create_user("member")
    grant(member, store)
    login(client, member)
    assert client.get(f"{API}/questions/").status_code == 403
    assert client.get("/s/research/knowledge/retrieval/").status_code == 403


def test_the_retrieval_page_adds_runs_and_shows_the_rankings_side_by_side(app, db, admin, store, files):
    page = admin.get("/s/research/knowledge/retrieval/")
    assert page.status_code == 200 and "No run yet" in page.get_data(as_text=True)
    added = post_form(admin, "/s/research/knowledge/retrieval/questions/",
                      {"question": "How much meat should a grown-up eat?", "file_id": str(files["nutrition.txt"])})
    assert added.status_code == 302
    refused = post_form(admin, "/s/research/knowledge/retrieval/questions/", {"question": "", "file_id": "x"},
                        follow_redirects=True)
    assert "Write the question." in refused.get_data(as_text=True)
    assert post_form(admin, "/s/research/knowledge/retrieval/run", {}).status_code == 302
    html = admin.get("/s/research/knowledge/retrieval/").get_data(as_text=True)
    assert 'data-metric="fulltext-recall">0.00' in html and 'data-metric="hybrid-recall">1.00' in html
    assert "How much meat should a grown-up eat?" in html


def test_flask_knowledge_eval_exits_1_below_the_threshold(app, db, store, files):
    db.session.add(RetrievalQuestion(store_id=store.id, question="When does the night train to Vienna leave?",
                                     file_id=files["travel.txt"]))
    db.session.add(RetrievalQuestion(store_id=store.id, question="Who won the 1966 football world cup?",
                                     file_id=files["nutrition.txt"]))  # nothing answers it
    db.session.commit()
    runner = app.test_cli_runner()
    passed = runner.invoke(args=["knowledge", "eval", "research", "--min-recall", "0.5"])
    assert passed.exit_code == 0, passed.output
    assert "hybrid" in passed.output and "0.50" in passed.output
    failed = runner.invoke(args=["knowledge", "eval", "research", "--min-recall", "0.9"])
    assert failed.exit_code == 1 and "below 0.90" in failed.output
    assert runner.invoke(args=["knowledge", "eval", "nowhere"]).exit_code != 0
    assert db.session.execute(db.select(db.func.count()).select_from(RetrievalRun)).scalar_one() == 2


def test_the_page_costs_the_same_statements_with_more_questions_on_more_files(app, db, admin, store, monkeypatch):
    """Each question shows its file's name: read with the questions, never once per question
    (also for files older than the newest ones the page offers in its file menu)."""
    from webapp.knowledge import views
    monkeypatch.setattr(views, "QUESTION_FILE_CHOICES", 1)
    def statements_with(count):
        for _ in range(count):
            n = db.session.query(KnowledgeFile).count()
            digest = hashlib.sha256(f"file {n}".encode()).hexdigest()
            file = KnowledgeFile(store=store, name=f"file-{n}.txt", content_type="text/plain", size=1,
                                 sha256=digest, storage_key=FileStorage.key_for(digest), status=READY,
                                 progress=100, chunk_count=0)
            db.session.add(file)
            db.session.flush()
            db.session.add(RetrievalQuestion(store_id=store.id, question=f"What is in file {n}?", file_id=file.id))
        db.session.commit()
        admin.get("/s/research/knowledge/retrieval/")
        with counting_queries(db.engine) as statements:
            page = admin.get("/s/research/knowledge/retrieval/")
        assert page.status_code == 200
        return len(statements)

    assert statements_with(2) == statements_with(8)
