"""Casdoor sign-in and account linking in a real browser against the development Casdoor server."""
import re

import pytest

from tests.support.browser import sign_in, submit_casdoor_sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def test_continue_with_casdoor_sso_signs_in(live_server, page, casdoor):
    page.goto(live_server.url + "/auth/login")
    page.get_by_test_id("casdoor-sso").click()
    page.wait_for_url(re.compile(re.escape(casdoor.url) + r"/login/oauth/authorize"))
    submit_casdoor_sign_in(page, "bob", "wrong-password")
    # Casdoor keeps errors on its own page.
    page.get_by_role("alert").wait_for()
    assert page.url.startswith(casdoor.url)
    submit_casdoor_sign_in(page, "bob")
    page.get_by_text("through Casdoor").wait_for()
    assert page.url.startswith(live_server.url)
    assert page.get_by_test_id("account-menu").inner_text().strip() != ""


def test_link_and_unlink_on_connected_accounts(live_server, page, create_user, casdoor):
    user = create_user("dana", email="dana@example.com", password="dana-password-1")
    sign_in(page, live_server, user)

    page.goto(live_server.url + "/settings/accounts/")
    row = page.get_by_test_id("casdoor-row")
    assert "Not linked" in row.inner_text()
    row.get_by_role("button", name="Link Casdoor").click()
    submit_casdoor_sign_in(page, "bob")
    page.get_by_text("Linked Casdoor account storehouse/bob.").wait_for()
    assert "Linked" in page.get_by_test_id("casdoor-row").inner_text()

    page.get_by_test_id("casdoor-row").get_by_role("button", name="Unlink").click()
    page.get_by_text("Unlinked your Casdoor account").wait_for()
    assert "Not linked" in page.get_by_test_id("casdoor-row").inner_text()
