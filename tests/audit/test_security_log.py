"""The security log: events written with what they record, the admin page, CSV, the API, retention."""
import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support.client import post_form
from tests.support.database import counting_queries
from webapp.audit import record_event
from webapp.audit.models import AuditEvent
from webapp.audit.retention import RETENTION_JOB
from webapp.core.clock import utcnow
from webapp.jobs import enqueue
from webapp.users.models import User

UA = {"User-Agent": "AuditTest/1.0"}


def events(db, kind=None):
    db.session.expire_all()
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    return db.session.execute(query).scalars().all()


def test_sign_in_failed_sign_in_and_sign_out_are_recorded_with_address_and_agent(client, db, create_user):
    alice = create_user("alice")
    failed = post_form(client, "/auth/login", {"email": alice.email, "password": "hunter2-typo"}, headers=UA)
    assert failed.status_code == 200
    [miss] = events(db, "sign-in-failed")
    assert miss.user_id == alice.id and miss.source == "password" and miss.user_agent == "AuditTest/1.0"
    assert "hunter2" not in str(miss.detail)   # the attempted password is never logged

    post_form(client, "/auth/login", {"email": alice.email, "password": alice.plain_password}, headers=UA)
    [sign_in] = events(db, "sign-in")
    assert (sign_in.username, sign_in.detail["method"], sign_in.ip) == ("alice", "password", "127.0.0.1")
    post_form(client, "/auth/logout")
    assert [e.username for e in events(db, "sign-out")] == ["alice"]


def test_api_tokens_password_changes_and_their_revoked_sessions_are_recorded(app, client, db, create_user, login):
    alice = create_user("alice")
    api = app.test_client().post("/api/v1/auth/login/", json={"email": alice.email,
                                                                "password": alice.plain_password})
    assert api.status_code == 200
    assert [e.source for e in events(db, "api-token-issued")] == ["password"]
    login(client, alice)
    response = post_form(client, "/settings/password", {"current_password": alice.plain_password,
                                                         "password": "a new long password",
                                                         "confirm": "a new long password"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert len(events(db, "password-changed")) == 1
    [revoked] = events(db, "session-revoked")
    assert revoked.detail == {"sessions": 1, "reason": "password changed"} and revoked.source == "self"


def test_administrators_actions_are_recorded_with_who_did_them(app, client, db, create_user, create_store, login):
    store = create_store("research")
    admin = create_user("root", is_admin=True)
    login(client, admin)
    response = post_form(client, "/admin/users/new", {"username": "lena", "email": "lena@example.com",
                                                      "password": "a long password 1", "display_name": "",
                                                      "store": "research"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    lena = db.session.execute(sa.select(User).filter_by(username="lena")).scalar_one()
    assert [(e.username, e.actor_name, e.source) for e in events(db, "account-created")][-1] == ("lena", "root",
                                                                                                  "admin")
    [granted] = events(db, "store-granted")
    assert (granted.store, granted.actor_name) == ("research", "root")
    post_form(client, f"/admin/users/{lena.id}/grants/{store.id}/revoke")
    assert [(e.store, e.actor_name) for e in events(db, "store-refused")] == [("research", "root")]
    post_form(client, f"/admin/users/{lena.id}/active", {"active": "0"})
    assert [(e.username, e.actor_name) for e in events(db, "account-disabled")] == [("lena", "root")]


def test_an_event_commits_or_rolls_back_with_what_it_records(app, db, create_user):
    alice = create_user("alice")
    record_event("admin-gained", user=alice, source="sync")
    db.session.rollback()
    assert events(db, "admin-gained") == []
    record_event("admin-gained", user=alice, source="sync")
    db.session.commit()
    [event] = events(db, "admin-gained")
    event.kind = "admin-lost"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


@pytest.fixture
def logged(db, create_user, create_store):
    """Events of three people on three days: alice (bound to research), bob (general), carol (unbound)."""
    create_store("research")
    create_store("general")
    people = {name: create_user(name, casdoor_homepage=home) for name, home in
              (("alice", "research"), ("bob", "general"), ("carol", None))}
    db.session.execute(sa.delete(AuditEvent))  # their creation; the fixture's own events follow
    now = utcnow()
    for days, (name, kind, store) in enumerate([("alice", "sign-in", ""), ("bob", "binding-changed", "general"),
                                                ("carol", "sign-in", ""), ("alice", "binding-changed", "research"),
                                                ("bob", "admin-gained", "")]):
        db.session.add(AuditEvent(kind=kind, user_id=people[name].id, username=name, store=store, source="sync",
                                  detail={"note": "=HYPERLINK(1)"}, created_at=now - timedelta(days=4 - days)))
    db.session.commit()
    return people


def test_the_page_filters_by_person_store_kind_and_date(client, db, create_user, login, logged):
    login(client, create_user("root", is_admin=True))
    page = client.get("/admin/security-log/")
    # the five, and root's own: account created, signed in
    assert page.status_code == 200 and page.get_data(as_text=True).count("<tr data-kind=") == 7
    assert client.get("/admin/security-log/?person=alice").get_data(as_text=True).count("<tr data-kind=") == 2
    assert client.get("/admin/security-log/?store=general").get_data(as_text=True).count("<tr data-kind=") == 1
    kind = client.get("/admin/security-log/?kind=binding-changed").get_data(as_text=True)
    assert kind.count("<tr data-kind=") == 2
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    assert client.get(f"/admin/security-log/?since={since}").get_data(as_text=True).count("<tr data-kind=") == 4
    bad = client.get("/admin/security-log/?kind=nonsense&since=yesterday")
    assert bad.status_code == 400 and "kind: must be one of" in bad.get_data(as_text=True)


def test_keyset_pages_and_the_api(app, client, db, create_user, login, logged):
    login(client, create_user("root", is_admin=True))
    first = client.get("/api/v1/audit/events?limit=4").get_json()
    assert len(first["events"]) == 4 and first["next_cursor"]
    rest = client.get(f"/api/v1/audit/events?limit=4&cursor={first['next_cursor']}").get_json()
    assert len(rest["events"]) == 3 and rest["next_cursor"] is None
    everything = first["events"] + rest["events"]
    assert [e["time"] for e in everything] == sorted((e["time"] for e in everything), reverse=True)
    bad = client.get("/api/v1/audit/events?kind=nonsense")
    assert bad.status_code == 422 and "kind" in bad.get_json()["fields"]
    assert client.get("/api/v1/audit/events?until=12/07").get_json()["fields"] == {
        "until": "must be a date such as 2026-12-07"}


def test_a_bound_administrator_sees_only_their_stores_people(client, db, create_user, login, logged):
    login(client, create_user("keeper", casdoor_homepage="research", is_admin=True))
    names = {e["person"] for e in client.get("/api/v1/audit/events").get_json()["events"]}
    assert names == {"alice", "keeper"}
    page = client.get("/admin/security-log/?person=bob").get_data(as_text=True)
    assert page.count("<tr data-kind=") == 0
    other = client.get("/admin/security-log/?store=general").get_data(as_text=True)
    assert other.count("<tr data-kind=") == 0 and 'value="general"' not in other
    own = client.get("/api/v1/audit/events?store=research").get_json()["events"]
    assert [e["person"] for e in own] == ["alice"]
    exported = client.get("/admin/security-log/export.csv").get_data(as_text=True)
    assert "bob" not in exported and "carol" not in exported


def test_people_who_are_not_administrators_get_nothing(client, db, create_user, login, logged):
    login(client, logged["alice"])
    assert client.get("/api/v1/audit/events").status_code == 403
    assert client.get("/admin/security-log/").status_code == 403
    assert client.get("/admin/security-log/export.csv").status_code == 403


def test_the_csv_export_follows_the_filters_and_defuses_formulas(client, db, create_user, login, logged):
    login(client, create_user("root", is_admin=True))
    response = client.get("/admin/security-log/export.csv?kind=binding-changed")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["time", "kind", "person"]
    assert [row[2] for row in rows[1:]] == ["alice", "bob"]
    assert all(row[8].startswith("note='=HYPERLINK") or "=HYPERLINK" not in row[8][:1] for row in rows[1:])
    assert not any(cell.startswith("=") for row in rows for cell in row)


@pytest.mark.parametrize("app_config", [{"AUDIT_RETENTION_DAYS": 2}], ids=["2-days"])
def test_events_past_the_retention_are_purged_by_the_job(app, db, run_jobs, logged):
    enqueue(RETENTION_JOB, {})
    db.session.commit()
    run_jobs()
    remaining = events(db)
    assert len(remaining) == 2 and all(e.created_at > utcnow() - timedelta(days=2) for e in remaining)


def test_security_log_page_api_and_csv_cost_the_same_statements_at_any_size(frozen_clock, app, client, db, create_user,
                                                                             create_store, login):
    """Each event names its person, actor and store: the page, the API and the CSV read them in
    the events' own rows, never once per row (the N+1 guard)."""
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    urls = ("/admin/security-log/", "/api/v1/audit/events", "/admin/security-log/export.csv")

    made = []

    def statements_with(count):
        for _ in range(count):
            made.append(create_user(f"person{len(made)}"))
            person = made[-1]
            record_event("store-granted", user=person, actor=admin, store=create_store(f"s{person.id}").name,
                         source="admin")
        db.session.commit()
        counts = []
        for url in urls:
            client.get(url)
            with counting_queries(db.engine) as statements:
                assert client.get(url).status_code == 200, url
            counts.append(len(statements))
        return counts

    assert statements_with(3) == statements_with(30)
