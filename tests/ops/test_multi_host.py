"""Several hosts for real: two web processes and two job workers sharing only PostgreSQL, Redis and an
S3-compatible store (no shared disk: each has its own files folder, and the bytes live in the bucket).

On PostgreSQL only (``TEST_DATABASE_URL``): hosts do not share a SQLite file.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.support.waiting import wait_until
from tests.support.web_server import ROOT, GunicornApp
from tests.support.workers import redis_url

pytestmark = [pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                 reason="several hosts share PostgreSQL, not a SQLite file"),
              pytest.mark.serial]

REDIS = redis_url()
TEXT = b"The Zephyrine lighthouse on Corvala island was built in 1887 by the engineer Ottilie Brandvik."


class JobWorker:
    """``flask jobs worker`` in a process of its own."""

    def __init__(self, environment, log_path):
        self.environment, self.log_path = environment, log_path

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"],
                                        cwd=ROOT, env={**os.environ, **self.environment},
                                        stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


def _hosts(database_uri, s3_server, s3_bucket, tmp_path):
    """The environment of one host by name: all share the servers, each has its own instance
    folder (were anything written to local disk, another host would miss it)."""
    shared = {"DATABASE_URL": database_uri, "SECRET_KEY": "multi-host-secret", "CACHE_URL": REDIS,
              "RATELIMIT_STORAGE_URI": REDIS, "KNOWLEDGE_STORAGE_URL": f"s3://{s3_bucket}/files",
              "KNOWLEDGE_S3_ENDPOINT_URL": s3_server, "JOBS_IN_PROCESS": "false", "JOBS_POLL_INTERVAL": "0.2",
              "AUTH_CACHE_SECONDS": "5"}
    return lambda name: {**shared, "INSTANCE_PATH": str(tmp_path / name / "instance")}


def test_upload_on_a_indexed_by_a_worker_downloaded_searched_and_deleted_on_b(
        app, db, database_uri, create_user, create_store, grant, s3_server, s3_bucket, s3_client, tmp_path):
    store = create_store("research")
    user = grant(create_user("traveller"), store)
    host = _hosts(database_uri, s3_server, s3_bucket, tmp_path)

    with GunicornApp(host("a"), tmp_path / "web-a.log", workers=1, threads=4) as web_a, \
            GunicornApp(host("b"), tmp_path / "web-b.log", workers=1, threads=4) as web_b, \
            JobWorker(host("w1"), tmp_path / "worker-1.log"), JobWorker(host("w2"), tmp_path / "worker-2.log"):
        # A session made on A is valid on B.
        token = requests.post(f"{web_a.url}/api/v1/auth/login/", timeout=30,
                              json={"email": user.email, "password": user.plain_password}).json()["token"]
        auth = {"Authorization": f"Token {token}"}
        assert requests.get(f"{web_b.url}/api/v1/me/", headers=auth, timeout=30).status_code == 200

        # Uploaded on A; indexed by whichever worker claims it; read on B.
        uploaded = requests.post(f"{web_a.url}/api/v1/s/research/files/", headers=auth, timeout=60,
                                 files={"file": ("lighthouse.txt", TEXT, "text/plain")})
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["items"][0]["id"]

        def ready_on_b():
            return requests.get(f"{web_b.url}/api/v1/s/research/files/{file_id}", headers=auth,
                                timeout=30).json()["file"]["status"] == "ready"

        wait_until(ready_on_b, 90, 0.3, message=lambda: (tmp_path / "worker-1.log").read_text()[-1500:])
        found = requests.get(f"{web_b.url}/api/v1/s/research/search/?q=Zephyrine", headers=auth, timeout=30).json()
        assert [hit["file_id"] for hit in found["results"]] == [file_id]
        download = requests.get(f"{web_b.url}/s/research/knowledge/files/{file_id}/download", headers=auth,
                                timeout=30)
        assert download.status_code == 200 and download.content == TEXT

        # Deleted on B: the bytes leave the bucket.
        digest = hashlib.sha256(TEXT).hexdigest()
        assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 1
        deleted = requests.delete(f"{web_b.url}/api/v1/s/research/files/{file_id}", headers=auth, timeout=30)
        assert deleted.status_code == 200
        assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0, digest

        # Revoked on B (sign-out): refused on A within AUTH_CACHE_SECONDS (at once with Redis).
        assert requests.post(f"{web_b.url}/api/v1/auth/logout/", headers=auth, timeout=30).status_code in (200, 204)
        started = time.monotonic()
        wait_until(lambda: requests.get(f"{web_a.url}/api/v1/me/", headers=auth, timeout=30).status_code == 401,
                   10, 0.2, message="the revoked session refused on A")
        assert time.monotonic() - started <= 5 + 1

        # No host wrote anything to its own disk (a file's bytes would be under instance/files).
        assert not any((tmp_path / name / "instance").exists() for name in ("a", "b", "w1", "w2"))


def test_a_worker_killed_mid_index_leaves_the_file_to_the_other(
        app, db, database_uri, create_user, create_store, grant, s3_server, s3_bucket, tmp_path):
    """Worker 1 is killed (SIGKILL) while indexing; once its lease lapses, worker 2 finishes the file.

    The kill is real; the lease's lapse (LEASE_SECONDS of no heartbeat) is brought forward by
    moving ``lease_until`` to the past, as the clock would.
    """
    from webapp.jobs.models import Job
    from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile

    store = create_store("research")
    user = grant(create_user("indexer"), store)
    host = _hosts(database_uri, s3_server, s3_bucket, tmp_path)
    # Big enough that parsing it takes a few seconds (progress is reported on the way).
    paragraph = "Lighthouse keepers of Corvala logged the weather every hour, day and night. "
    text = "\n\n".join(f"{number}. {paragraph * 12}" for number in range(9000)).encode()
    with GunicornApp(host("a"), tmp_path / "web-a.log", workers=1, threads=4) as web_a:
        token = requests.post(f"{web_a.url}/api/v1/auth/login/", timeout=30,
                              json={"email": user.email, "password": user.plain_password}).json()["token"]
        auth = {"Authorization": f"Token {token}"}
        uploaded = requests.post(f"{web_a.url}/api/v1/s/research/files/", headers=auth, timeout=120,
                                 files={"file": ("logbook.txt", text, "text/plain")})
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["items"][0]["id"]

    def row(model, **where):
        db.session.rollback()
        return db.session.execute(db.select(model).filter_by(**where)).scalar_one()

    with JobWorker(host("w1"), tmp_path / "worker-1.log") as first:
        wait_until(lambda: row(KnowledgeFile, id=file_id).status == "indexing", 60, 0.05,
                   message=lambda: (tmp_path / "worker-1.log").read_text()[-1500:])
        first.process.kill()  # mid-file: no chance to settle anything
        first.process.wait(10)
    job = row(Job, kind="knowledge.index_file")
    assert job.state == "running" and job.leased_by.split(":")[1] == str(first.process.pid)
    assert row(KnowledgeFile, id=file_id).status == "indexing"
    job.lease_until = job.lease_until.replace(year=2000)  # LEASE_SECONDS without a heartbeat
    db.session.commit()

    with JobWorker(host("w2"), tmp_path / "worker-2.log"):
        wait_until(lambda: row(KnowledgeFile, id=file_id).status == "ready", 120, 0.2,
                   message=lambda: (tmp_path / "worker-2.log").read_text()[-1500:])
    job = row(Job, kind="knowledge.index_file")
    assert job.state == "done" and job.attempts == 2
    assert job.leased_by.split(":")[1] != str(first.process.pid)
    file = row(KnowledgeFile, id=file_id)
    assert file.chunk_count > 100 and file.progress == 100
    stored = db.session.execute(db.select(db.func.count()).where(KnowledgeChunk.file_id == file_id)).scalar()
    assert stored == file.chunk_count  # one set of chunks: the killed worker's run left none behind
