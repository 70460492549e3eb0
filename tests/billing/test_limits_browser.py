"""In a real browser: an administrator sets the store's limit on its limit page, then sees in the
chat what is left, when it resets, and the notice past the alert threshold."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.billing import give_answer, make_chat, make_provider
from tests.support.browser import sign_in, wait_for_page

pytestmark = pytest.mark.e2e

#: Set STOREHOUSE_SCREENSHOTS=DIR to keep screenshots of the pages this test visits.
SCREENS = Path(os.environ["STOREHOUSE_SCREENSHOTS"]) / "limits" if os.environ.get("STOREHOUSE_SCREENSHOTS") else None


def shoot(page, name):
    if SCREENS is not None:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_set_a_limit_and_see_the_notice_in_the_chat(app, live_server, page, create_store, create_user, grant):
    store = create_store("research", display_name="Research")
    boss = create_user("boss", is_admin=True)
    lou = create_user("lou")
    grant(lou, store)
    # 1.00 USD already spent here this month by boss (the price of one answer).
    dollar = make_provider("0", "1000000", max_tokens=1, name="dollar")
    give_answer(make_chat(store, boss), boss, store, dollar, prompt_tokens=0, completion_tokens=1)

    sign_in(page, live_server, boss)
    page.goto(live_server.url + "/s/research/chat/")
    expect(page.get_by_test_id("chat-limits")).to_have_count(0)
    page.get_by_test_id("nav-limits").click()
    wait_for_page(page, live_server.url + "/s/research/limits")
    form = page.get_by_test_id("limit-form-store")
    form.get_by_label("Set a limit").check()
    form.get_by_label("Amount").fill("1.50")
    form.get_by_label("Period").select_option("month")
    form.get_by_label("Warn at (% used)").fill("50")
    shoot(page, "store-limits-form")
    page.get_by_test_id("save-limits").click()
    wait_for_page(page, live_server.url + "/s/research/limits")
    expect(page.get_by_text("Saved the store's limits.")).to_be_visible()
    # lou answers (0.20 USD): the store's spend passes the threshold, which is recorded for the admin list.
    dime = make_provider("0", "200000", max_tokens=1, name="dime")
    give_answer(make_chat(store, lou), lou, store, dime, prompt_tokens=0, completion_tokens=1)

    page.goto(live_server.url + "/s/research/chat/")
    wait_for_page(page)
    notice = page.get_by_test_id("limit-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Monthly limit of the store (shared) is 80% used: 0.30 USD left until")
    expect(page.get_by_test_id("chat-limits")).to_contain_text("0.30 USD left of 1.50")
    shoot(page, "chat-notice")

    page.goto(live_server.url + "/billing/")
    wait_for_page(page)
    expect(page.get_by_test_id("my-limits")).to_contain_text("Research")
    shoot(page, "billing-limits")
    page.goto(live_server.url + "/admin/billing/limits/")
    wait_for_page(page)
    expect(page.get_by_test_id("limit-alerts")).to_contain_text("threshold")
    shoot(page, "admin-limits")
    page.goto(live_server.url + f"/s/research/limits?person={lou.username}")
    wait_for_page(page)
    shoot(page, "person-limit")
