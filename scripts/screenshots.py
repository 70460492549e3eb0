"""Screenshots of every page, at a desktop and a phone width, to look at the design.

    .venv/bin/python scripts/screenshots.py OUTPUT_DIR [--scheme light,dark] [--only NAME,...]

Starts the development Casdoor server and Storehouse on loopback ports with a
temporary SQLite database, fills it with a few stores, documents and people,
signs in with Playwright driving Debian's Chromium (``/usr/bin/chromium``, or
``STOREHOUSE_CHROMIUM``) and writes ``NN-page.desktop.png`` (1280x800) and
``NN-page.phone.png`` (375x812) for each page (``.dark`` before ``.png`` for
the dark theme). A developer tool: nothing here runs in production.
"""
import argparse
import base64
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("STOREHOUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
PASSWORD = "screenshot-password"
DEMO_PASSWORD = "storehouse-dev"  # the development Casdoor server's demo users

#: A picture that loads (the demo Casdoor avatars point at a host that does not exist).
PICTURE = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#e9b872"/>'
    b'<circle cx="32" cy="26" r="12" fill="#7a4b22"/><rect x="12" y="42" width="40" height="30" rx="15" fill="#7a4b22"/>'
    b"</svg>").decode()

LONG_TEXT = """Every new colleague gets a laptop on their first day, set up by the IT desk.

1. Collect your badge at the front desk; bring an identity document.
2. Sign in to Storehouse with your company account ("Continue with Casdoor SSO").
3. Read the security handbook and the travel policy in the General store.

Questions about payroll go to people@example.com; questions about equipment to the IT desk, room 2.14.
The onboarding buddy programme pairs you with someone from another team for your first month: ask your manager who yours is."""


class LiveServer:
    """A WSGI app on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


def build_app(database_path, casdoor):
    import sqlalchemy as sa

    from config import TestingConfig
    from webapp import create_app

    seed = __import__("json").loads((ROOT / "devcasdoor" / "seed" / "demo.json").read_text())
    application = next(app for app in seed["applications"] if app["name"] == "storehouse")
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.NullPool},
        "TESTING": False,  # real error pages instead of re-raised exceptions
        "CASDOOR_ENDPOINT": casdoor.url,
        "CASDOOR_CLIENT_ID": application["clientId"],
        "CASDOOR_CLIENT_SECRET": application["clientSecret"],
        "CASDOOR_ORG_NAME": "storehouse",
        "CASDOOR_APP_NAME": "storehouse",
        "SIGNIN_FAILURE_LIMIT": "1000 per minute",
    }
    return create_app(type("ScreenshotConfig", (TestingConfig,), settings))


def fill_database(app):
    """Stores, documents and people that show each page in a realistic state."""
    import flask_migrate

    from webapp.auth import service as auth
    from webapp.extensions import db
    from webapp.stores import service as stores

    with app.app_context():
        flask_migrate.upgrade()
        admin = auth.create_local_user("mara", "mara.lindqvist@example.com", PASSWORD, "Mara Lindqvist", is_admin=True)
        admin.avatar_url = "https://avatars.storehouse.test/mara.png"  # does not resolve: initials show
        kofi = auth.create_local_user("kofi", "kofi@example.com", PASSWORD, "Kofi Mensah")
        kofi.avatar_url = PICTURE
        lena = auth.create_local_user("lena", "lena@example.com", PASSWORD, "Lena Research-Bound")
        lena.casdoor_homepage = "research"
        auth.create_local_user("sam", "sam@example.com", PASSWORD, "Sam Off-Store").casdoor_homepage = "paused"
        ines = auth.create_local_user("ines", "ines@example.com", PASSWORD, "")
        ines.casdoor_homepage = "nowhere"
        auth.create_local_user("noor", "noor@example.com", PASSWORD, "Noor Newcomer")  # granted nothing yet
        # Bob of the demo Casdoor has a local account with the same email: the link step.
        auth.create_local_user("bob-local", "bob@storehouse.test", PASSWORD, "Bob Local")

        general, research = stores.bootstrap_stores("general")
        long_store = stores.create_store(
            "product-design-and-user-research-archive-2019-2024",
            display_name="Product Design and User Research Library 2019–2024 (read-only copy)",
            description="Interview notes, usability studies and design reviews from the last five years.")
        stores.create_store("paused", display_name="Paused Project", is_active=False)
        # More stores than the selector lists: it offers "All stores…" (the searchable list).
        for team in ("engineering", "finance", "legal", "marketing", "sales", "support"):
            stores.create_store(team, display_name=team.capitalize())
        docs = [
            (general, "Onboarding checklist", LONG_TEXT, admin),
            (general, "Travel and expenses policy", "Book trains for trips under 600 km.", kofi),
            (general, "Security handbook", "Lock your screen when you leave your desk.", admin),
            (general, "Quarterly planning notes: objectives, key results and the open questions we "
                      "could not settle in the room", "To be discussed.", kofi),
            (general, "Office wifi and printers", "Network: storehouse-guest.", admin),
            (research, "Literature review: retrieval-augmented generation", "Sources and summaries.", admin),
            (research, "Interview guide", "Ask open questions.", kofi),
        ]
        for store, title, body, author in docs:
            stores.create_document(store, author, title, body)
        # Local accounts use the stores an administrator granted them.
        for store in (general, research, long_store):
            stores.grant_store(kofi, store)
        stores.grant_store(ines, general)
        db.session.commit()


def sign_in(page, base, email):
    page.goto(base + "/auth/login")
    summary = page.get_by_text("Use email / password instead")
    if summary.count():
        summary.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def shoot(page, out_dir, name, viewport, scheme, full_page=True):
    suffix = "" if scheme == "light" else f".{scheme}"
    path = out_dir / f"{name}.{viewport}{suffix}.png"
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=full_page)
    print(path)


def document_id(page, base, title):
    """The id of the document titled ``title`` in the current store's list."""
    link = page.get_by_role("link", name=title, exact=True).first
    return re.search(r"/documents/(\d+)", link.get_attribute("href")).group(1)


def run(out_dir, schemes, only):
    from playwright.sync_api import sync_playwright

    from devcasdoor.testing import DevCasdoor

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="storehouse-screens-") as tmp, \
            DevCasdoor(state_dir=Path(tmp) / "casdoor") as casdoor:
        app = build_app(Path(tmp) / "screens.db", casdoor)
        fill_database(app)
        with LiveServer(app) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            base = server.url
            for scheme in schemes:
                for viewport in VIEWPORTS:
                    shots = Shots(browser, base, out_dir, viewport, scheme, only)
                    shots.all()
            browser.close()


class Shots:
    """The pages of one viewport and colour scheme, one browser context per person."""

    def __init__(self, browser, base, out_dir, viewport, scheme, only):
        self.browser, self.base, self.out_dir = browser, base, out_dir
        self.viewport, self.scheme, self.only = viewport, scheme, only

    def context(self, **options):
        context = self.browser.new_context(viewport=VIEWPORTS[self.viewport], color_scheme=self.scheme, **options)
        context.set_default_timeout(15_000)
        return context

    def wanted(self, name):
        return not self.only or any(part in name for part in self.only)

    def shot(self, page, name, path=None, full_page=True):
        """Open ``path`` (the next steps may rely on it), then take the picture if it is wanted."""
        if path is not None:
            page.goto(self.base + path)
        if self.wanted(name):
            shoot(page, self.out_dir, name, self.viewport, self.scheme, full_page)

    def open_sidebar(self, page):
        """On a phone the sidebar is behind the menu button."""
        if self.viewport == "phone":
            page.locator("#shell-toggle").click()  # what a tap on the menu button hits
            page.wait_for_timeout(400)  # the slide-in

    def all(self):
        self.signed_out()
        self.admin()
        self.bound_and_storeless()
        self.without_javascript()

    def signed_out(self):
        context = self.context()
        page = context.new_page()
        self.shot(page, "01-sign-in", "/auth/login")
        page.get_by_text("Use email / password instead").click()
        page.get_by_label("Email").fill("someone@example.com")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        self.shot(page, "02-sign-in-failed")
        self.shot(page, "03-sign-up", "/auth/signup")
        page.get_by_label("Username").fill("x")
        page.get_by_label("Email").fill("not-an-email")
        page.get_by_role("button", name="Create account").click()
        self.shot(page, "04-sign-up-errors")
        self.shot(page, "05-not-found-signed-out", "/no/such/page")
        if self.wanted("06-casdoor-link"):
            page.goto(self.base + "/auth/login")
            page.get_by_test_id("casdoor-sso").click()
            page.locator("input[name=username]").fill("bob")
            page.locator("input[name=password]").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign In").click()
            page.wait_for_url(re.compile(r".*/auth/casdoor/link-account"))
            self.shot(page, "06-casdoor-link-account")
        context.close()

    def admin(self):
        context = self.context()
        page = context.new_page()
        sign_in(page, self.base, "mara.lindqvist@example.com")
        self.shot(page, "10-store-overview-welcome")  # the flash of signing in
        self.shot(page, "11-store-overview", "/s/general/")
        if self.viewport == "phone" and self.wanted("12-phone-menu"):
            self.open_sidebar(page)
            self.shot(page, "12-phone-menu", full_page=False)
        if self.wanted("13-store-menu"):
            page.goto(self.base + "/s/general/")
            self.open_sidebar(page)
            page.get_by_test_id("store-selector-toggle").click()
            page.wait_for_timeout(300)  # the menu fades in
            self.shot(page, "13-store-menu", full_page=False)
        if self.wanted("14-account-menu"):
            page.goto(self.base + "/s/general/")
            self.open_sidebar(page)
            page.get_by_test_id("account-menu").click()
            page.wait_for_timeout(300)
            self.shot(page, "14-account-menu", full_page=False)
        self.shot(page, "15-documents", "/s/general/documents/")
        if self.wanted("15-keyboard"):
            page.keyboard.press("Tab")  # the skip link
            self.shot(page, "15-keyboard-skip-link", full_page=False)
            for _ in range(3 if self.viewport == "desktop" else 1):
                page.keyboard.press("Tab")
            self.shot(page, "15-keyboard-focus", full_page=False)
        onboarding = document_id(page, self.base, "Onboarding checklist")
        self.shot(page, "16-document", f"/s/general/documents/{onboarding}")
        self.shot(page, "17-document-new", "/s/general/documents/new")
        if self.wanted("18-document-new-error"):
            page.get_by_role("button", name="Add document").click()
            self.shot(page, "18-document-new-error")
        self.shot(page, "19-document-edit", f"/s/general/documents/{onboarding}/edit")
        self.shot(page, "20-document-delete", f"/s/general/documents/{onboarding}/delete")
        long_store = "/s/product-design-and-user-research-archive-2019-2024"
        self.shot(page, "21-store-empty", long_store + "/")
        self.shot(page, "22-documents-empty", long_store + "/documents/")
        if self.wanted("23-document-added"):
            page.goto(self.base + long_store + "/documents/new")
            page.get_by_label("Title").fill("Usability study: the new sign-in page")
            page.get_by_label("Text").fill("Five of six people found single sign-on at once.")
            page.get_by_role("button", name="Add document").click()
            self.shot(page, "23-document-added")
        self.shot(page, "30-admin-stores", "/admin/stores/")
        self.shot(page, "31-admin-store-new", "/admin/stores/new")
        self.shot(page, "32-admin-store-settings", "/admin/stores/general/edit")
        self.shot(page, "33-admin-store-rename", "/admin/stores/research/rename")
        self.shot(page, "34-admin-store-delete", "/admin/stores/research/delete")
        self.shot(page, "35-admin-store-delete-default", "/admin/stores/general/delete")
        self.shot(page, "36-admin-users", "/admin/users/")
        self.shot(page, "37-admin-users-search", "/admin/users/?q=k")
        self.shot(page, "38-admin-user-new", "/admin/users/new")
        page.goto(self.base + "/admin/users/?q=kofi")
        page.get_by_role("link", name="Kofi Mensah").click()
        self.shot(page, "39-admin-user")
        self.shot(page, "40-connected-accounts", "/settings/accounts/")
        self.shot(page, "41-sessions", "/settings/sessions/")
        self.shot(page, "42-not-found", "/s/general/documents/999999")
        self.shot(page, "43-choose-store", "/stores/")
        self.shot(page, "44-choose-store-nothing", "/stores/?q=zzz")
        context.close()

    def bound_and_storeless(self):
        context = self.context()
        page = context.new_page()
        sign_in(page, self.base, "lena@example.com")
        self.shot(page, "50-bound-user-locked-store")
        self.shot(page, "51-forbidden", "/admin/stores/")
        context.close()
        context = self.context()
        page = context.new_page()
        sign_in(page, self.base, "sam@example.com")
        self.shot(page, "52-no-store")
        context.close()
        context = self.context()
        page = context.new_page()
        sign_in(page, self.base, "noor@example.com")
        self.shot(page, "52-no-store-granted-nothing")
        context.close()
        context = self.context()
        page = context.new_page()
        sign_in(page, self.base, "kofi@example.com")
        self.shot(page, "53-member-with-picture", "/s/research/")
        context.close()

    def without_javascript(self):
        context = self.context(java_script_enabled=False)
        page = context.new_page()
        sign_in(page, self.base, "kofi@example.com")
        self.shot(page, "60-no-js-overview", "/s/general/")
        if self.viewport == "phone" and self.wanted("61-no-js-phone-menu"):
            self.open_sidebar(page)
            self.shot(page, "61-no-js-phone-menu", full_page=False)
        context.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="where the PNGs go (created if missing)")
    parser.add_argument("--scheme", default="light,dark", help="colour schemes, comma-separated (light,dark)")
    parser.add_argument("--only", default="", help="comma-separated parts of page names to take, e.g. 01-,store")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        parser.error(f"Chromium is not installed at {CHROMIUM} (run `make browser`, or set STOREHOUSE_CHROMIUM)")
    only = [part for part in args.only.split(",") if part]
    run(args.out_dir, [s for s in args.scheme.split(",") if s], only)


if __name__ == "__main__":
    main()
