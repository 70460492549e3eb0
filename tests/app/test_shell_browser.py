"""The page shell in a real browser: the phone menu with and without JavaScript, avatars
whose picture does not load, dismissing a message, the store menu from the keyboard."""
import pytest
from playwright.sync_api import expect

from tests.support.browser import sign_in, wait_for_page

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def phone(new_page):
    return new_page(viewport=PHONE)


@pytest.fixture
def phone_without_javascript(new_page):
    return new_page(viewport=PHONE, java_script_enabled=False)


def test_phone_menu_opens_without_javascript(live_server, phone_without_javascript, create_user, create_store,
                                             grant):
    page = phone_without_javascript
    general = create_store("general", display_name="General")
    sign_in(page, live_server, grant(create_user(), general))
    documents = page.get_by_role("link", name="Documents", exact=True)
    assert not documents.is_visible()  # the sidebar is tucked away on a phone
    page.locator("#shell-toggle").click()  # what a tap on the menu button reaches
    documents.wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    documents.click()
    wait_for_page(page, live_server.url + "/s/general/documents/")
    assert not page.get_by_role("link", name="Documents", exact=True).is_visible()


def test_phone_menu_closes_with_escape(live_server, phone, create_user, create_store, grant):
    general = create_store("general", display_name="General")
    sign_in(phone, live_server, grant(create_user(), general))
    phone.locator("#shell-toggle").focus()
    phone.keyboard.press("Space")
    phone.get_by_role("link", name="Documents", exact=True).wait_for(state="visible")
    phone.keyboard.press("Escape")
    phone.get_by_role("link", name="Documents", exact=True).wait_for(state="hidden")
    assert phone.evaluate("document.activeElement.id") == "shell-toggle"


def test_a_picture_that_does_not_load_gives_way_to_initials(live_server, page, create_user, create_store, grant):
    general = create_store("general")
    # Port 9 (discard) refuses connections on loopback: the picture fails at once.
    erin = create_user(display_name="Erin Evans", avatar_url="http://127.0.0.1:9/erin.png")
    sign_in(page, live_server, grant(erin, general))
    avatar = page.get_by_test_id("account-menu").locator(".avatar")
    page.wait_for_function("document.querySelector('.account .avatar').classList.contains('is-broken')")
    assert avatar.locator(".avatar-img").is_hidden()
    assert avatar.locator(".avatar-initials").is_visible() and avatar.inner_text() == "EE"


def test_a_message_can_be_dismissed(live_server, page, create_user, create_store, grant):
    general = create_store("general")
    sign_in(page, live_server, grant(create_user(), general))
    message = page.get_by_role("status").filter(has_text="Welcome back")
    message.get_by_role("button", name="Dismiss message").click()
    message.wait_for(state="detached")


def test_store_menu_works_from_the_keyboard(live_server, page, create_user, create_store, grant):
    general = create_store("general", display_name="General")
    research = create_store("research", display_name="Research")
    sign_in(page, live_server, grant(create_user(), general, research))
    toggle = page.get_by_test_id("store-selector-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    assert "General" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("ArrowDown")
    assert "Research" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert page.evaluate("document.activeElement.dataset.testid") == "store-selector-toggle"
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")  # wraps to the last store
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/s/research/")
