"""``LOG_FORMAT=json``: every line a JSON object, with request id, route, status, duration and user id,
and never a password, a token or a cookie; in the app, under gunicorn and in the job worker."""
import json
import logging
import os
import subprocess
import sys

import pytest
import requests

from tests.support.web_server import ROOT, GunicornApp
from webapp.logs import JsonFormatter

PASSWORD = "correct horse battery"


@pytest.fixture
def json_root():
    """Take the JSON handler the app puts on the root logger off again after the test."""
    yield
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]


def _objects(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # raises on any line that is not one JSON object


def test_the_app_writes_one_json_object_per_line_with_the_request_fields(make_app, migrated, capsys, json_root):
    app = make_app(LOG_FORMAT="json")
    with app.app_context():
        from webapp.extensions import db
        from webapp.users import service

        user = service.create_local_user("jason", "jason@example.com", PASSWORD, "")
        db.session.commit()
        user_id = user.id
    client = app.test_client()
    token = client.post("/api/v1/auth/login/", json={"email": "jason@example.com", "password": PASSWORD}).json["token"]
    me = client.get("/api/v1/me/", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200
    client.get("/api/v1/me/", headers={"Authorization": "Token not-a-session"})
    out = capsys.readouterr()
    text = out.err + out.out
    objects = _objects(text)
    answered = [o for o in objects if o["logger"] == "webapp.requests" and o.get("route") == "/api/v1/me/"]
    assert [o["status"] for o in answered] == [200, 401]
    first = answered[0]
    assert first["user_id"] == user_id and first["method"] == "GET"
    assert first["request_id"] == me.headers["X-Request-ID"]
    assert isinstance(first["duration_ms"], float)
    assert "user_id" not in answered[1]
    signed_in = [o for o in objects if "signed in" in o["message"]]
    assert signed_in and signed_in[0]["level"] == "INFO"
    for secret in (PASSWORD, token, "not-a-session"):
        assert secret not in text


@pytest.mark.serial
def test_gunicorn_and_the_worker_write_json_lines_only(app, database_uri, tmp_path):
    environment = {"DATABASE_URL": database_uri, "SECRET_KEY": "json-log-secret", "LOG_FORMAT": "json",
                   "LOG_LEVEL": "INFO", "WEB_ACCESS_LOG": "-", "KNOWLEDGE_FILES_DIR": str(tmp_path / "files")}
    with GunicornApp(environment, tmp_path / "gunicorn.log", workers=1, threads=2) as server:
        answer = requests.get(f"{server.url}/healthz", timeout=30, headers={"Cookie": "storehouse_session=abc"})
        requests.get(f"{server.url}/nowhere?token=query-secret", timeout=30)
    objects = _objects((tmp_path / "gunicorn.log").read_text())
    loggers = {o["logger"] for o in objects}
    assert {"gunicorn.error", "gunicorn.access", "webapp.requests"} <= loggers, loggers
    access = [o for o in objects if o["logger"] == "gunicorn.access" and o.get("path") == "/healthz"]
    assert access and access[0]["status"] == "200" and access[0]["request_id"] == answer.headers["X-Request-ID"]
    assert "duration_ms" in access[0]
    text = (tmp_path / "gunicorn.log").read_text()
    assert "query-secret" not in text
    assert "storehouse_session=abc" not in text

    worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--once"],
                            cwd=ROOT, env={**os.environ, **environment, "JOBS_IN_PROCESS": "false"},
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-2000:]
    lines = _objects(worker.stdout + worker.stderr)
    assert any(o["message"] == "Ran 0 job(s)." for o in lines), lines
