"""The URL map's one convention, and the former addresses that keep working.

A rule with items under it (``P/<id:...>``) or a declared list ends with "/"; an
item or an action does not. The sign-in API keeps the paths of the Notechondria
runbook as its clients call them. Addresses that changed when the convention
was applied redirect: 301 for GET (bookmarks learn the new address), 308 for
other methods (the same request, body included, goes to the new address).
"""
import re

import pytest

from tests.support.client import post_form

#: The runbook's API paths, kept exactly (trailing slashes included).
CONTRACT = {"/api/v1/handshake/", "/api/v1/me/", "/api/v1/auth/login/", "/api/v1/auth/logout/",
            "/api/v1/auth/casdoor/config/", "/api/v1/auth/casdoor/exchange/", "/api/v1/auth/casdoor/bind/"}
#: Last segments that name an action or a form: never a trailing slash.
ACTIONS = {"new", "edit", "delete", "rename", "revoke", "stop", "resend", "regenerate", "reindex", "download",
           "upload", "unlink", "link", "login", "logout", "signup", "callback", "link-account", "active",
           "default", "make-default", "password"}
#: Lists that have no items under them in the URL map, but answer a list all the same.
LISTS = {"/s/<store>/knowledge/search/", "/s/<store>/knowledge/status/", "/api/v1/s/<store>/search/",
         "/api/v1/billing/charges/", "/s/<store>/usage/", "/billing/", "/admin/billing/"}


def current_rules(app):
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.endpoint != "static" and not rule.endpoint.endswith("_at_former_url")})


def test_collections_end_with_a_slash_items_and_actions_do_not(app):
    rules = current_rules(app)
    problems = []
    for rule in rules:
        if rule in CONTRACT or rule == "/":
            continue
        last = rule.rstrip("/").rpartition("/")[2]
        has_items = any(other.startswith(rule.rstrip("/") + "/<id:") or other.startswith(rule.rstrip("/") + "/<store>")
                        for other in rules)
        if last in ACTIONS or last.startswith("<id:"):
            if rule.endswith("/"):
                problems.append(f"{rule}: an item or an action takes no trailing slash")
        elif (has_items or rule in LISTS or last == "<store>") and not rule.endswith("/"):
            problems.append(f"{rule}: a collection ends with '/'")
    assert problems == []


def test_every_declared_list_exists(app):
    """The LISTS above name real rules (a renamed list must be renamed here too)."""
    assert LISTS <= set(current_rules(app))


@pytest.fixture
def admin(app, client, create_user, login, create_store):
    create_store("general")
    user = create_user("root", is_admin=True)
    login(client, user)
    return user


@pytest.mark.parametrize("old, new", [
    ("/settings/accounts", "/settings/accounts/"),
    ("/settings/sessions", "/settings/sessions/"),
    ("/api/v1/billing/charges?limit=2", "/api/v1/billing/charges/?limit=2"),
    ("/s/general/knowledge/search?q=x&k=3", "/s/general/knowledge/search/?q=x&k=3"),
    ("/s/general/knowledge/status?ids=1,2", "/s/general/knowledge/status/?ids=1,2"),
    ("/api/v1/s/general/search?q=x", "/api/v1/s/general/search/?q=x"),
])
def test_former_addresses_redirect_permanently_and_keep_the_query(client, admin, old, new):
    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"] == new
    assert client.get(old, follow_redirects=True).status_code == 200


def test_former_addresses_of_other_methods_redirect_with_308(app, db, client, admin, create_user):
    chat = client.post("/api/v1/s/general/chats/", json={"title": "t"}).get_json()["chat"]
    response = client.post(f"/api/v1/s/general/chats/{chat['id']}/messages", json={"text": "hello"})
    assert response.status_code == 308
    assert response.headers["Location"] == f"/api/v1/s/general/chats/{chat['id']}/messages/"
    listing = client.get(f"/api/v1/s/general/chats/{chat['id']}/messages")
    assert listing.status_code == 301

    person = create_user("dana")
    moved = post_form(client, f"/admin/users/{person.id}/grants", {"store": "general"})
    assert moved.status_code == 308
    assert moved.headers["Location"] == f"/admin/users/{person.id}/grants/"


def test_a_former_address_in_another_store_is_404_not_a_redirect(app, client, create_user, login, create_store,
                                                                  grant):
    """The redirect sits behind the store chokepoint: it reveals nothing about stores one cannot use."""
    general = create_store("general")
    create_store("secret")
    member = grant(create_user("mia"), general)
    login(client, member)
    assert client.get("/s/general/knowledge/search?q=a").status_code == 301
    assert client.get("/s/secret/knowledge/search?q=a").status_code == 404
    assert client.get("/api/v1/s/secret/search?q=a").status_code == 404
    assert client.get("/s/nowhere/knowledge/search?q=a").status_code == 404


def test_the_blueprint_files_name_every_route(app):
    """A newcomer finds a feature's routes in its blueprint.py: every URL there is written out."""
    from pathlib import Path

    root = Path(app.root_path)
    written = set()
    for path in root.rglob("blueprint.py"):
        text = path.read_text()
        prefixes = dict(re.findall(r'(\w+) = Blueprint\("[\w]+", __name__(?:, url_prefix="([^"]*)")?\)', text))
        for name, rule in re.findall(r'(\w+)\.add_url_rule\("([^"]*)"', text):
            written.add(prefixes.get(name, "") + rule)
        for name, rule in re.findall(r'moved\((\w+), "([^"]*)"', text):
            written.add(prefixes.get(name, "") + rule)
    served = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert served == written
