"""Files in an S3-compatible object store (``KNOWLEDGE_STORAGE_URL=s3://…``) against a real ``moto_server``,
and the storage interface on both backends."""
import hashlib
import io

import pytest
import requests
from werkzeug.datastructures import FileStorage as Upload
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from tests.support.client import csrf_token
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.storage import FileStorage, S3Storage, StorageUnavailable, storage_from_url

DOWN = "http://127.0.0.1:1"  # nothing listens: the object store is down
TEXT = b"The Zephyrine lighthouse on Corvala island was built in 1887 by Ottilie Brandvik."


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path):
    if request.param == "file":
        return FileStorage(tmp_path / "files")
    server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
    return S3Storage(bucket, "knowledge", endpoint_url=server)


def test_the_interface_is_the_same_on_both_backends(storage):
    key, digest = storage.put(TEXT)
    assert digest == hashlib.sha256(TEXT).hexdigest()
    assert key == storage.key_for(digest) == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert storage.put(TEXT) == (key, digest)  # idempotent: the same bytes, the same key
    assert storage.exists(key) and storage.read(key) == TEXT
    assert b"".join(storage.iter_bytes(key)) == TEXT
    assert list(storage.keys()) == [key]
    storage.check()
    storage.delete(key)
    storage.delete(key)  # already gone: nothing
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.read(key)
    with pytest.raises(ValueError):
        storage.exists("../../etc/passwd")
    with pytest.raises(ValueError):
        storage.key_for("not-a-digest")


def test_an_unreachable_object_store_raises_storage_unavailable(s3_server):
    storage = S3Storage("anything", endpoint_url=DOWN)
    storage.client.meta.config.retries["max_attempts"] = 1
    with pytest.raises(StorageUnavailable):
        storage.put(TEXT)
    with pytest.raises(StorageUnavailable):
        storage.read(storage.key_for(hashlib.sha256(TEXT).hexdigest()))
    with pytest.raises(StorageUnavailable):
        storage.check()


def test_storage_urls():
    assert isinstance(storage_from_url("file:///srv/files"), FileStorage)
    assert str(storage_from_url("file:///srv/files").root) == "/srv/files"
    s3 = storage_from_url("s3://bucket/some/prefix", endpoint_url=DOWN)
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert s3.name("sha256/ab/cd/" + "a" * 64) == "some/prefix/sha256/ab/cd/" + "a" * 64
    with pytest.raises(ValueError):
        storage_from_url("ftp://host/x")


# --- the app on S3 --------------------------------------------------------------

def _upload(client, name, content, store="research"):
    data = MultiDict([("file", Upload(io.BytesIO(content), filename=name))])
    boundary, body = encode_multipart(data)
    return client.post(f"/api/v1/s/{store}/files/", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"})


@pytest.fixture
def s3_config(s3_server, s3_bucket):
    return {"KNOWLEDGE_STORAGE_URL": f"s3://{s3_bucket}/files", "KNOWLEDGE_S3_ENDPOINT_URL": s3_server}


@pytest.fixture
def app_config(request):
    """The S3 settings for tests that name ``s3_config`` first."""
    if "s3_config" in request.fixturenames:
        return request.getfixturevalue("s3_config")
    return {}


@pytest.fixture
def member_client(app, client, create_store, create_user, grant, login):
    store = create_store("research")
    login(client, grant(create_user("member"), store))
    return client


def _objects(s3_client, bucket):
    return [item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_upload_index_download_and_delete_through_the_bucket(s3_config, app, db, member_client, run_jobs, s3_client,
                                                             s3_bucket):
    response = _upload(member_client, "lighthouse.txt", TEXT)
    assert response.status_code == 201, response.get_json()
    file_id = response.get_json()["items"][0]["id"]
    digest = hashlib.sha256(TEXT).hexdigest()
    assert _objects(s3_client, s3_bucket) == [f"files/sha256/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert run_jobs() >= 1
    assert db.session.get(KnowledgeFile, file_id).status == "ready"
    found = member_client.get("/api/v1/s/research/search/?q=Zephyrine").get_json()["results"]
    assert found and found[0]["file_id"] == file_id

    download = member_client.get(f"/s/research/knowledge/files/{file_id}/download")
    assert download.status_code == 200 and download.is_streamed
    assert download.get_data() == TEXT
    assert download.headers["Content-Length"] == str(len(TEXT))
    assert "attachment" in download.headers["Content-Disposition"]

    assert member_client.delete(f"/api/v1/s/research/files/{file_id}",
                                headers={"X-CSRFToken": csrf_token(member_client)}).status_code == 200
    assert _objects(s3_client, s3_bucket) == []


def test_presigned_downloads_redirect_to_the_object_store(s3_config, app, member_client, run_jobs):
    app.config["KNOWLEDGE_S3_PRESIGNED_DOWNLOADS"] = True
    app.extensions.pop("knowledge_storage", None)
    file_id = _upload(member_client, "lighthouse.txt", TEXT).get_json()["items"][0]["id"]
    download = member_client.get(f"/s/research/knowledge/files/{file_id}/download")
    assert download.status_code == 303
    location = download.headers["Location"]
    assert location.startswith(s3_config["KNOWLEDGE_S3_ENDPOINT_URL"]) and "X-Amz-Expires=60" in location
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == TEXT
    assert "attachment" in fetched.headers["Content-Disposition"]


@pytest.mark.parametrize("app_config", [{"KNOWLEDGE_STORAGE_URL": "s3://down/files",
                                         "KNOWLEDGE_S3_ENDPOINT_URL": DOWN}])
def test_with_the_object_store_down_an_upload_answers_503_and_saves_no_row(app, db, member_client, app_config):
    response = _upload(member_client, "lighthouse.txt", TEXT)
    assert response.status_code == 503
    assert response.get_json()["error"] == "storage_unavailable"
    assert "nothing was saved" in response.get_json()["message"]
    assert db.session.execute(db.select(db.func.count()).select_from(KnowledgeFile)).scalar() == 0
    ready = member_client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["failed"] == ["object_store"]


def test_a_job_that_cannot_read_the_bytes_retries_with_the_reason(s3_config, app, db, member_client, run_jobs):
    from webapp.jobs.models import Job

    file_id = _upload(member_client, "lighthouse.txt", TEXT).get_json()["items"][0]["id"]
    # The object store goes away between the upload and the indexing.
    app.config["KNOWLEDGE_S3_ENDPOINT_URL"] = DOWN
    app.extensions.pop("knowledge_storage", None)
    run_jobs()
    job = db.session.execute(db.select(Job).where(Job.kind == "knowledge.index_file")).scalar_one()
    assert job.state == "queued" and job.attempts == 1
    assert "The file storage did not answer" in job.last_error
    assert db.session.get(KnowledgeFile, file_id).status != "failed"
    # Back: the retry indexes it.
    app.config["KNOWLEDGE_S3_ENDPOINT_URL"] = s3_config["KNOWLEDGE_S3_ENDPOINT_URL"]
    app.extensions.pop("knowledge_storage", None)
    job.run_after = job.created_at
    db.session.commit()
    run_jobs()
    assert db.session.get(KnowledgeFile, file_id).status == "ready"


def test_migrate_storage_copies_verified_bytes_and_resumes(app, db, create_store, s3_server, s3_bucket, s3_client):
    """From the directory to the bucket: every file's bytes, once, hash-checked; a second run copies nothing."""
    from tests.support.knowledge import add_indexed_file
    from webapp.knowledge.storage import get_storage

    store = create_store("research")
    first = add_indexed_file(app, store, "one.txt", TEXT)
    second = add_indexed_file(app, store, "two.txt", b"Another file about the Corvala ferry timetable.")
    other = create_store("other")
    add_indexed_file(app, other, "same.txt", TEXT)  # the same bytes in another store: one object
    target = f"s3://{s3_bucket}/moved"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["knowledge", "migrate-storage", "--to", target, "--endpoint-url", s3_server])
    assert result.exit_code == 0, result.output
    assert "Copied 2, already there 0, missing 0." in result.output
    names = sorted(item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert names == sorted(f"moved/{file.storage_key}" for file in (first, second))
    for file in (first, second):
        body = s3_client.get_object(Bucket=s3_bucket, Key=f"moved/{file.storage_key}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == file.sha256
    # Interrupted or run again after the switch: nothing is copied twice.
    again = runner.invoke(args=["knowledge", "migrate-storage", "--to", target, "--endpoint-url", s3_server])
    assert "Copied 0, already there 2, missing 0." in again.output
    # The source is untouched (hosts not yet switched still read it).
    assert get_storage(app).read(first.storage_key) == TEXT
    bad = runner.invoke(args=["knowledge", "migrate-storage", "--to", "ftp://elsewhere"])
    assert bad.exit_code != 0 and "KNOWLEDGE_STORAGE_URL must be" in bad.output
