"""In a real browser: ask, get the answer from the local model, see the charge on your billing
page and on the admin billing page, and the transaction in the development Casdoor."""
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.browser import WORK_TIMEOUT, sign_in_through_casdoor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

#: Set STOREHOUSE_SCREENSHOTS=DIR to keep screenshots of the billing pages this test visits.
SCREENS = Path(os.environ["STOREHOUSE_SCREENSHOTS"]) / "billing" if os.environ.get("STOREHOUSE_SCREENSHOTS") else None


@pytest.fixture
def app_config(sso_app_config):
    # The in-process job runner delivers the charge, as in `make run`.
    return {**sso_app_config, "JOBS_IN_PROCESS": True, "JOBS_POLL_INTERVAL": 0.1,
            "CHAT_ANSWER_WITHOUT_KNOWLEDGE": True}


@pytest.fixture(autouse=True)
def _stop_the_job_runner(app):
    """The in-process runner is a daemon thread of this test's app: stop it with the test,
    so that it does not go on working the queue of the tests that follow."""
    yield
    runner = app.extensions.get("jobs_runner")
    if runner is not None:
        runner.stop.set()
        for thread in threading.enumerate():
            if thread.name == runner.name:
                thread.join(30)


def shoot(page, name):
    if SCREENS is not None:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_ask_and_see_the_charge_here_and_in_casdoor(app, live_server, page, new_page, casdoor, create_store):
    from webapp.extensions import db
    from webapp.providers import service as provider_service

    create_store("research", display_name="Research")
    local = provider_service.ensure_default_provider()
    provider_service.update_provider(local, {"input_price": Decimal(20), "output_price": Decimal(80),
                                             "max_tokens": 24})
    db.session.commit()

    sign_in_through_casdoor(page, live_server, casdoor, "alice")
    page.goto(live_server.url + "/s/research/chat/")
    page.get_by_test_id("question").fill("Say hello in five words.")
    page.get_by_test_id("send").click()
    meta = page.get_by_test_id("answer-meta").last
    meta.wait_for(timeout=WORK_TIMEOUT)
    page.wait_for_function("() => !document.querySelector('.status-streaming')", timeout=WORK_TIMEOUT)

    page.get_by_test_id("account-menu").click()
    page.get_by_role("link", name="Billing").click()
    page.wait_for_url(live_server.url + "/billing/")

    def delivered_on_the_page():
        page.reload()
        return page.locator('[data-state="delivered"]').count() > 0

    wait_until(delivered_on_the_page, timeout=90, interval=0.3, message="the charge shown delivered on /billing/")
    row = page.locator('[data-state="delivered"]')
    assert row.count() == 1
    key = row.get_attribute("data-charge")
    amount = row.get_by_test_id("charge-amount").inner_text()
    assert amount.endswith("USD")
    link = row.get_by_test_id("casdoor-link").get_attribute("href")
    shoot(page, "e2e-user-billing")

    transaction, = [t for t in casdoor.controls.transactions() if t.get("subtype") == key]
    assert link == f"{casdoor.url}/transactions/storehouse/{transaction['name']}"
    assert transaction["user"] == "alice" and transaction["tag"] == "User" and transaction["state"] == "Paid"
    assert f"{-Decimal(repr(transaction['amount']))} USD".rstrip("0") in amount or \
        Decimal(amount.split()[0]) == -Decimal(repr(transaction["amount"]))

    admin = new_page()
    sign_in_through_casdoor(admin, live_server, casdoor, "admin")  # Casdoor's organization admin
    admin.goto(live_server.url + "/admin/billing/")
    assert admin.get_by_test_id("pending-count").inner_text() == "0"
    admin_row = admin.locator(f'[data-charge="{key}"]')
    assert admin_row.get_attribute("data-state") == "delivered"
    assert "Alice" in admin_row.inner_text() or "alice" in admin_row.inner_text()
    shoot(admin, "e2e-admin-billing")
