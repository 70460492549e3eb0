"""A person bound by their Casdoor Homepage, signing in through the development Casdoor server."""
import pytest

from tests.support.browser import sign_in_through_casdoor

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def test_alice_signs_in_through_casdoor_and_is_locked_to_research(live_server, page, casdoor, create_store):
    create_store("general", display_name="General")
    create_store("research", display_name="Research", welcome_text="Research welcomes you.")
    sign_in_through_casdoor(page, live_server, casdoor, "alice")  # Homepage "research" in the demo seed

    page.get_by_text("Research welcomes you.").wait_for()
    assert page.url == live_server.url + "/s/research/"
    assert page.get_by_test_id("store-selector").get_attribute("data-locked") == "true"
    assert page.get_by_label("Store").is_disabled()
    assert page.get_by_test_id("store-lock").is_visible()
    response = page.goto(live_server.url + "/s/general/")
    assert response.status == 404
    page.get_by_text("There is no store 'general' you can use.").wait_for()
