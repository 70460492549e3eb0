"""Stores: binding rules, the selector, admin pages, rename and delete, documents, CLI."""
import re

import pytest

from tests.support.client import csrf_token, post_form
from webapp.core.clock import utcnow
from webapp.extensions import db as _db
from webapp.stores import access, service
from webapp.stores.models import Document, Store
from webapp.stores.service import StoreError
from webapp.users.models import User


def delete(client, path):
    """DELETE from a signed-in browser session: needs the CSRF header (API tokens do not)."""
    return client.delete(path, headers={"X-CSRFToken": csrf_token(client)})


def store_named(db, name):
    db.session.expire_all()
    return db.session.execute(db.select(Store).filter_by(name=name)).scalar_one_or_none()


@pytest.fixture
def stores(create_store):
    """general (default), research, archive (inactive)."""
    return {
        "general": create_store("general", display_name="General"),
        "research": create_store("research", display_name="Research"),
        "archive": create_store("archive", display_name="Archive", is_active=False),
    }


# --- names --------------------------------------------------------------------------

@pytest.mark.parametrize("name,message", [
    ("", "Enter a store name."),
    ("   ", "Enter a store name."),
    ("x" * 65, "at most 64 characters; this one has 65"),
    ("x" * 101, "at most 64 characters; this one has 101"),
    ("Data Science", "cannot contain a space"),
    ("a/b", "cannot contain '/'"),
    ("what?", "cannot contain '?'"),
    ("a:b", "cannot contain ':'"),
    ("a#b", "cannot contain '#'"),
    ("50%", "cannot contain '%'"),
    ("a+b", "cannot contain '+'"),
    ("a/b?c", "cannot contain '/', '?'"),
    ("café", "cannot contain 'é'"),
    ("tab\there", "cannot contain U+0009"),
    ("nul\x00", "cannot contain U+0000"),
    (".", "must start with a letter or digit"),
    ("..", "must start with a letter or digit"),
    (".hidden", "must start with a letter or digit"),
    ("-flag", "must start with a letter or digit"),
    ("_x", "must start with a letter or digit"),
])
def test_store_name_rules_say_what_is_wrong(app, name, message):
    with pytest.raises(StoreError) as info:
        service.validate_store_name(name)
    assert message in info.value.message
    assert info.value.field == "name"


@pytest.mark.parametrize("name", ["a", "research", "team-2", "R_and_D", "v1.2", "9lives", "x" * 64])
def test_store_names_that_fit_the_rule(app, name):
    assert service.validate_store_name(name) == name


def test_names_are_unique_ignoring_case_and_trimmed(app, create_store):
    create_store("Research")
    with pytest.raises(StoreError, match="A store named 'Research' already exists"):
        service.validate_store_name(" research ")
    assert service.validate_store_name("  data-science  ") == "data-science"


def test_create_form_shows_the_error_next_to_the_name(app, client, create_user, login):
    login(client, create_user(is_admin=True))
    response = post_form(client, "/admin/stores/new", {"name": "team/a", "knowledge_count": "5",
                                                      "memory_limit": "10", "model_provider": "local"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "A store name cannot contain &#39;/&#39;" in page and 'class="field-error"' in page
    response = post_form(client, "/admin/stores/new", {"name": "team", "knowledge_count": "500",
                                                      "memory_limit": "10", "model_provider": "local"})
    assert "Knowledge chunks per answer must be a whole number from 1 to 50." in response.get_data(as_text=True)


# --- the default store ------------------------------------------------------------------

def test_exactly_one_default_and_it_cannot_be_deleted(app, db, client, create_user, login, stores):
    assert stores["general"].is_default and not stores["research"].is_default
    admin = create_user(is_admin=True)
    login(client, admin)
    assert post_form(client, "/admin/stores/research/make-default").status_code == 302
    assert [s.name for s in db.session.execute(db.select(Store).filter_by(is_default=True)).scalars()] == \
        ["research"]

    page = client.get("/admin/stores/research/delete").get_data(as_text=True)
    assert "default store, so it cannot be deleted" in page and "Delete store and its documents" not in page
    refused = post_form(client, "/admin/stores/research/delete")
    assert refused.status_code == 409
    assert "The default store cannot be deleted" in refused.get_data(as_text=True)
    assert store_named(db, "research") is not None
    with pytest.raises(StoreError, match="cannot be deactivated"):
        service.update_store_settings(store_named(db, "research"), {}, is_active=False)


def test_the_database_refuses_a_second_default(app, db, stores):
    import sqlalchemy as sa

    stores["research"].is_default = True
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_first_store_becomes_the_default(app, db):
    first = service.create_store("first")
    second = service.create_store("second")
    assert first.is_default and not second.is_default


# --- who sees which stores --------------------------------------------------------------

def names(stores):
    return [store.name for store in stores]


def accessible(user):
    """Names of the stores ``user`` may use (the default first, then by name)."""
    query = access.accessible_stores_query(user).order_by(Store.is_default.desc(), Store.name)
    return names(_db.session.execute(query).scalars())


def casdoor_session(user):
    """``user`` as in a fresh Casdoor session (what webapp.auth.current decides per request)."""
    from webapp.auth.current import apply_session_kind

    user.casdoor_sub = user.casdoor_sub or f"sub-{user.username}"
    user.casdoor_last_login_at = utcnow()
    return apply_session_kind(user, "casdoor")


def test_local_accounts_see_the_stores_granted_to_them(app, create_user, grant, stores):
    assert accessible(create_user()) == [], "no store until an administrator grants one"
    assert accessible(grant(create_user(), stores["research"], stores["archive"])) == ["research"]
    assert accessible(create_user(is_admin=True)) == ["general", "archive", "research"]
    assert accessible(None) == []


def test_casdoor_sessions_of_unbound_users_see_every_active_store(app, create_user, stores):
    assert accessible(casdoor_session(create_user())) == ["general", "research"]


def test_casdoor_privileges_need_a_casdoor_session_and_a_fresh_profile(app, create_user, stores):
    """A local password is not a way around Casdoor: its admin flag and "every store" need a
    Casdoor session, and lapse when the profile is older than CASDOOR_PROFILE_MAX_AGE_HOURS."""
    from datetime import timedelta

    from webapp.auth.current import apply_session_kind

    user = create_user(casdoor_is_admin=True)
    assert casdoor_session(user).is_effective_admin
    assert accessible(user) == ["general", "archive", "research"]
    assert not apply_session_kind(user, "password").is_effective_admin
    assert accessible(user) == []
    user.casdoor_last_login_at = utcnow() - timedelta(hours=app.config["CASDOOR_PROFILE_MAX_AGE_HOURS"] + 1)
    assert not apply_session_kind(user, "casdoor").is_effective_admin
    assert accessible(user) == []


def test_bound_user_sees_exactly_their_store_whatever_the_session(app, create_user, grant, stores):
    user = grant(create_user(casdoor_homepage="research"), stores["general"])
    assert accessible(user) == ["research"], "a grant does not widen a binding"
    assert accessible(casdoor_session(user)) == ["research"]
    assert access.bound_store(user).name == "research"
    assert access.binding_of(user).describe == "bound to store 'research'"


def test_binding_is_exact(app, create_user, stores):
    """Casdoor compares the Homepage with the name as it is: 'Research' is not 'research'."""
    user = create_user(casdoor_homepage="Research")
    assert access.binding_of(user).state == "unmatched"


def test_bound_to_an_inactive_store_means_no_store(app, client, create_user, login, stores):
    user = create_user(casdoor_homepage="archive")
    assert accessible(user) == []
    login(client, user)
    page = client.get("/").get_data(as_text=True)
    assert "bound to store <code>archive</code>" in page and "switched off" in page


@pytest.mark.parametrize("app_config,expected", [
    ({"STORE_BINDING_FAIL_CLOSED": False}, ["general", "research"]),
    ({"STORE_BINDING_FAIL_CLOSED": True}, []),
], ids=["fail-open", "fail-closed"])
def test_unmatched_homepage(app, client, create_user, grant, login, stores, expected):
    user = grant(create_user(casdoor_homepage="https://example.com/~me"), stores["general"], stores["research"])
    binding = access.binding_of(user)
    assert binding.state == "unmatched" and not binding.is_bound
    assert accessible(user) == expected
    login(client, user)
    home = client.get("/")
    if expected:
        assert home.headers["Location"] == "/s/general/"
        assert client.get("/s/research/").status_code == 200
    else:
        page = home.get_data(as_text=True)
        assert home.status_code == 200 and "STORE_BINDING_FAIL_CLOSED" in page
        assert "<code>https://example.com/~me</code>, which is not" in page
        assert client.get("/s/general/").status_code == 404
        assert client.get("/api/v1/stores/").json["stores"] == []


# --- home page and selector ----------------------------------------------------------------

def test_home_goes_to_the_bound_store_else_last_used_else_default(app, client, create_user, grant, login,
                                                                   stores):
    bound = create_user(casdoor_homepage="research")
    login(client, bound)
    assert client.get("/").headers["Location"] == "/s/research/"

    other = client.application.test_client()
    login(other, grant(create_user(), stores["general"], stores["research"]))
    assert other.get("/").headers["Location"] == "/s/general/"
    other.get("/s/research/documents/")
    assert other.get("/").headers["Location"] == "/s/research/"


def test_home_without_any_store_explains(app, client, create_user, login):
    login(client, create_user(is_admin=True))
    page = client.get("/").get_data(as_text=True)
    assert "There is no store yet" in page and "/admin/stores/new" in page


def test_home_without_a_grant_says_who_to_ask(app, client, create_user, login, stores):
    create_user("boss", display_name="Bea Boss", is_admin=True)
    login(client, create_user())
    home = client.get("/")
    page = home.get_data(as_text=True)
    assert home.status_code == 200 and 'data-testid="no-grant"' in page
    assert "Bea Boss" in page and "boss@example.com" in page
    assert client.get("/s/general/").status_code == 404


def test_selector_lists_the_accessible_stores_and_keeps_the_page(app, client, create_user, grant, login, stores):
    login(client, grant(create_user(), stores["general"], stores["research"], stores["archive"]))
    page = client.get("/s/general/documents/").get_data(as_text=True)
    assert 'data-testid="store-selector" data-locked="false"' in page
    assert 'href="/s/research/documents/"' in page and 'href="/s/general/documents/"' in page
    assert "archive" not in page  # inactive: hidden from non-admins
    assert 'data-testid="admin-link"' not in page


def test_selector_is_locked_for_a_bound_user(app, client, create_user, login, stores):
    login(client, create_user(casdoor_homepage="research", is_admin=True))
    page = client.get("/s/research/").get_data(as_text=True)
    assert 'data-locked="true"' in page and "<select id=\"store-select\" disabled" in page
    assert "bound to store &#39;research&#39; by its Casdoor Homepage" in page
    assert "/s/general/" not in page and "General" not in page
    assert client.get("/s/general/").status_code == 404


# --- bound administrators -----------------------------------------------------------------

def test_bound_admin_limits(app, db, client, create_user, login, stores):
    login(client, create_user(casdoor_homepage="research", is_admin=True))
    listing = client.get("/admin/stores/").get_data(as_text=True)
    assert 'data-store="research"' in listing and 'data-store="general"' not in listing
    for control in ('data-testid="add-store"', 'data-testid="rename-store"', 'data-testid="delete-store"',
                    "Make default"):
        assert control not in listing

    expected = "Your account is bound to store &#39;research&#39; by its Casdoor Homepage"
    for path in ("/admin/stores/new", "/admin/stores/research/rename", "/admin/stores/research/delete",
                 "/admin/stores/research/make-default"):
        response = post_form(client, path, {"name": "x", "knowledge_count": "5", "memory_limit": "10"})
        assert response.status_code == 403, path
        assert expected in response.get_data(as_text=True), path
    assert client.get("/admin/stores/new").status_code == 403

    api = client.post("/api/v1/stores/", json={"name": "mine"})
    assert api.status_code == 403 and api.json["error"] == "store_binding"
    assert "bound to store 'research'" in api.json["message"]
    assert client.patch("/api/v1/s/research/", json={"name": "renamed"}).status_code == 403
    assert delete(client, "/api/v1/s/research/").status_code == 403

    # Settings of their own store: allowed, but not the name or the on/off switch.
    form = client.get("/admin/stores/research/edit").get_data(as_text=True)
    assert 'name="is_active"' not in form and 'name="name"' not in form
    saved = post_form(client, "/admin/stores/research/edit", {
        "display_name": "Research Lab", "welcome_text": "Hi", "knowledge_count": "8", "memory_limit": "4",
        "model_provider": "local"})
    assert saved.status_code == 302
    research = store_named(db, "research")
    assert (research.display_name, research.knowledge_count, research.is_active) == ("Research Lab", 8, True)
    assert client.patch("/api/v1/s/research/", json={"system_prompt": "Be brief."}).status_code == 200
    assert client.get("/admin/stores/general/edit").status_code == 404
    assert store_named(db, "research").name == "research" and store_named(db, "general") is not None


def test_non_admins_get_no_admin_pages(app, client, create_user, login, stores):
    login(client, create_user())
    assert client.get("/admin/stores/").status_code == 403
    assert client.get("/admin/users/").status_code == 403
    assert client.post("/api/v1/stores/", json={"name": "x"}).status_code == 403


# --- admin pages --------------------------------------------------------------------------

def test_admin_store_list_counts_and_empty_state(app, client, create_user, login, create_document):
    admin = create_user(is_admin=True)
    login(client, admin)
    empty = client.get("/admin/stores/").get_data(as_text=True)
    assert "No stores yet." in empty and "Create the first one" in empty

    research = service.create_store("research")
    service.create_store("general")
    app.extensions["sqlalchemy"].session.commit()
    create_document(research, author=admin)
    create_document(research, author=admin)
    create_user(casdoor_homepage="research")
    page = client.get("/admin/stores/").get_data(as_text=True)
    row = page.split('data-store="research"')[1].split("</tr>")[0]
    assert '<td data-count="documents">2</td>' in row and '<td data-count="bound_users">1</td>' in row
    assert "default" in row


def test_create_edit_and_deactivate(app, db, client, create_user, login, stores):
    login(client, create_user(is_admin=True))
    created = post_form(client, "/admin/stores/new", {
        "name": "legal", "display_name": "Legal", "knowledge_count": "3", "memory_limit": "0", "is_active": "y"})
    assert created.status_code == 302
    assert "Created store &#39;legal&#39;." in client.get(created.headers["Location"]).get_data(as_text=True)
    legal = store_named(db, "legal")
    assert (legal.knowledge_count, legal.memory_limit, legal.is_default) == (3, 0, False)
    assert post_form(client, "/admin/stores/legal/edit", {"knowledge_count": "3", "memory_limit": "0",
                                                         "model_provider": "local"}).status_code == 302
    assert store_named(db, "legal").is_active is False
    duplicate = post_form(client, "/admin/stores/new", {"name": "LEGAL", "knowledge_count": "3",
                                                       "memory_limit": "0"})
    assert "A store named &#39;legal&#39; already exists" in duplicate.get_data(as_text=True)


def test_users_page_shows_homepage_binding_and_last_sign_in(app, client, create_user, login, stores):
    admin = create_user("root", is_admin=True)
    create_user("alice", casdoor_homepage="research")
    create_user("carol", casdoor_homepage="nowhere")
    create_user("dave")
    login(client, admin)
    page = client.get("/admin/users/").get_data(as_text=True)

    def row(username):
        return page.split(f'data-user="{username}"')[1].split("</tr>")[0]

    assert "bound to research" in row("alice")
    assert "<code>nowhere</code>" in row("carol") and "matches no store → not bound" in row("carol")
    assert "stores given to them" in row("dave") and "never" in row("dave")
    assert 'data-testid="fail-open-warning"' in page
    assert "never" not in row("root")  # signed in just now


def test_bound_admin_sees_only_their_stores_users(app, client, create_user, login, stores):
    create_user("alice", casdoor_homepage="research")
    create_user("gina", casdoor_homepage="general")
    login(client, create_user("lead", casdoor_homepage="research", is_admin=True))
    page = client.get("/admin/users/").get_data(as_text=True)
    assert 'data-user="alice"' in page and 'data-user="gina"' not in page and "general" not in page


# --- rename and delete with bound users ------------------------------------------------------

def test_rename_keeps_bound_users_bound_and_explains_shadow_mode(app, db, client, create_user, login, stores):
    """A rename never changes anybody's access: the former name keeps binding its users."""
    login(client, create_user(is_admin=True))
    create_user("alice", casdoor_homepage="research", casdoor_name="alice")
    create_user("bea", casdoor_homepage="research", casdoor_name="bea")
    page = client.get("/admin/stores/research/rename").get_data(as_text=True)
    assert "2 user(s) are bound to this store" in page and "They keep this store after the rename" in page
    assert "<td>alice</td>" in page and "<td>bea</td>" in page
    assert 'data-testid="casdoor-unavailable"' in page and 'name="update_casdoor"' not in page

    done = post_form(client, "/admin/stores/research/rename", {"name": "research-2024"})
    assert done.headers["Location"] == "/admin/stores/"
    flashes = client.get("/admin/stores/").get_data(as_text=True)
    assert "Renamed store &#39;research&#39; to &#39;research-2024&#39;." in flashes
    assert "Not updated in Casdoor: alice, bea. They stay bound to this store through its former name" in flashes
    alice = db.session.execute(db.select(User).filter_by(username="alice")).scalar_one()
    assert alice.casdoor_homepage == "research"
    binding = access.binding_of(alice)
    assert binding.is_bound and binding.store.name == "research-2024"
    users = client.get("/admin/users/").get_data(as_text=True)
    assert users.count('data-testid="homepage-pending"') == 2

    # Alice's Homepage is changed in Casdoor by hand; her next sign-in brings it.
    alice.casdoor_homepage = "research-2024"
    db.session.commit()
    blocked = post_form(client, "/admin/stores/new", {"name": "research", "knowledge_count": "5",
                                                     "memory_limit": "10"})
    assert "some users&#39; Casdoor Homepage still says it" in blocked.get_data(as_text=True), \
        "a new store must not catch bea, still bound through the former name"


def test_rename_validation_and_old_address(app, client, create_user, login, stores):
    login(client, create_user(is_admin=True))
    refused = post_form(client, "/admin/stores/research/rename", {"name": "General"})
    assert "A store named &#39;general&#39; already exists" in refused.get_data(as_text=True)
    assert post_form(client, "/admin/stores/research/rename", {"name": "lab"}).status_code == 302
    assert client.get("/s/research/").status_code == 404
    assert client.get("/s/lab/").status_code == 200


def test_rename_queues_one_homepage_job_per_casdoor_user(app, db, client, create_user, login, stores,
                                                          monkeypatch):
    """The rename commits at once; Casdoor is asked afterwards, by durable jobs (run against the
    development Casdoor in tests/stores/test_stores_casdoor.py)."""
    from webapp.jobs.models import Job

    monkeypatch.setattr("webapp.stores.service.casdoor_integration", lambda: object())
    login(client, create_user(is_admin=True))
    alice = create_user("alice", casdoor_homepage="research", casdoor_name="alice")
    bea = create_user("bea", casdoor_homepage="research", casdoor_name="bea")
    create_user("local", casdoor_homepage="research")
    page = client.get("/admin/stores/research/rename").get_data(as_text=True)
    checkbox = re.search(r'<input[^>]*\bid="update_casdoor"[^>]*>', page).group(0)
    assert 'type="checkbox"' in checkbox and re.search(r"\schecked[\s>]", checkbox)  # ticked by default

    post_form(client, "/admin/stores/research/rename", {"name": "lab", "update_casdoor": "y"})
    jobs = db.session.execute(db.select(Job).order_by(Job.id)).scalars().all()
    assert [(job.kind, job.payload["user_id"]) for job in jobs] == [
        ("stores.set_casdoor_homepage", alice.id), ("stores.set_casdoor_homepage", bea.id)]
    flashes = client.get("/admin/stores/").get_data(as_text=True)
    assert "2 bound user(s) keep their store. Casdoor is being asked" in flashes
    assert "Not updated in Casdoor: local." in flashes
    assert store_named(db, "lab") is not None


def test_rename_without_the_checkbox_queues_nothing(app, db, client, create_user, login, stores, monkeypatch):
    from webapp.jobs.models import Job

    monkeypatch.setattr("webapp.stores.service.casdoor_integration", lambda: object())
    login(client, create_user(is_admin=True))
    create_user("alice", casdoor_homepage="research", casdoor_name="alice")
    post_form(client, "/admin/stores/research/rename", {"name": "lab"})
    assert db.session.execute(db.select(Job)).first() is None
    assert "Not updated in Casdoor: alice." in client.get("/admin/stores/").get_data(as_text=True)


@pytest.mark.parametrize("app_config,fallback", [
    ({"STORE_BINDING_FAIL_CLOSED": False}, "every store"),
    ({"STORE_BINDING_FAIL_CLOSED": True}, "no store"),
], ids=["fail-open", "fail-closed"])
def test_delete_names_documents_and_bound_users(app, db, client, create_user, login, stores, create_document,
                                                fallback):
    admin = create_user(is_admin=True)
    login(client, admin)
    create_document(stores["research"], author=admin)
    kept = create_document(stores["general"], author=admin)
    create_user("alice", casdoor_homepage="research")
    page = client.get("/admin/stores/research/delete").get_data(as_text=True)
    assert "Documents: <strong>1</strong>" in page and "1 user(s) are bound to this store" in page
    assert "<td>alice</td>" in page

    assert post_form(client, "/admin/stores/research/delete").status_code == 302
    flashes = client.get("/admin/stores/").get_data(as_text=True)
    assert "Deleted store &#39;research&#39; (" in flashes and "documents: 1," in flashes  # among the owned tables
    assert f"alice. It matches no store now, so they can use {fallback}" in flashes
    assert store_named(db, "research") is None
    assert [d.id for d in db.session.execute(db.select(Document)).scalars()] == [kept.id]


def test_api_delete_with_bound_users_needs_confirmation(app, db, client, create_user, login, stores):
    login(client, create_user(is_admin=True))
    create_user("alice", casdoor_homepage="research")
    refused = delete(client, "/api/v1/s/research/")
    assert refused.status_code == 409 and "(alice)" in refused.json["message"]
    done = delete(client, "/api/v1/s/research/?confirm=true")
    assert done.status_code == 200 and done.json["unbound_users"] == ["alice"]
    assert delete(client, "/api/v1/s/general/?confirm=true").status_code == 409  # the default


# --- documents -----------------------------------------------------------------------------

def test_documents_pages(app, db, client, create_user, grant, login, stores):
    author = grant(create_user(), stores["general"])
    login(client, author)
    assert "No documents yet." in client.get("/s/general/documents/").get_data(as_text=True)
    blank = post_form(client, "/s/general/documents/new", {"title": "  ", "body": "x"})
    assert "Enter a title." in blank.get_data(as_text=True)
    created = post_form(client, "/s/general/documents/new", {"title": "Handbook", "body": "Read me."})
    document = db.session.execute(db.select(Document)).scalar_one()
    assert created.headers["Location"] == f"/s/general/documents/{document.id}"
    assert "Read me." in client.get(created.headers["Location"]).get_data(as_text=True)
    post_form(client, f"/s/general/documents/{document.id}/edit", {"title": "Handbook v2", "body": "New."})
    assert "Handbook v2" in client.get("/s/general/documents/").get_data(as_text=True)

    stranger = client.application.test_client()
    login(stranger, grant(create_user(), stores["general"]))
    assert stranger.get(f"/s/general/documents/{document.id}").status_code == 200
    assert post_form(stranger, f"/s/general/documents/{document.id}/delete").status_code == 403

    confirm = client.get(f"/s/general/documents/{document.id}/delete").get_data(as_text=True)
    assert "Delete “Handbook v2”?" in confirm
    assert post_form(client, f"/s/general/documents/{document.id}/delete").status_code == 302
    assert db.session.execute(db.select(Document)).first() is None


def test_documents_api(app, client, create_user, login, stores):
    login(client, create_user(casdoor_homepage="research"))
    empty = client.post("/api/v1/s/research/documents/", json={"title": ""})
    assert empty.status_code == 422 and empty.json["fields"] == {"title": "must not be empty"}
    created = client.post("/api/v1/s/research/documents/", json={"title": "Notes", "body": "b"})
    assert created.status_code == 201 and created.json["document"]["store"] == "research"
    doc_id = created.json["document"]["id"]
    assert [d["id"] for d in client.get("/api/v1/s/research/documents/").json["documents"]] == [doc_id]
    assert client.patch(f"/api/v1/s/research/documents/{doc_id}", json={"body": "c"}).json["document"]["body"] == "c"
    assert client.get(f"/api/v1/s/general/documents/{doc_id}").status_code == 404
    assert delete(client, f"/api/v1/s/research/documents/{doc_id}").status_code == 200
    assert client.get(f"/api/v1/s/research/documents/{doc_id}").status_code == 404


def test_stores_api_lists_with_the_bound_flag(app, client, create_user, login, stores):
    login(client, create_user(casdoor_homepage="research"))
    listing = client.get("/api/v1/stores/").json
    assert listing["bound"] is True and listing["can_manage_stores"] is False
    assert [(s["name"], s["bound"]) for s in listing["stores"]] == [("research", True)]
    assert client.get("/api/v1/s/research/").json["store"]["bound"] is True


def test_api_token_clients_go_through_the_same_chokepoint(app, client, create_user, stores):
    user = create_user(casdoor_homepage="research")
    token = client.post("/api/v1/auth/login/", json={"email": user.email, "password": user.plain_password}).json["token"]
    api = app.test_client()
    headers = {"Authorization": f"Token {token}"}
    assert api.get("/api/v1/s/research/", headers=headers).status_code == 200
    assert api.get("/api/v1/s/general/", headers=headers).status_code == 404
    assert api.get("/api/v1/s/general/").status_code == 401


def test_admin_api_creates_and_updates(app, db, client, create_user, login, stores):
    login(client, create_user(is_admin=True))
    bad = client.post("/api/v1/stores/", json={"name": "a#b"})
    assert bad.status_code == 422 and "cannot contain '#'" in bad.json["fields"]["name"]
    created = client.post("/api/v1/stores/", json={"name": "lab", "knowledge_count": 9})
    assert created.status_code == 201 and created.json["store"]["knowledge_count"] == 9
    made_default = client.patch("/api/v1/s/lab/", json={"is_default": True})
    assert made_default.json["store"]["is_default"] is True
    assert store_named(db, "general").is_default is False


def test_anonymous_visitors_are_sent_to_sign_in(app, client, stores):
    response = client.get("/s/general/documents/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login?next=")
    assert client.get("/api/v1/s/general/documents/").status_code == 401


# --- CLI -------------------------------------------------------------------------------------

def test_cli_bootstrap_and_list(app, db, create_user):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stores", "bootstrap"])
    assert result.exit_code == 0, result.output
    assert "Created store 'general' (default)" in result.output and "Created store 'research'" in result.output
    assert "no bootstrap needed" in runner.invoke(args=["stores", "bootstrap"]).output
    create_user(casdoor_homepage="research")
    listing = runner.invoke(args=["stores", "list"]).output
    assert "general" in listing and "default" in listing
    assert [line for line in listing.splitlines() if line.startswith("research")][0].split()[3] == "1"


@pytest.mark.parametrize("app_config", [{"STORE_BINDING_FAIL_CLOSED": True}])
def test_an_admin_shut_out_by_fail_closed_manages_nothing(app, client, create_user, login, stores):
    create_user("alice", casdoor_homepage="research")
    login(client, create_user(casdoor_homepage="elsewhere", is_admin=True))
    page = client.get("/admin/stores/").get_data(as_text=True)
    assert 'data-testid="shut-out-note"' in page and "No stores you can use." in page
    assert 'data-testid="add-store"' not in page
    refused = post_form(client, "/admin/stores/new", {"name": "mine", "knowledge_count": "5", "memory_limit": "1"})
    assert refused.status_code == 403 and "STORE_BINDING_FAIL_CLOSED" in refused.get_data(as_text=True)
    assert 'data-user="alice"' not in client.get("/admin/users/").get_data(as_text=True)


def test_names_made_before_the_rule_keep_working(app, db, client, create_user, login, create_store):
    """Stores named with spaces or accents before the name rule existed: reachable, editable, listed."""
    create_store("general")
    db.session.add_all([Store(name="Data Science", display_name="DS"), Store(name="café")])
    db.session.commit()
    login(client, create_user(is_admin=True))
    assert client.get("/s/caf%C3%A9/").status_code == 200
    assert client.get("/s/Data%20Science/documents/").status_code == 200
    # The last store used, by its URL-quoted name.
    assert client.get("/").headers["Location"] == "/s/Data%20Science/"


def test_odd_old_names_can_be_kept_but_not_given(app, db, client, create_user, login, create_store):
    create_store("general")
    db.session.add(Store(name="Data Science"))
    db.session.commit()
    login(client, create_user(is_admin=True))
    # Settings of such a store save, and an API PATCH repeating its name is no rename.
    saved = post_form(client, "/admin/stores/Data%20Science/edit", {
        "display_name": "DS", "model_provider": "local", "knowledge_count": "4", "memory_limit": "3",
        "is_active": "y"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    patched = client.patch("/api/v1/s/Data%20Science/", json={"name": "Data Science", "memory_limit": 7})
    assert patched.status_code == 200 and patched.json["store"]["memory_limit"] == 7
    # The rename page keeps the name when unchanged, and refuses another odd one.
    same = post_form(client, "/admin/stores/Data%20Science/rename", {"name": "Data Science"})
    assert same.status_code == 302
    odd = post_form(client, "/admin/stores/Data%20Science/rename", {"name": "Data Sciences"})
    assert odd.status_code == 200 and "cannot contain a space" in odd.get_data(as_text=True)
    renamed = client.patch("/api/v1/s/Data%20Science/", json={"name": "data-science"})
    assert renamed.status_code == 200 and store_named(db, "data-science") is not None


def test_selector_outside_a_store_shows_where_home_leads(app, client, create_user, login, stores):
    login(client, create_user(is_admin=True))
    client.get("/s/research/")
    page = client.get("/admin/users/").get_data(as_text=True)
    toggle = page.split('data-testid="store-selector-toggle"')[1].split("</summary>")[0]
    assert re.search(r"<strong[^>]*>Research</strong>", toggle)


def test_api_rename_can_update_casdoor(app, db, client, create_user, login, stores, monkeypatch):
    from webapp.jobs.models import Job

    login(client, create_user(is_admin=True))
    create_user("alice", casdoor_homepage="research", casdoor_name="alice")
    create_user("bea", casdoor_homepage="research")
    refused = client.patch("/api/v1/s/research/", json={"name": "lab", "update_casdoor": True})
    assert refused.status_code == 409 and "shadow mode" in refused.json["message"]
    assert store_named(db, "research") is not None

    monkeypatch.setattr("webapp.stores.service.casdoor_integration", lambda: object())
    done = client.patch("/api/v1/s/research/", json={"name": "lab", "update_casdoor": True}).json
    assert done["store"]["name"] == "lab"
    assert done["homepage_updates_queued"] == ["alice"] and done["homepage_updates_needed"] == ["bea"]
    assert db.session.execute(db.select(db.func.count()).select_from(Job)).scalar_one() == 1
