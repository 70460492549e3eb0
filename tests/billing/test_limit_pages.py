"""Spending limits on pages: the store's limit form, a person's page, Billing, beside the chat box, Admin > Billing > Limits."""
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.support.billing import give_answer, make_chat, make_provider
from tests.support.client import csrf_token, post_form
from webapp.billing import limits
from webapp.billing.models import PersonLimit, StoreLimit
from webapp.extensions import db


@pytest.fixture
def boss(app, client, create_user, login):
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    return admin


FORM = {"store-enabled": "y", "store-period": "month", "store-amount": "25.50", "store-currency": "USD",
        "store-alert_at": "80", "per_person-period": "day", "per_person-amount": "", "per_person-currency": "USD",
        "per_person-alert_at": "80"}


def test_the_store_limit_form_saves_and_shows_both_limits(app, store, boss, client):
    page = client.get("/s/research/limits")
    assert page.status_code == 200 and 'data-testid="store-limits-form"' in page.get_data(as_text=True)
    saved = post_form(client, "/s/research/limits", FORM)
    assert saved.status_code == 302
    found = limits.store_limits(store.id)
    assert (found["store"].period, found["store"].amount, found["per_person"]) == ("month", Decimal("25.5"), None)
    text = client.get("/s/research/limits").get_data(as_text=True)
    assert 'value="25.5"' in text and "Saved the store" in text
    # Switching it off removes it.
    post_form(client, "/s/research/limits", {**FORM, "store-enabled": ""})
    assert db.session.execute(sa.select(sa.func.count()).select_from(StoreLimit)).scalar() == 0


@pytest.mark.parametrize("amount", ["2,5", "-1", "1.123456789", "lots"])
def test_a_bad_amount_is_a_form_message_and_changes_nothing(app, store, boss, client, amount):
    response = post_form(client, "/s/research/limits", {**FORM, "store-amount": amount})
    assert response.status_code == 200
    assert "Amount is an amount such as 25.00" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count()).select_from(StoreLimit)).scalar() == 0


def test_a_persons_page_sets_their_own_limit(app, store, boss, client, create_user):
    lou = create_user("lou")
    assert client.get("/s/research/limits?person=lou").headers["Location"].endswith(f"/limits/people/{lou.id}")
    assert "no person named" in client.get("/s/research/limits?person=nobody", follow_redirects=True).get_data(
        as_text=True)
    saved = post_form(client, f"/s/research/limits/people/{lou.id}", {
        "person-enabled": "y", "person-period": "week", "person-amount": "3", "person-currency": "USD",
        "person-alert_at": "50"})
    assert saved.status_code == 302
    row = db.session.get(PersonLimit, (store.id, lou.id))
    assert (row.period, row.amount, row.alert_at) == ("week", Decimal(3), 50)
    page = client.get(f"/s/research/limits/people/{lou.id}").get_data(as_text=True)
    assert 'data-testid="person-limit-status"' in page and "3.00 USD" in page
    listing = client.get("/s/research/limits").get_data(as_text=True)
    assert 'data-testid="person-limits"' in listing and ">lou</a>" in listing


def test_people_see_what_is_left_beside_the_chat_box_and_on_billing_with_a_notice_past_the_threshold(
        frozen_clock, app, store, client, create_user, grant, login):
    frozen_clock.set(datetime(2026, 3, 10, 12, 0))
    lou = create_user("lou")
    grant(lou, store)
    login(client, lou)
    chat = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="chat-limits"' not in chat and 'data-testid="limit-notice"' not in chat
    limits.set_store_limit(store.id, "store", {"period": "day", "amount": Decimal(4), "currency": "USD",
                                               "alert_at": 50})
    db.session.commit()
    dollar = make_provider("0", "1000000", max_tokens=1, name="dollar")
    give_answer(make_chat(store, lou), lou, store, dollar, prompt_tokens=0, completion_tokens=1)
    chat = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="chat-limits"' in chat and "3.00 USD</strong> left of 4.00" in chat
    assert "resets 2026-03-11 00:00 UTC" in chat and 'data-testid="limit-notice"' not in chat
    give_answer(make_chat(store, lou), lou, store, dollar, prompt_tokens=0, completion_tokens=1)
    chat = client.get("/s/research/chat/").get_data(as_text=True)
    assert 'data-testid="limit-notice"' in chat and "is 50% used" in chat
    billing = client.get("/billing/").get_data(as_text=True)
    assert 'data-testid="my-limits"' in billing and "2.00 USD</strong> left of 4.00" in billing


def test_admin_billing_limits_lists_this_periods_alerts_only(frozen_clock, app, store, boss, client, create_user):
    frozen_clock.set(datetime(2026, 3, 10, 12, 0))
    lou = create_user("lou")
    limits.set_person_limit(store.id, lou.id, {"period": "day", "amount": Decimal(1), "currency": "USD",
                                               "alert_at": 80})
    db.session.commit()
    dollar = make_provider("0", "1000000", max_tokens=1, name="dollar")
    give_answer(make_chat(store, lou), lou, store, dollar, prompt_tokens=0, completion_tokens=1)
    page = client.get("/admin/billing/limits/").get_data(as_text=True)
    assert 'data-testid="limit-alerts"' in page and page.count("<tr>") == 3  # head + threshold + limit
    assert ">lou</a>" in page and "badge-danger" in page
    frozen_clock.set(datetime(2026, 3, 11, 0, 1))  # a new day: the daily limit's alerts are the past
    assert 'data-testid="limit-alerts"' not in client.get("/admin/billing/limits/").get_data(as_text=True)


def test_a_default_set_below_what_people_spent_lists_them_at_once_and_raising_it_clears_them(
        frozen_clock, app, store, boss, client, create_user):
    frozen_clock.set(datetime(2026, 3, 10, 12, 0))
    lou, max_, ann, kim = (create_user(name) for name in ("lou", "max", "ann", "kim"))
    dollar = make_provider("0", "1000000", max_tokens=1, name="dollar")
    for person, answers in ((lou, 3), (max_, 1), (kim, 5)):
        chat = make_chat(store, person)
        for _ in range(answers):
            give_answer(chat, person, store, dollar, prompt_tokens=0, completion_tokens=1)
    # Kim has a limit of her own: the default does not apply to her.
    limits.set_person_limit(store.id, kim.id, {"period": "day", "amount": Decimal(100), "currency": "USD",
                                               "alert_at": 80})
    db.session.commit()
    assert 'data-testid="limit-alerts"' not in client.get("/admin/billing/limits/").get_data(as_text=True)
    # A default of 2 USD a day: lou (3 spent) is at it, max (1 spent) past 50 %, ann (nothing) and kim are not.
    post_form(client, "/s/research/limits", {**FORM, "store-enabled": "", "per_person-enabled": "y",
                                             "per_person-period": "day", "per_person-amount": "2",
                                             "per_person-alert_at": "50"})
    page = client.get("/admin/billing/limits/").get_data(as_text=True)
    assert page.count("<tr>") == 4  # head + lou's threshold and limit + max's threshold
    assert ">lou</a>" in page and ">max</a>" in page and ">ann</a>" not in page and ">kim</a>" not in page
    # Raised to 10 USD: nobody is past 50 % any more, and the list says so at once.
    post_form(client, "/s/research/limits", {**FORM, "store-enabled": "", "per_person-enabled": "y",
                                             "per_person-period": "day", "per_person-amount": "10",
                                             "per_person-alert_at": "50"})
    assert 'data-testid="limit-alerts"' not in client.get("/admin/billing/limits/").get_data(as_text=True)
    # The API does the same.
    response = client.put("/api/v1/s/research/limits", json={"per_person": {
        "period": "day", "amount": "2.5", "currency": "USD", "alert_at": 80}},
        headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200, response.get_data(as_text=True)
    page = client.get("/admin/billing/limits/").get_data(as_text=True)
    assert page.count("<tr>") == 3 and ">lou</a>" in page and ">max</a>" not in page


def test_limit_pages_are_for_administrators_of_the_store(app, store, client, create_user, grant, login):
    lou = create_user("lou")
    grant(lou, store)
    login(client, lou)
    assert client.get("/s/research/limits").status_code == 403
    assert post_form(client, "/s/research/limits", FORM).status_code == 403
    assert client.get("/admin/billing/limits/").status_code == 403
