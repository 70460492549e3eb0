"""``GET /metrics``: 404 without METRICS_TOKEN, 401 without the right Bearer token, labels by route
template only, gauges read from the database at scrape time, every gunicorn worker added up."""
import re
import uuid
from datetime import timedelta

import pytest
import requests

from tests.support.web_server import GunicornApp
from webapp.core.clock import utcnow

TOKEN = "metrics-token-0123456789"
WITH_TOKEN = {"METRICS_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} ([0-9.e+-]+)$')


def samples(text, name):
    """``[(labels dict, value)]`` of the metric ``name`` in an exposition text."""
    out = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group(1) == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            out.append((labels, float(match.group(3))))
    return out


def test_without_the_setting_metrics_do_not_exist(app, client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


@pytest.mark.parametrize("app_config", [WITH_TOKEN])
def test_metrics_need_the_bearer_token(app, client, app_config):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Token {TOKEN}"}).status_code == 401
    right = client.get("/metrics", headers=AUTH)
    assert right.status_code == 200
    assert right.mimetype == "text/plain"
    assert "Set-Cookie" not in right.headers


@pytest.mark.parametrize("app_config", [WITH_TOKEN])
def test_a_thousand_distinct_urls_keep_the_route_labels_bounded(app, client, create_store, app_config):
    create_store("known")

    def routes_in(text):
        return {labels["route"] for labels, _ in samples(text, "storehouse_http_requests_total")}

    # The metrics are the process's: earlier tests' apps (with routes of their own) count too. A
    # scrape is counted after it answers: scrape once first, so that /metrics is among the routes
    # before, whether or not an earlier test of this process scraped.
    client.get("/metrics", headers=AUTH)
    before = routes_in(client.get("/metrics", headers=AUTH).get_data(as_text=True))
    for number in range(500):
        client.get(f"/s/store-{number}/")            # one rule: /s/<store>/ (404: no such store)
        client.get(f"/nowhere/{number}/deeper")      # no rule at all
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    requests_seen = samples(text, "storehouse_http_requests_total")
    routes = {labels["route"] for labels, _ in requests_seen}
    assert "/s/<store>/" in routes and "<unmatched>" in routes
    assert not any("store-" in route or "nowhere" in route for route in routes)
    assert len(routes - before) <= 2  # at most /s/<store>/ and <unmatched> are new
    # Anonymous: sent to sign in, whatever the store; all 500 under the one template.
    assert sum(value for labels, value in requests_seen if labels["route"] == "/s/<store>/") >= 500
    histogram = {labels["route"] for labels, _ in samples(text, "storehouse_http_request_duration_seconds_count")}
    assert not any("store-" in route or "nowhere" in route for route in histogram)
    assert len(histogram) <= len(routes)


@pytest.mark.parametrize("app_config", [WITH_TOKEN])
def test_queue_depth_oldest_age_and_pending_charges_are_read_at_scrape_time(app, db, client, create_user,
                                                                           create_store, app_config):
    from webapp.billing.models import Charge
    from webapp.jobs import jobqueue

    store = create_store("billed")
    user = create_user()
    for number in range(3):
        jobqueue.enqueue("knowledge.index_file", {"n": number}, run_after=utcnow() - timedelta(seconds=120))
    jobqueue.enqueue("stores.set_casdoor_homepage", {}, run_after=utcnow() + timedelta(hours=1))
    db.session.add(Charge(store_id=store.id, user_id=user.id, key=str(uuid.uuid4()), amount=1, currency="USD",
                          state="pending", chat_label="billed/chat-1", answered_at=utcnow(),
                          created_at=utcnow() - timedelta(seconds=300)))
    db.session.commit()
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    depth = {(labels["kind"], labels["state"]): value for labels, value in samples(text, "storehouse_job_queue_depth")}
    assert depth[("knowledge.index_file", "queued")] == 3 and depth[("stores.set_casdoor_homepage", "queued")] == 1
    ages = {labels["kind"]: value for labels, value in samples(text, "storehouse_job_oldest_due_age_seconds")}
    assert 100 <= ages["knowledge.index_file"] < 3600 and "stores.set_casdoor_homepage" not in ages  # not due yet
    assert re.search(r"^storehouse_charges_pending 1\.0$", text, re.M)
    lag = float(re.search(r"^storehouse_charge_delivery_lag_seconds (\S+)$", text, re.M).group(1))
    assert 250 <= lag < 3600


@pytest.mark.parametrize("app_config", [WITH_TOKEN])
def test_auth_cache_lookups_are_counted(app, client, create_user, app_config):
    user = create_user()
    token = client.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    before = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    for _ in range(3):
        assert client.get("/api/v1/me/", headers={"Authorization": f"Token {token}"}).status_code == 200
    after = client.get("/metrics", headers=AUTH).get_data(as_text=True)

    def hits(text):
        return sum(value for labels, value in samples(text, "storehouse_cache_lookups_total")
                   if labels["cache"] == "sessions" and labels["result"] == "hit")

    assert hits(after) - hits(before) >= 2


@pytest.mark.serial
def test_under_gunicorn_every_workers_requests_are_added_up(app, database_uri, tmp_path):
    """Two worker processes, one /metrics: the counts of both (prometheus-client multi-process mode)."""
    environment = {"DATABASE_URL": database_uri, "SECRET_KEY": "metrics-test-secret", "METRICS_TOKEN": TOKEN,
                   "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
                   "KNOWLEDGE_FILES_DIR": str(tmp_path / "files")}
    with GunicornApp(environment, tmp_path / "gunicorn.log", workers=2, threads=4) as server:
        for _ in range(40):
            # New connections: gunicorn hands them to whichever worker accepts first.
            assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200
        text = requests.get(f"{server.url}/metrics", headers=AUTH, timeout=30).text
        files = list((tmp_path / "prometheus").glob("counter_*.db"))
    healthz = [value for labels, value in samples(text, "storehouse_http_requests_total")
               if labels["route"] == "/healthz" and labels["status"] == "200"]
    assert sum(healthz) >= 40, text[:2000]
    assert len(files) >= 1
    assert "storehouse_job_queue_depth" in text
