"""Driving Storehouse in a real browser: signing in, and waiting for what the page itself says.

Browser tests wait for the page's own signals, never for a fixed time: the document loaded
with its stylesheets and deferred scripts (``wait_for_page``), a status or message the page
shows. Deadlines are generous, for a loaded two-core machine; a passing step goes on as soon
as its signal comes.
"""
import re

from playwright.sync_api import expect

from tests.support.casdoor import DEMO_PASSWORD

#: How long one browser step may take (ms): the default of every page and ``expect``.
STEP_TIMEOUT = 30_000
#: For a step that waits on real work on the server (ms): indexing, a model's answer, a charge delivered.
WORK_TIMEOUT = 90_000


def wait_for_page(page, url=None):
    """Wait until the page (once at ``url``, a glob or pattern, when given) has loaded, with its
    stylesheets applied and its deferred scripts run.

    Until then, what a test sees can be wrong: a phone still shows the desktop sidebar, a file
    input or a menu has no script behind it yet.
    """
    if url is not None:
        page.wait_for_url(url)
    page.wait_for_load_state("load")
    # app.css sets the body's margin to 0 (a browser's own stylesheet gives it 8px).
    expect(page.locator("body")).to_have_css("margin-top", "0px")


def sign_in(page, live_server, user, password=None):
    """Sign ``user`` in through the sign-in form, as a person does, and wait for the page that
    welcomes them. With Casdoor configured the form is folded under "Use email / password
    instead": it is unfolded first."""
    page.goto(live_server.url + "/auth/login")
    if page.get_by_test_id("casdoor-sso").count():
        page.get_by_text("Use email / password instead").click()
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password or user.plain_password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Welcome back").wait_for()
    wait_for_page(page)


def submit_casdoor_sign_in(page, username, password=DEMO_PASSWORD):
    """Fill in and submit the development Casdoor's sign-in form (the page must be showing it)."""
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()


def sign_in_through_casdoor(page, live_server, casdoor, username, password=DEMO_PASSWORD):
    """Sign in as a person does with Casdoor: Storehouse's "Continue with Casdoor", Casdoor's
    form, and back; waits for the Storehouse page it lands on."""
    page.goto(live_server.url + "/")
    page.get_by_test_id("casdoor-sso").click()
    page.wait_for_url(re.compile("^" + re.escape(casdoor.url) + "/login/oauth/authorize"))
    submit_casdoor_sign_in(page, username, password)
    wait_for_page(page, re.compile("^" + re.escape(live_server.url) + "/"))
