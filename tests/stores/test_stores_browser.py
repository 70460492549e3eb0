"""The store selector in a real browser: locked for a bound user, a switcher for the others."""
import pytest

from tests.support.browser import sign_in, wait_for_page

pytestmark = pytest.mark.e2e


def test_bound_admin_sees_a_locked_selector_and_no_store_management(live_server, page, create_user,
                                                                     create_store):
    create_store("general", display_name="General")
    create_store("research", display_name="Research")
    sign_in(page, live_server, create_user("lena", casdoor_homepage="research", is_admin=True))
    assert page.url == live_server.url + "/s/research/"

    selector = page.get_by_test_id("store-selector")
    assert selector.get_attribute("data-locked") == "true"
    assert page.get_by_label("Store").is_disabled()
    assert "Research" in page.get_by_label("Store").inner_text()
    lock = page.get_by_test_id("store-lock")
    assert lock.is_visible() and "Locked by Casdoor Homepage" in lock.inner_text()
    assert "bound to store 'research' by its Casdoor Homepage" in selector.get_attribute("title")
    assert page.get_by_text("General").count() == 0

    page.get_by_test_id("admin-link").click()
    page.get_by_test_id("bound-admin-note").wait_for()
    wait_for_page(page)
    for control in ("add-store", "rename-store", "delete-store"):
        assert page.get_by_test_id(control).count() == 0
    assert page.get_by_role("button", name="Make default").count() == 0
    assert page.get_by_role("link", name="Settings").count() == 1


def test_unbound_user_switches_stores(live_server, page, create_user, create_store, grant):
    general = create_store("general", display_name="General")
    research = create_store("research", display_name="Research", welcome_text="Research welcomes you.")
    sign_in(page, live_server, grant(create_user("uma"), general, research))
    assert page.url == live_server.url + "/s/general/"
    assert page.get_by_test_id("store-selector").get_attribute("data-locked") == "false"

    page.get_by_test_id("store-selector-toggle").click()
    page.get_by_role("menuitem", name="Research").click()
    page.get_by_text("Research welcomes you.").wait_for()
    assert page.url == live_server.url + "/s/research/"
    assert "Research" in page.get_by_test_id("store-selector-toggle").inner_text()

    page.get_by_role("link", name="Documents", exact=True).click()
    # The menu of the documents page, not of the page being left.
    wait_for_page(page, live_server.url + "/s/research/documents/")
    page.get_by_test_id("store-selector-toggle").click()
    page.get_by_role("menuitem", name="General").click()
    page.wait_for_url(live_server.url + "/s/general/documents/")
    page.goto(live_server.url + "/")
    assert page.url == live_server.url + "/s/general/"  # the last store used
