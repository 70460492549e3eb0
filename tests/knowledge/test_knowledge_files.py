"""Knowledge files end to end: upload (API and page), background indexing, status, reindex, delete, download.

Every supported type is built here from code (bench/datasets/knowledge_files.py), uploaded
through the real API, indexed by the real job runner, and found by search.
"""
import io
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from bench.datasets.knowledge_files import (
    make_docx,
    make_encrypted_pdf,
    make_image_only_pdf,
    make_pdf,
    make_png,
    make_zip_bomb_docx,
)
from tests.support.client import csrf_token
from tests.support.database import counting_queries
from webapp.core.clock import utcnow
from webapp.jobs import RetryLater
from webapp.jobs import jobqueue as queue
from webapp.jobs.models import Job
from webapp.knowledge import jobs as knowledge_jobs
from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile
from webapp.knowledge.search import search
from webapp.knowledge.storage import get_storage

API = "/api/v1/s/{store}/files/"


@pytest.fixture
def store(create_store):
    return create_store("research")


@pytest.fixture
def member(create_user, grant, store):
    user = create_user("member")
    grant(user, store)
    return user


@pytest.fixture
def signed_in(client, login, member):
    login(client, member)
    return client


def upload(client, files, store="research", url=None, headers=None):
    """POST ``[(name, bytes), ...]`` as multipart field ``file`` with the session's CSRF token.

    Encoded in memory: the test client would spool a large body to a temporary
    file that stays open when the app answers 413 without reading it.
    """
    data = MultiDict([("file", FileStorage(io.BytesIO(content), filename=name)) for name, content in files])
    boundary, body = encode_multipart(data)
    headers = {"X-CSRFToken": csrf_token(client), "Accept": "application/json", **(headers or {})}
    return client.post(url or API.format(store=store), data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def build_docx(document):
    document.add_heading("Onboarding handbook", 1)
    document.add_paragraph("New starters collect their badge from the front desk on Monday.")
    document.add_heading("Equipment", 2)
    document.add_paragraph("Laptops are issued by the quartermaster in room 12.")


SUPPORTED = {
    "notes.txt": (b"The lighthouse keeper logs the weather at dawn.\n\nHe records the fog horn tests too.",
                  "lighthouse", "text/plain"),
    "guide.md": (b"# Guide\n\n## Brewing\n\nGrind the beans coarsely for the French press.\n",
                 "french press", "text/markdown"),
    "page.html": (b"<!doctype html><html><body><h1>Page</h1><p>The aquarium opens at nine.</p></body></html>",
                  "aquarium", "text/html"),
    "report.pdf": (make_pdf([["Quarterly report", "", "Revenue from the orchard grew by a third."]]),
                   "orchard", "application/pdf"),
    "handbook.docx": (make_docx(build_docx), "quartermaster",
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "table.csv": (b"city,landmark\nParis,Eiffel tower\nRome,Colosseum\n", "colosseum", "text/csv"),
}


def test_every_supported_type_is_uploaded_indexed_and_found(app, db, signed_in, store, run_jobs):
    response = upload(signed_in, [(name, content) for name, (content, _, _) in SUPPORTED.items()])
    assert response.status_code == 201, response.json
    items = {item["name"]: item for item in response.json["items"]}
    assert set(items) == set(SUPPORTED) and response.json["refused"] == []
    assert {item["status"] for item in items.values()} == {"queued"}
    assert run_jobs() == len(SUPPORTED)
    for name, (_, word, content_type) in SUPPORTED.items():
        file = db.session.get(KnowledgeFile, items[name]["id"])
        assert (file.status, file.progress, file.content_type) == ("ready", 100, content_type), (name, file.reason)
        assert file.chunk_count > 0
        hits = search(store, word)
        assert hits and hits[0].file_id == file.id, name
    heading = search(store, "quartermaster")[0].heading
    assert heading == "Onboarding handbook › Equipment"


def test_content_decides_the_type_not_the_name(app, db, signed_in, store, run_jobs):
    pdf = make_pdf([["A PDF pretending to be text, about walruses."]])
    response = upload(signed_in, [("notes.txt", pdf), ("photo.md", make_png())])
    assert response.status_code == 201
    [item] = response.json["items"]
    assert item["content_type"] == "application/pdf"
    [refused] = response.json["refused"]
    assert refused["name"] == "photo.md" and refused["error"] == "unsupported_file_type"
    assert "PNG image" in refused["message"]
    run_jobs()
    assert search(store, "walruses")[0].file_id == item["id"]


@pytest.mark.parametrize("name, content, error", [
    ("bomb.docx", make_zip_bomb_docx(uncompressed_mb=300), "suspicious_archive"),
    ("binary.txt", bytes(range(256)) * 64, "unsupported_file_type"),
    ("latin1.txt", "Café crème brûlée à la carte, déjà vu. ".encode("cp1252") * 40, "unsupported_encoding"),
])
def test_bad_files_are_refused_at_upload_and_nothing_else_is_affected(app, db, signed_in, store, run_jobs,
                                                                      name, content, error):
    good = upload(signed_in, [("good.txt", b"Penguins huddle for warmth.")])
    assert good.status_code == 201
    response = upload(signed_in, [(name, content)])
    assert response.status_code in (413, 415, 422) and response.json["error"] == error
    assert response.json["items"] == [] and response.json["refused"][0]["name"] == name
    assert response.json["message"].startswith("No file was added.")
    assert db.session.execute(sa.select(sa.func.count()).select_from(KnowledgeFile)).scalar() == 1
    run_jobs()
    assert [hit.text for hit in search(store, "penguins")] == ["Penguins huddle for warmth."]


@pytest.mark.parametrize("name, content, status, error", [
    ("empty.txt", b"", "empty", "empty_file"),
    ("scan.pdf", make_image_only_pdf(), "empty", "no_extractable_text"),
    ("locked.pdf", make_encrypted_pdf([["Secret plans"]]), "empty", "encrypted_file"),
    ("blank.md", b"   \n\n  \n", "empty", "no_extractable_text"),
    ("cut.pdf", make_pdf([["The truncated PDF talks about owls."]] * 3, compress=True)[:300], "failed",
     "corrupt_file"),
])
def test_files_without_text_end_with_a_reason(app, db, signed_in, store, run_jobs, name, content, status, error):
    response = upload(signed_in, [(name, content), ("fine.txt", b"Otters hold hands while sleeping.")])
    assert response.status_code == 201, response.json
    first = response.json["items"][0]
    run_jobs()
    file = db.session.get(KnowledgeFile, first["id"])
    assert (file.status, file.error) == (status, error), file.reason
    assert file.reason and file.chunk_count == 0 and file.progress == 100
    assert search(store, "otters")  # the other file of the same upload is fine
    page = signed_in.get(f"/s/research/knowledge/files/{file.id}").get_data(as_text=True)
    assert ("No extractable text" if status == "empty" else "could not be indexed") in page


def test_size_limit_and_quota(app, db, signed_in, store, make_app):
    app.config["KNOWLEDGE_MAX_FILE_MB"] = 0.01  # 10 KiB
    response = upload(signed_in, [("big.txt", b"word " * 5000), ("small.txt", b"Small enough.")])
    assert response.status_code == 201
    [refused] = response.json["refused"]
    assert refused["error"] == "file_too_large" and "24.4 KB" in refused["message"] and "at most 10.2 KB" in refused["message"]
    app.config["KNOWLEDGE_STORE_QUOTA_MB"] = 0.005  # 5 KiB; 13 bytes used
    response = upload(signed_in, [("mid.txt", b"a few words " * 500)])
    assert response.status_code == 413 and response.json["error"] == "store_quota_exceeded"
    assert "Delete files you no longer need" in response.json["message"]
    assert [f.name for f in db.session.execute(sa.select(KnowledgeFile)).scalars()] == ["small.txt"]


def test_request_over_the_upload_limit_is_413_naming_it(app, signed_in, store):
    app.config["KNOWLEDGE_MAX_FILE_MB"] = 0.01
    app.config["KNOWLEDGE_MAX_FILES_PER_UPLOAD"] = 1
    response = upload(signed_in, [("huge.txt", b"x" * (2 * 1024 * 1024))])
    assert response.status_code == 413 and response.json["error"] == "too_large"


def test_uploads_beyond_the_app_request_limit_are_accepted(app, db, signed_in, store, run_jobs):
    """MAX_CONTENT_LENGTH is 2 MB; the upload routes take KNOWLEDGE_MAX_FILE_MB per file."""
    text = ("The heron waits in the shallows. " * 100 + "\n\n") * 1000  # ~3.3 MB
    response = upload(signed_in, [("long.txt", text.encode())])
    assert response.status_code == 201, response.json
    run_jobs()
    assert db.session.get(KnowledgeFile, response.json["items"][0]["id"]).status == "ready"


def test_reupload_is_detected_and_other_stores_keep_their_own_row(app, db, signed_in, store, create_store, grant,
                                                                   member, run_jobs):
    first = upload(signed_in, [("a.txt", b"Same bytes twice.")]).json["items"][0]
    again = upload(signed_in, [("renamed.txt", b"Same bytes twice.")])
    assert again.status_code == 200
    assert again.json["items"][0]["id"] == first["id"] and again.json["items"][0]["duplicate"] is True
    grant(member, create_store("other"))
    elsewhere = upload(signed_in, [("b.txt", b"Same bytes twice.")], store="other").json["items"][0]
    assert elsewhere["id"] != first["id"] and elsewhere["sha256"] == first["sha256"]
    files = db.session.execute(sa.select(KnowledgeFile)).scalars().all()
    assert len({f.storage_key for f in files}) == 1


def test_names_are_never_paths(app, db, signed_in, store, run_jobs):
    response = upload(signed_in, [("../../etc/passwd", b"Just text about llamas."),
                                  ("..\\..\\boot.ini\u202e\x00", b"More text about alpacas.")])
    names = [item["name"] for item in response.json["items"]]
    assert names == ["passwd", "boot.ini"]
    file = db.session.get(KnowledgeFile, response.json["items"][0]["id"])
    path = get_storage().path(file.storage_key)
    assert path.is_file() and path.name == file.sha256
    with pytest.raises(ValueError):
        get_storage().path("../../etc/passwd")


def test_status_progress_and_api_shapes(app, db, signed_in, store, run_jobs):
    item = upload(signed_in, [("a.txt", b"Giraffes sleep standing up.")]).json["items"][0]
    assert {"id", "name", "size", "status", "progress", "reason", "chunk_count", "download_url"} <= set(item)
    assert item["size"] == len(b"Giraffes sleep standing up.")
    status = signed_in.get(f"/s/research/knowledge/status/?ids={item['id']},999,abc,-1").json
    assert status["items"] == [{**status["items"][0], "status": "queued", "is_settled": False}]
    run_jobs()
    got = signed_in.get(f"{API.format(store='research')}{item['id']}").json["file"]
    assert (got["status"], got["progress"], got["chunk_count"]) == ("ready", 100, 1)
    listed = signed_in.get(API.format(store="research")).json
    assert [i["id"] for i in listed["items"]] == [item["id"]] and listed["next"] is None


def test_files_list_is_paginated_with_bounded_queries(frozen_clock, app, db, signed_in, store, member):
    for n in range(7):
        upload(signed_in, [(f"f{n}.txt", f"File number {n} about badgers.".encode())])
    first = signed_in.get(API.format(store="research") + "?limit=3").json
    assert len(first["items"]) == 3 and first["next"]
    second = signed_in.get(API.format(store="research") + f"?limit=3&cursor={first['next']}").json
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    signed_in.get(API.format(store="research") + "?limit=1")  # warm the per-process caches (who is asking)
    with counting_queries(db.engine) as few:
        signed_in.get(API.format(store="research") + "?limit=3")
    with counting_queries(db.engine) as many:
        signed_in.get(API.format(store="research") + "?limit=7")
    assert len(few) == len(many) <= 8, "\n".join(few + ["----"] + many)
    signed_in.get("/s/research/knowledge/?limit=1")  # the first visit also remembers the store in the session
    with counting_queries(db.engine) as page_few:
        assert signed_in.get("/s/research/knowledge/?limit=3").status_code == 200
    with counting_queries(db.engine) as page_many:
        assert signed_in.get("/s/research/knowledge/?limit=7").status_code == 200
    assert len(page_few) == len(page_many) <= 14


def test_search_api_and_page_have_bounded_queries(frozen_clock, app, db, signed_in, store, run_jobs):
    upload(signed_in, [(f"f{n}.txt", f"Beavers build dams, part {n}.".encode()) for n in range(6)])
    run_jobs()
    with counting_queries(db.engine) as two:
        results = signed_in.get("/api/v1/s/research/search/?q=beavers&k=2").json["results"]
    with counting_queries(db.engine) as six:
        assert len(signed_in.get("/api/v1/s/research/search/?q=beavers&k=6").json["results"]) == 6
    assert len(results) == 2 and len(two) == len(six) <= 6
    assert set(results[0]) == {"file_id", "file_name", "chunk_id", "heading", "text", "snippet", "score", "page",
                               "page_end", "found_by"}
    assert results[0]["found_by"] == ["fulltext"]  # this store has no vectors
    assert "<mark>Beavers</mark>" in results[0]["snippet"]
    with counting_queries(db.engine) as page:
        assert signed_in.get("/s/research/knowledge/search/?q=beavers").status_code == 200
    assert len(page) <= 8


@pytest.mark.parametrize("query", ["k=0", "k=abc", "k=-3"])
def test_search_k_must_be_a_whole_number(app, signed_in, store, query):
    response = signed_in.get(f"/api/v1/s/research/search/?q=x&{query}")
    assert response.status_code == 400 and response.json["error"] == "invalid_search"


def test_search_without_words_is_empty_not_an_error(app, signed_in, store):
    for query in ["", "q=", "q=%22%28%2A", "q=%00", "q=" + "x" * 3000, "q=NEAR%28a%29&k=999"]:
        response = signed_in.get(f"/api/v1/s/research/search/?{query}")
        assert response.status_code == 200 and response.json == {"results": []}, query
        assert signed_in.get(f"/s/research/knowledge/search/?{query}").status_code == 200


def test_reindex_replaces_chunks_and_keeps_them_searchable_meanwhile(app, db, signed_in, store, run_jobs):
    item = upload(signed_in, [("a.md", b"# Zebras\n\nZebras have stripes.")]).json["items"][0]
    run_jobs()
    before = db.session.execute(sa.select(KnowledgeChunk.id)).scalars().all()
    indexed_at = db.session.get(KnowledgeFile, item["id"]).indexed_at
    response = signed_in.post(f"{API.format(store='research')}{item['id']}/reindex",
                              headers={"X-CSRFToken": csrf_token(signed_in)})
    assert response.status_code == 202 and response.json["file"]["status"] == "queued"
    busy = signed_in.post(f"{API.format(store='research')}{item['id']}/reindex",
                          headers={"X-CSRFToken": csrf_token(signed_in)})
    assert busy.status_code == 409 and busy.json["error"] == "file_busy"
    assert search(store, "zebras")  # old chunks still answer
    run_jobs()
    after = db.session.execute(sa.select(KnowledgeChunk.id)).scalars().all()
    assert len(after) == len(before) and db.session.get(KnowledgeFile, item["id"]).indexed_at > indexed_at
    assert [hit.chunk_id for hit in search(store, "zebras")] == after


def test_delete_removes_chunks_index_and_bytes_after_commit(app, db, signed_in, store, run_jobs, create_store,
                                                            grant, member):
    item = upload(signed_in, [("a.txt", b"Koalas sleep twenty hours.")]).json["items"][0]
    run_jobs()
    file = db.session.get(KnowledgeFile, item["id"])
    path = get_storage().path(file.storage_key)
    grant(member, create_store("other"))
    twin = upload(signed_in, [("b.txt", b"Koalas sleep twenty hours.")], store="other").json["items"][0]
    response = signed_in.delete(f"{API.format(store='research')}{item['id']}",
                                headers={"X-CSRFToken": csrf_token(signed_in)})
    assert response.status_code == 200
    assert search(store, "koalas") == []
    assert db.session.execute(sa.select(sa.func.count()).select_from(KnowledgeChunk)).scalar() == 0
    assert path.is_file()  # the other store's file still names these bytes
    signed_in.delete(f"{API.format(store='other')}{twin['id']}", headers={"X-CSRFToken": csrf_token(signed_in)})
    assert not path.exists()


def test_fts_index_follows_cascades(app, db, signed_in, store, run_jobs):
    """Chunks removed by ON DELETE CASCADE leave the full-text index too (SQLite triggers fire on cascades)."""
    upload(signed_in, [("a.txt", b"Narwhals have tusks.")])
    run_jobs()
    db.session.execute(sa.delete(KnowledgeFile))
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        count = db.session.execute(sa.text(
            "SELECT count(*) FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH 'narwhals'")).scalar()
        assert count == 0
    assert search(store, "narwhals") == []


def test_store_deletion_removes_files_chunks_and_bytes(app, db, create_store, create_user, login, client, run_jobs):
    from webapp.stores import service as stores_service

    create_store("general")
    doomed = create_store("doomed")
    admin = create_user(is_admin=True)
    login(client, admin)
    item = upload(client, [("a.txt", b"Manatees are gentle.")], store="doomed").json["items"][0]
    run_jobs()
    path = get_storage().path(db.session.get(KnowledgeFile, item["id"]).storage_key)
    assert path.is_file()
    counts = stores_service.delete_store(doomed)
    db.session.commit()
    assert counts["knowledge_files"] == 1 and counts["knowledge_chunks"] == 1
    assert not path.exists()


def test_only_the_uploader_or_an_admin_deletes(app, db, client, login, create_user, grant, store, member):
    login(client, member)
    item = upload(client, [("a.txt", b"Lemurs.")]).json["items"][0]
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    other = create_user("other")
    grant(other, store)
    login(client, other)
    response = client.delete(f"{API.format(store='research')}{item['id']}", headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 403
    assert client.get(f"{API.format(store='research')}{item['id']}").status_code == 200


def test_page_upload_without_javascript_redirects_with_messages(app, db, signed_in, store):
    response = signed_in.post("/s/research/knowledge/upload", data={
        "csrf_token": csrf_token(signed_in),
        "file": [(io.BytesIO(b"Capybaras are calm."), "capy.txt"), (io.BytesIO(make_png()), "pic.txt")],
    }, content_type="multipart/form-data")
    assert response.status_code == 302
    page = signed_in.get("/s/research/knowledge/").get_data(as_text=True)
    assert "Added &#39;capy.txt&#39;" in page and "&#39;pic.txt&#39; was not added" in page
    assert "capy.txt" in page


def test_download_is_an_attachment_with_a_safe_name(app, db, signed_in, store):
    html = b"<!doctype html><html><body><script>alert(1)</script><p>Hello</p></body></html>"
    item = upload(signed_in, [('evil"\r\nX-Injected: 1.html', html)]).json["items"][0]
    response = signed_in.get(item["download_url"])
    body = response.get_data()
    response.close()
    assert response.status_code == 200 and body == html
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition
    assert "X-Injected" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_no_file_field_is_a_clear_400(app, signed_in, store):
    response = signed_in.post(API.format(store="research"), data={}, headers={"X-CSRFToken": csrf_token(signed_in)},
                              content_type="multipart/form-data")
    assert response.status_code == 400 and response.json["error"] == "no_files"


# --- the job under failure -----------------------------------------------------------------


def test_a_killed_workers_file_is_resumed_after_its_lease(app, db, signed_in, store, run_jobs):
    item = upload(signed_in, [("a.txt", b"Wombats dig burrows.")]).json["items"][0]
    # A worker claims the job, marks the file indexing, and dies without a word.
    [claimed] = queue.claim("doomed-worker:1:main", kinds=["knowledge.index_file"])
    knowledge_jobs._Progress(claimed, item["id"]).report("indexing", 40)
    db.session.expire_all()
    assert db.session.get(KnowledgeFile, item["id"]).status == "indexing"
    assert run_jobs() == 0  # the lease still holds
    db.session.execute(sa.update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert run_jobs() == 1
    file = db.session.get(KnowledgeFile, item["id"])
    assert file.status == "ready" and search(store, "wombats")
    job = db.session.execute(sa.select(Job)).scalar_one()
    assert (job.state, job.attempts) == ("done", 2)


def test_a_worker_that_lost_its_lease_writes_nothing(app, db, signed_in, store):
    item = upload(signed_in, [("a.txt", b"Sloths are slow.")]).json["items"][0]
    [claimed] = queue.claim("slow-worker:1:main", kinds=["knowledge.index_file"])
    db.session.execute(sa.update(Job).values(lease_token="someone-else"))
    db.session.commit()
    with pytest.raises(RetryLater, match="Another worker took this file over"):
        knowledge_jobs._Progress(claimed, item["id"]).report("indexing", 10)
    db.session.rollback()
    assert db.session.get(KnowledgeFile, item["id"]).status == "queued"


def test_a_repeatedly_crashing_file_ends_failed_with_a_reason(app, db, signed_in, store, run_jobs, monkeypatch):
    item = upload(signed_in, [("a.txt", b"Meerkats stand guard.")]).json["items"][0]

    def broken(*args, **kwargs):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(knowledge_jobs, "chunk_document", broken)
    for _ in range(5):
        db.session.execute(sa.update(Job).values(run_after=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        run_jobs()
    file = db.session.get(KnowledgeFile, item["id"])
    assert (file.status, file.error) == ("failed", "internal_error") and "Reindex" in file.reason
    assert db.session.execute(sa.select(Job.state)).scalar_one() == "failed"


@pytest.mark.serial
def test_two_workers_never_index_one_file_twice(app, db, signed_in, store, monkeypatch):
    """Several workers (threads, each with its own connections) drain the queue together:
    every file is parsed exactly once (claims use FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent claims are a PostgreSQL matter (SQLite has one writer)")
    from webapp.jobs.worker import Worker

    upload(signed_in, [(f"f{n}.txt", f"Document {n} about puffins.".encode()) for n in range(12)])
    parsed, lock = [], threading.Lock()
    real_parse = knowledge_jobs.parsing.parse

    def counting_parse(data, name, **kwargs):
        with lock:
            parsed.append(name)
        return real_parse(data, name, **kwargs)

    monkeypatch.setattr(knowledge_jobs.parsing, "parse", counting_parse)
    workers = [Worker(app, poll_interval=0.01, name=f"w{n}") for n in range(3)]
    threads = [threading.Thread(target=worker.run_until_idle) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert sorted(parsed) == sorted(f"f{n}.txt" for n in range(12))
    assert {f.status for f in db.session.execute(sa.select(KnowledgeFile)).scalars()} == {"ready"}
