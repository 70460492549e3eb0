"""Store binding for API callers and for store deletion, with real Casdoor sign-ins."""
import pytest
import requests

from tests.support.casdoor import demo_application, sso_sign_in
from tests.support.client import post_form


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


@pytest.fixture
def stores(create_store):
    return {"general": create_store("general", is_default=True), "research": create_store("research"),
            "archive": create_store("archive")}


def store_names(client, headers=None):
    response = client.get("/api/v1/stores/", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(store["name"] for store in response.json["stores"])


def test_unbound_casdoor_user_keeps_every_store(client, stores):
    sso_sign_in(client, "bob")
    assert store_names(client) == ["archive", "general", "research"]


def test_bearer_callers_are_bound_like_browsers(client, casdoor, stores):
    """A client that never signs in on the web is still held to its Homepage."""
    app_seed = demo_application("storehouse")
    token = requests.post(f"{casdoor.url}/api/login/oauth/access_token", data={
        "grant_type": "password", "client_id": app_seed["clientId"], "client_secret": app_seed["clientSecret"],
        "username": "alice", "password": "storehouse-dev"}, timeout=5).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert store_names(client, headers) == ["research"]
    assert client.get("/api/v1/s/general/documents/", headers=headers).status_code == 404
    created = client.post("/api/v1/s/general/documents/", headers=headers, json={"title": "x", "body": "y"})
    assert created.status_code == 404


def test_deleting_a_store_names_its_bound_users_and_unbinds_them(client, app, create_user, login, stores):
    sso_sign_in(client, "alice")
    admin = app.test_client()
    login(admin, create_user("root", is_admin=True))
    confirm = admin.get("/admin/stores/research/delete").get_data(as_text=True)
    assert "alice" in confirm
    post_form(admin, "/admin/stores/research/delete", follow_redirects=True)
    # Her Homepage now matches no store: by default that means every store.
    assert store_names(client) == ["archive", "general"]
