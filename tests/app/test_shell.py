"""The page shell: the navigation registry, the sidebar it draws, avatars, icons, and
pages that a strict Content-Security-Policy will not break."""
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Blueprint

from webapp.navigation import nav_item, resolve_navigation
from webapp.templating import initials, tint

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def sidebar_nav(page):
    return page.split('<nav class="nav"')[1].split("</nav>")[0]


def nav_links(page):
    """(label, href, is_current) of each sidebar entry, in order."""
    return [(label, href, bool(current)) for href, current, label in re.findall(
        r'<a class="nav-link" href="([^"]+)"( aria-current="page")?[^>]*>.*?<span class="truncate">([^<]+)</span>',
        sidebar_nav(page), re.S)]


# --- the registry -----------------------------------------------------------------------------

def test_store_entries_in_order_with_the_current_page_marked(app, client, create_user, login, create_store,
                                                             create_document, grant):
    general = create_store("general", display_name="General")
    document = create_document(general, title="Handbook")
    login(client, grant(create_user(), general))
    assert nav_links(client.get("/s/general/documents/").get_data(as_text=True)) == [
        ("Overview", "/s/general/", False), ("Chat", "/s/general/chat/", False),
        ("Documents", "/s/general/documents/", True), ("Knowledge", "/s/general/knowledge/", False),
        ("Usage", "/s/general/usage/", False)]
    # A document's page belongs under "Documents".
    assert nav_links(client.get(f"/s/general/documents/{document.id}").get_data(as_text=True))[2][2] is True
    assert nav_links(client.get("/s/general/").get_data(as_text=True))[0] == ("Overview", "/s/general/", True)


def test_admin_entries_only_for_administrators(app, client, create_user, login, create_store, grant):
    general = create_store("general")
    login(client, grant(create_user(), general))
    member = sidebar_nav(client.get("/s/general/").get_data(as_text=True))
    assert "/admin/" not in member and "Admin" not in member and "/limits" not in member

    admin_client = app.test_client()
    login(admin_client, create_user(is_admin=True))
    page = admin_client.get("/admin/users/").get_data(as_text=True)
    assert nav_links(page) == [("Overview", "/s/general/", False), ("Chat", "/s/general/chat/", False),
                               ("Documents", "/s/general/documents/", False),
                               ("Knowledge", "/s/general/knowledge/", False), ("Usage", "/s/general/usage/", False),
                               ("Limits", "/s/general/limits", False), ("Stores", "/admin/stores/", False),
                               ("Users", "/admin/users/", True), ("Security log", "/admin/security-log/", False),
                               ("Providers", "/admin/providers/", False), ("Billing", "/admin/billing/", False)]
    assert '<h2 class="nav-heading">Admin</h2>' in sidebar_nav(page)
    assert 'href="/admin/stores/" data-testid="admin-link"' in sidebar_nav(page)


def test_store_entries_are_left_out_without_a_store(app, client, create_user, login):
    login(client, create_user(is_admin=True))
    page = client.get("/").get_data(as_text=True)
    assert "There is no store yet" in page
    assert [label for label, _, _ in nav_links(page)] == ["Stores", "Users", "Security log", "Providers", "Billing"]


def test_account_entries_go_to_the_account_menu(app, client, create_user, login, create_store, grant):
    general = create_store("general")
    login(client, grant(create_user(), general))
    page = client.get("/settings/sessions/").get_data(as_text=True)
    menu = page.split('data-testid="account-menu"')[1].split("</details>")[0]
    assert re.search(r'href="/settings/accounts/"[^>]*>.*Connected accounts', menu)
    assert re.search(r'href="/settings/sessions/" aria-current="page"', menu)
    assert "Sign out" in menu and "/settings/" not in sidebar_nav(page)


def fake_user(is_admin=False):
    return SimpleNamespace(is_effective_admin=is_admin)


def test_an_entry_waits_for_its_page(make_app, migrated):
    """A feature may register its entry before its pages exist: it shows once they do."""
    app = make_app()
    nav_item(app, "store", "notes.list_notes", "Notes", "book", order=16)
    with app.test_request_context("/"):
        store = SimpleNamespace(name="general")
        labels = [link.label for link in resolve_navigation(app, fake_user(), store, None)["store"]]
    assert labels == ["Overview", "Chat", "Documents", "Knowledge", "Usage"]

    app = make_app()
    notes = Blueprint("notes", __name__)
    notes.add_url_rule("/s/<store>/notes/", "list_notes", lambda store: "")
    app.register_blueprint(notes)
    nav_item(app, "store", "notes.list_notes", "Notes", "book", order=16)
    with app.test_request_context("/s/general/notes/"):
        links = resolve_navigation(app, fake_user(), SimpleNamespace(name="general"), "notes.list_notes")["store"]
    assert [(link.label, link.url, link.is_current) for link in links] == [
        ("Overview", "/s/general/", False), ("Chat", "/s/general/chat/", False),
        ("Notes", "/s/general/notes/", True), ("Documents", "/s/general/documents/", False),
        ("Knowledge", "/s/general/knowledge/", False), ("Usage", "/s/general/usage/", False)]


def test_each_app_has_its_own_registry(make_app, migrated):
    first, second = make_app(), make_app()
    nav_item(first, "admin", "accounts.sessions", "People", "users", order=5, store_scoped=False, admin_only=True)
    with first.test_request_context("/"):
        assert "People" in [link.label for link in resolve_navigation(first, fake_user(True), None, None)["admin"]]
        assert resolve_navigation(first, fake_user(False), None, None)["admin"] == []
    with second.test_request_context("/"):
        assert "People" not in [link.label for link in resolve_navigation(second, fake_user(True), None, None)["admin"]]


def test_unknown_sections_and_duplicates_are_refused(make_app, migrated):
    app = make_app()
    with pytest.raises(ValueError, match="Unknown navigation section 'footer'"):
        nav_item(app, "footer", "main.index", "Home", "home")
    with pytest.raises(ValueError, match="already in the 'store' navigation"):
        nav_item(app, "store", "stores.list_documents", "Files", "files")


# --- icons and avatars -------------------------------------------------------------------------

def test_every_icon_in_use_is_drawn(app):
    drawn = app.jinja_env.get_template("_macros/icons.html").module.ICONS
    used = {item.icon for item in app.extensions["navigation"]}
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"icon\('([a-z-]+)'", path.read_text()))
        used |= set(re.findall(r"empty_state\('([a-z-]+)'", path.read_text()))
    missing = used - set(drawn)
    assert not missing, f"icons used but not drawn: {sorted(missing)}"
    assert {"home", "files", "chat", "book", "search", "chart", "settings", "users", "store", "lock", "plus",
            "trash", "edit", "copy", "stop", "refresh", "upload", "download", "external", "sign-out", "menu",
            "check", "warning", "info"} <= set(drawn)


@pytest.mark.parametrize("name,expected", [("Erin Evans", "EE"), ("alice-local", "AL"), ("bob", "B"),
                                           ("mara.lindqvist@example.com", "ML"), ("", "?"), ("ümit can", "ÜC")])
def test_initials(name, expected):
    assert initials(name) == expected


def test_tint_is_stable_and_in_range():
    assert tint("alice") == tint("alice")
    assert {tint(f"user{n}") for n in range(200)} == set(range(8))


def test_avatar_shows_the_picture_over_initials_or_initials_alone(app, client, create_user, login, create_store,
                                                                  grant):
    general = create_store("general")
    login(client, grant(create_user("erin", display_name="Erin Evans", avatar_url="https://pictures.example/erin.png"),
                        general))
    avatar = client.get("/s/general/").get_data(as_text=True).split('data-testid="account-menu"')[1].split("</summary>")[0]
    assert '<span class="avatar-initials">EE</span>' in avatar
    assert '<img class="avatar-img" src="https://pictures.example/erin.png" alt=""' in avatar

    other = app.test_client()
    login(other, grant(create_user("finn", display_name="Finn"), general))
    block = other.get("/s/general/").get_data(as_text=True).split('data-testid="account-menu"')[1]
    assert '<span class="avatar-initials">F</span>' in block.split("</summary>")[0]
    assert "<img" not in block.split("</summary>")[0]


# --- ready for a strict Content-Security-Policy ----------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_no_page_has_inline_script_style_or_event_handlers(app, client, create_user, login, create_store,
                                                             create_document):
    general = create_store("general", display_name="General", welcome_text="Hello")
    document = create_document(general, title="Handbook", body="Read me.")
    anonymous = app.test_client()
    pages = {path: anonymous.get(path) for path in ("/auth/login", "/auth/signup", "/nowhere")}
    login(client, create_user(is_admin=True, avatar_url="https://pictures.example/a.png"))
    for path in ("/s/general/", "/s/general/documents/", f"/s/general/documents/{document.id}",
                 "/s/general/documents/new", f"/s/general/documents/{document.id}/edit",
                 f"/s/general/documents/{document.id}/delete", "/admin/stores/", "/admin/stores/new",
                 "/admin/stores/general/edit", "/admin/stores/general/rename", "/admin/stores/general/delete",
                 "/admin/users/", "/settings/accounts/", "/settings/sessions/", "/s/general/documents/999"):
        pages[path] = client.get(path)
    for path, response in pages.items():
        assert response.status_code in (200, 404), path
        html = response.get_data(as_text=True)
        for rule in (INLINE_SCRIPT, STYLE_ATTRIBUTE, STYLE_ELEMENT, EVENT_HANDLER):
            assert not rule.search(html), f"{path}: {rule.search(html).group(0)}"
        assert '<script src="/static/js/app.js" defer></script>' in html, path
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html, path
