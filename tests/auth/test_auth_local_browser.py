"""A person signs up, signs out, fails and succeeds to sign in, in a real browser."""
import pytest

from tests.support.browser import wait_for_page

pytestmark = pytest.mark.e2e


def test_sign_up_sign_out_sign_in(live_server, page):
    page.goto(live_server.url + "/")
    assert page.url.endswith("/auth/login")
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Email").fill("erin@example.com")
    page.get_by_label("Display name").fill("Erin E.")
    page.get_by_label("Password", exact=True).fill("a-good-password")
    page.get_by_label("Repeat password").fill("a-good-password")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Welcome to Storehouse, Erin E.").wait_for()
    wait_for_page(page)  # the account menu as it is drawn, with its script

    page.get_by_test_id("account-menu").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()

    page.get_by_label("Email").fill("erin@example.com")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong email or password. Check both and try again.").wait_for()

    page.get_by_label("Password").fill("a-good-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Welcome back, Erin E.").wait_for()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["storehouse_session"]["httpOnly"] is True
    assert cookies["storehouse_session"]["sameSite"] == "Lax"
