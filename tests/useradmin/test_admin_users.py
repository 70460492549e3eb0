"""The admin users page: search, local accounts made by administrators, grants, switching off.

Local accounts get stores only through grants, so these pages are how a local
user gets to work at all (sign-up is off by default).
"""
import pytest

from tests.support.client import post_form
from tests.support.database import counting_queries
from webapp.stores import service
from webapp.stores.models import StoreGrant
from webapp.users.models import User


@pytest.fixture
def stores(create_store):
    return {"general": create_store("general"), "research": create_store("research")}


def user_named(db, username):
    db.session.expire_all()
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()


def grants_of(db, user):
    return sorted(grant.store.name for grant in db.session.execute(
        db.select(StoreGrant).filter_by(user_id=user.id)).scalars())


def test_admin_creates_a_local_account_with_a_store_and_it_signs_in_to_that_store_only(
        app, db, client, create_user, login, stores):
    login(client, create_user("root", is_admin=True))
    created = post_form(client, "/admin/users/new", {
        "username": "nina", "email": "Nina@Example.com", "display_name": "Nina", "password": "a long secret",
        "store": "research"})
    assert created.status_code == 302
    nina = user_named(db, "nina")
    assert created.headers["Location"] == f"/admin/users/{nina.id}"
    assert (nina.email, nina.is_admin, grants_of(db, nina)) == ("nina@example.com", False, ["research"])

    other = app.test_client()
    assert post_form(other, "/auth/login", {"email": "nina@example.com", "password": "a long secret"}
                     ).status_code == 302
    assert other.get("/s/research/").status_code == 200
    assert other.get("/s/general/").status_code == 404


def test_create_account_reports_every_problem_at_once_and_creates_nothing(app, db, client, create_user, login,
                                                                          stores):
    login(client, create_user("root", is_admin=True))
    page = post_form(client, "/admin/users/new", {
        "username": "x", "email": "not-an-email", "password": "short", "store": "nowhere"}).get_data(as_text=True)
    assert "Use at least 3 letters" in page
    assert "Enter an email address like name@example.com." in page
    assert "Use 8 to 200 characters." in page
    assert "There is no store named &#39;nowhere&#39;" in page
    assert db.session.execute(db.select(User).filter_by(username="x")).first() is None

    create_user("taken", email="taken@example.com")
    clash = post_form(client, "/admin/users/new", {
        "username": "TAKEN", "email": "new@example.com", "password": "a long secret"}).get_data(as_text=True)
    assert "The username &#39;TAKEN&#39; is taken" in clash
    assert user_named(db, "TAKEN") is None


def test_grant_and_revoke_take_effect_on_the_users_next_request(app, db, client, create_user, login, stores):
    admin = create_user("root", is_admin=True)
    dave = create_user("dave")
    login(client, admin)
    dave_client = app.test_client()
    login(dave_client, dave)
    assert dave_client.get("/s/general/").status_code == 404

    assert post_form(client, f"/admin/users/{dave.id}/grants/", {"store": "general"}).status_code == 302
    assert grants_of(db, dave) == ["general"]
    assert dave_client.get("/s/general/").status_code == 200
    page = client.get(f"/admin/users/{dave.id}").get_data(as_text=True)
    assert 'data-grant="general"' in page and "A local account: uses only the stores given below." in page

    # Granting twice is harmless; an unknown store is named in the message.
    post_form(client, f"/admin/users/{dave.id}/grants/", {"store": "general"})
    assert grants_of(db, dave) == ["general"]
    refused = post_form(client, f"/admin/users/{dave.id}/grants/", {"store": "nope"}, follow_redirects=True)
    assert "There is no store named &#39;nope&#39;" in refused.get_data(as_text=True)

    general = stores["general"]
    assert post_form(client, f"/admin/users/{dave.id}/grants/{general.id}/revoke").status_code == 302
    assert grants_of(db, dave) == []
    assert dave_client.get("/s/general/").status_code == 404


def test_switching_an_account_off_signs_it_out_everywhere(app, db, client, create_user, login, stores):
    admin = create_user("root", is_admin=True)
    dave = create_user("dave", is_admin=True)
    login(client, admin)
    dave_client = app.test_client()
    login(dave_client, dave)
    assert dave_client.get("/admin/users/").status_code == 200

    assert post_form(client, f"/admin/users/{dave.id}/active", {"active": "0"}).status_code == 302
    assert user_named(db, "dave").is_active is False
    assert dave_client.get("/admin/users/").status_code in (302, 401)
    assert post_form(app.test_client(), "/auth/login", {"email": dave.email, "password": dave.plain_password}
                     ).status_code != 302

    # Never one's own account.
    post_form(client, f"/admin/users/{admin.id}/active", {"active": "0"})
    assert user_named(db, "root").is_active is True

    assert post_form(client, f"/admin/users/{dave.id}/active", {"active": "1"}).status_code == 302
    assert user_named(db, "dave").is_active is True


def test_bound_admins_read_their_stores_people_but_change_nothing(app, db, client, create_user, login, stores):
    alice = create_user("alice", casdoor_homepage="research")
    gina = create_user("gina", casdoor_homepage="general")
    lead = create_user("lead", casdoor_homepage="research", is_admin=True)
    login(client, lead)
    assert client.get(f"/admin/users/{alice.id}").status_code == 200
    assert client.get(f"/admin/users/{gina.id}").status_code == 404  # another store's people stay unseen
    assert 'data-testid="add-user"' not in client.get("/admin/users/").get_data(as_text=True)
    assert client.get("/admin/users/new").status_code == 403
    assert post_form(client, f"/admin/users/{alice.id}/grants/", {"store": "general"}).status_code == 403
    assert grants_of(db, alice) == []
    assert post_form(client, f"/admin/users/{alice.id}/active", {"active": "0"}).status_code == 403
    assert user_named(db, "alice").is_active is True


def test_non_admins_reach_none_of_it(app, client, create_user, login, stores):
    dave = create_user("dave")
    login(client, dave)
    for path in ("/admin/users/", "/admin/users/new", f"/admin/users/{dave.id}"):
        assert client.get(path).status_code == 403, path
    assert post_form(client, f"/admin/users/{dave.id}/grants/", {"store": "general"}).status_code == 403


def test_search_by_name_or_email_prefix_case_insensitive(app, client, create_user, login, stores):
    login(client, create_user("root", is_admin=True))
    create_user("alice", email="alice@example.com")
    create_user("bob", email="robert@corp.example", display_name="Bobby Tables")
    create_user("al_ex", email="alex@example.com")

    def found(q):
        page = client.get("/admin/users/", query_string={"q": q}).get_data(as_text=True)
        return sorted(name for name in ("alice", "bob", "al_ex", "root") if f'data-user="{name}"' in page)

    assert found("AL") == ["al_ex", "alice"]
    assert found("robert@") == ["bob"]
    assert found("bobby") == ["bob"]
    assert found("al_") == ["al_ex"]  # '_' is a character here, not a wildcard
    assert found("%") == []
    assert "Nobody&#39;s name or email starts with" in client.get("/admin/users/?q=zz").get_data(as_text=True)
    assert client.get("/admin/users/?q=a%00b").status_code == 400


def test_user_pages_do_a_bounded_number_of_queries(frozen_clock, app, db, client, create_user, login, stores):
    admin = create_user("root", is_admin=True)
    login(client, admin)
    client.get("/admin/users/")  # warm the session and user caches: they are not what is measured
    few = []
    for rows in (3, 30):
        for number in range(len(few), rows):
            user = create_user(f"user{number:03}")
            service.grant_store(user, stores["general"])
            few.append(user)
        db.session.commit()
        engine = db.engine
        with counting_queries(engine) as listing:
            assert client.get("/admin/users/").status_code == 200
        with counting_queries(engine) as detail:
            assert client.get(f"/admin/users/{few[0].id}").status_code == 200
        if rows == 3:
            baseline = (len(listing), len(detail))
    assert (len(listing), len(detail)) == baseline
