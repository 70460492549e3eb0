"""The Homepage binding across a real socket: the development Casdoor server decides it.

Demo users (devcasdoor/seed/demo.json): alice has Homepage ``research``, bob none.
"""
import pytest

from tests.support.casdoor import sso_sign_in
from tests.support.client import post_form
from webapp.jobs.models import FAILED, QUEUED, Job
from webapp.stores import access
from webapp.users.models import User


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


@pytest.fixture
def stores(create_store):
    return {"general": create_store("general"), "research": create_store("research")}


def user_named(db, username):
    db.session.expire_all()
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one()


def casdoor_user(casdoor, name):
    return next(u for u in casdoor.controls.users() if u["owner"] == "storehouse" and u["name"] == name)


def test_sign_in_binds_alice_to_research(client, db, stores):
    response = sso_sign_in(client, "alice")
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/s/research/"
    page = client.get("/s/research/").get_data(as_text=True)
    assert 'data-locked="true"' in page
    assert client.get("/s/general/").status_code == 404
    assert [s["name"] for s in client.get("/api/v1/stores/").json["stores"]] == ["research"]


def test_homepage_change_at_casdoor_rebinds_on_the_next_sign_in(client, db, stores, casdoor):
    sso_sign_in(client, "bob")
    assert access.binding_of(user_named(db, "bob")).state == "unbound"
    assert client.get("/s/general/").status_code == 200

    casdoor.controls.patch_user("storehouse", "bob", homepage="general")
    fresh = client.application.test_client()
    sso_sign_in(fresh, "bob")
    assert access.bound_store(user_named(db, "bob")).name == "general"
    assert fresh.get("/s/research/").status_code == 404

    casdoor.controls.patch_user("storehouse", "bob", homepage="research")
    again = client.application.test_client()
    sso_sign_in(again, "bob")
    assert access.bound_store(user_named(db, "bob")).name == "research"
    assert again.get("/s/general/").status_code == 404 and again.get("/s/research/").status_code == 200


@pytest.mark.parametrize("fail_closed,expected", [(False, ["general", "research"]), (True, [])],
                         ids=["fail-open", "fail-closed"])
def test_homepage_matching_no_store(make_app, migrated, sso_app_config, casdoor, fail_closed, expected):
    app = make_app(**sso_app_config, STORE_BINDING_FAIL_CLOSED=fail_closed)
    from webapp.extensions import db
    from webapp.stores import service

    with app.app_context():
        try:
            service.create_store("general")
            service.create_store("research")
            db.session.commit()
            casdoor.controls.patch_user("storehouse", "bob", homepage="https://bob.example.com/")
            client = app.test_client()
            sso_sign_in(client, "bob")
            assert [s["name"] for s in client.get("/api/v1/stores/").json["stores"]] == expected
            if not expected:
                assert "STORE_BINDING_FAIL_CLOSED" in client.get("/").get_data(as_text=True)
        finally:
            from tests.support.database import clear_tables

            db.session.remove()
            clear_tables()


def test_rename_updates_the_homepage_in_casdoor(client, db, create_user, login, stores, casdoor, run_jobs):
    sso_sign_in(client.application.test_client(), "alice")  # alice is bound to research
    admin = create_user("root", is_admin=True)
    login(client, admin)
    page = client.get("/admin/stores/research/rename").get_data(as_text=True)
    assert "<td>alice</td>" in page and 'name="update_casdoor"' in page

    post_form(client, "/admin/stores/research/rename", {"name": "lab", "update_casdoor": "y"})
    assert "1 bound user(s) keep their store" in client.get("/admin/stores/").get_data(as_text=True)
    # Committed before Casdoor is asked; alice is bound to the renamed store meanwhile.
    assert casdoor_user(casdoor, "alice")["homepage"] == "research"
    assert access.bound_store(user_named(db, "alice")).name == "lab"
    assert run_jobs() == 1
    assert casdoor_user(casdoor, "alice")["homepage"] == "lab"
    assert user_named(db, "alice").casdoor_homepage == "lab"
    assert access.bound_store(user_named(db, "alice")).name == "lab"
    assert post_form(client, "/admin/stores/new", {"name": "research", "knowledge_count": "5",
                                                  "memory_limit": "10"}).status_code == 302, \
        "the former name is free once no Homepage says it"
    # The next sign-in brings the new Homepage back: still bound.
    again = client.application.test_client()
    sso_sign_in(again, "alice")
    assert again.get("/").headers["Location"] == "/s/lab/"


def test_casdoor_down_during_the_update_is_retried_and_alice_stays_bound(client, db, create_user, login, stores,
                                                                       casdoor, run_jobs):
    sso_sign_in(client.application.test_client(), "alice")
    login(client, create_user("root", is_admin=True))
    casdoor.controls.inject_fault("/api/get-user", "http500")
    post_form(client, "/admin/stores/research/rename", {"name": "lab", "update_casdoor": "y"})
    run_jobs()
    job = db.session.execute(db.select(Job)).scalar_one()
    assert job.state == QUEUED and job.attempts == 1 and "did not answer" in job.last_error
    assert access.bound_store(user_named(db, "alice")).name == "lab"
    db.session.execute(db.update(Job).values(run_after=job.created_at))  # the backoff passes
    db.session.commit()
    assert run_jobs() == 1
    assert casdoor_user(casdoor, "alice")["homepage"] == "lab"


def test_rename_reports_a_casdoor_refusal_and_alice_stays_bound(client, db, create_user, login, stores, casdoor,
                                                               run_jobs):
    sso_sign_in(client.application.test_client(), "alice")
    login(client, create_user("root", is_admin=True))
    casdoor.controls.inject_fault("/api/update-user", "envelope", msg="permission denied")
    post_form(client, "/admin/stores/research/rename", {"name": "lab", "update_casdoor": "y"})
    run_jobs()
    job = db.session.execute(db.select(Job)).scalar_one()
    assert job.state == FAILED and "permission denied" in job.last_error
    assert casdoor_user(casdoor, "alice")["homepage"] == "research"
    assert user_named(db, "alice").casdoor_homepage == "research"
    assert access.bound_store(user_named(db, "alice")).name == "lab", "never unbound by a failed update"
    assert 'data-testid="homepage-pending"' in client.get("/admin/users/").get_data(as_text=True)


def test_rename_without_the_update_leaves_casdoor_alone(client, db, create_user, login, stores, casdoor):
    sso_sign_in(client.application.test_client(), "alice")
    login(client, create_user("root", is_admin=True))
    post_form(client, "/admin/stores/research/rename", {"name": "lab"})
    assert casdoor_user(casdoor, "alice")["homepage"] == "research"
    assert "Not updated in Casdoor: alice." in client.get("/admin/stores/").get_data(as_text=True)
