"""Billing pages, API and commands: the user's charges and balance, the admin's delivery
health and ledgers, ``GET /api/v1/billing/charges/``, ``flask billing reconcile | status``."""
import uuid
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa

from tests.support.billing import casdoor_rows, casdoor_user, charges, give_answer, make_chat, make_due, make_provider
from tests.support.casdoor import casdoor_config
from tests.support.database import counting_queries
from webapp.billing.models import Charge, ReconcileRun
from webapp.extensions import db


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


@pytest.fixture
def world(app, casdoor, create_store, create_user):
    store = create_store("research")
    provider = make_provider()
    alice, bob = casdoor_user(create_user, "alice"), casdoor_user(create_user, "bob")
    lou = create_user("lou")
    answers = {}
    for user, n in ((alice, 3), (bob, 2), (lou, 1)):
        chat = make_chat(store, user)
        answers[user.username] = [give_answer(chat, user, store, provider) for _ in range(n)]
    return {"store": store, "provider": provider, "alice": alice, "bob": bob, "lou": lou, "answers": answers}


def test_my_billing_page_lists_my_charges_and_balance(world, client, login, run_jobs, casdoor):
    run_jobs()
    login(client, world["alice"])
    page = client.get("/billing/").get_data(as_text=True)
    assert page.count('data-state="delivered"') == 3 and "charged" in page
    assert "9.865 <span" in page  # 10 - 3 x 0.045
    name = charges("delivered")[0].casdoor_name
    assert f"{casdoor.url}/transactions/storehouse/{name}" in page
    assert "bob" not in page.split('data-testid="charges-table"')[1]


def test_local_account_page_says_charges_stay_here(world, client, login):
    login(client, world["lou"])
    page = client.get("/billing/").get_data(as_text=True)
    assert 'data-testid="local-only-note"' in page and "recorded here only" in page


def test_admin_page_shows_health_failures_and_ledgers(world, create_user, client, login, run_jobs, casdoor):
    casdoor.controls.patch_user("storehouse", "bob", balance=0)
    run_jobs()
    login(client, create_user("boss", is_admin=True))
    page = client.get("/admin/billing/").get_data(as_text=True)
    assert 'data-testid="pending-count">0<' in page
    assert page.count("Insufficient balance") >= 2 and 'data-testid="billing-problems"' in page
    assert "never" in page  # no reconcile yet
    ledger = client.get(f"/admin/billing/users/{world['alice'].id}").get_data(as_text=True)
    assert ledger.count('data-state="delivered"') == 3
    assert f"{casdoor.url}/users/storehouse/alice" in ledger
    assert client.get("/admin/billing/users/999999").status_code == 404


def test_pages_are_for_their_people(world, client, login):
    assert client.get("/billing/").status_code == 302
    login(client, world["alice"])
    assert client.get("/admin/billing/").status_code == 403
    assert client.get(f"/admin/billing/users/{world['bob'].id}").status_code == 403


def test_pages_and_api_cost_a_bounded_number_of_queries(frozen_clock, world, create_user, client, login, run_jobs, app):
    run_jobs()
    login(client, create_user("boss", is_admin=True))
    for url in ("/admin/billing/", f"/admin/billing/users/{world['alice'].id}", "/api/v1/billing/charges/"):
        client.get(url)
        with counting_queries(db.engine) as statements:
            assert client.get(url).status_code == 200
        assert len(statements) <= 14, (url, statements)


def test_api_lists_own_charges_or_all_for_admins_keyset_paginated(world, create_user, client, login, app):
    login(client, world["alice"])
    body = client.get("/api/v1/billing/charges/?limit=2").get_json()
    assert len(body["items"]) == 2 and body["next"]
    assert {item["user"] for item in body["items"]} == {"alice"}
    rest = client.get(f"/api/v1/billing/charges/?limit=2&cursor={body['next']}").get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    item = body["items"][0]
    assert {"state", "amount", "currency", "casdoor_name"} <= set(item) and item["amount"] == "0.04500000"
    assert client.get("/api/v1/billing/charges/?state=nonsense").status_code == 400
    admin = app.test_client()
    login(admin, create_user("boss", is_admin=True))
    everyone = admin.get("/api/v1/billing/charges/?limit=200").get_json()["items"]
    assert len(everyone) == 6
    assert [i["state"] for i in admin.get(f"/api/v1/billing/charges/?user={world['lou'].id}").get_json()["items"]] \
        == ["local_only"]


def test_reconcile_reports_missing_extra_and_mismatched(world, app, casdoor, run_jobs):
    run_jobs()
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["billing", "reconcile"])
    assert clean.exit_code == 0 and "Checked 5 charge(s): 0 missing, 0 extra, 0 mismatched" in clean.output
    delivered = charges("delivered")
    # Missing: Casdoor lost one. Mismatched: one changed at Casdoor. Extra: one nobody here made.
    config = casdoor_config(casdoor)
    auth = (config["CASDOOR_CLIENT_ID"], config["CASDOOR_CLIENT_SECRET"])
    lost = casdoor_rows(casdoor, delivered[0].key)[0]
    requests.post(f"{casdoor.url}/api/delete-transaction", json=lost, auth=auth, timeout=5)
    changed = casdoor_rows(casdoor, delivered[1].key)[0]
    requests.post(f"{casdoor.url}/api/update-transaction", params={"id": f"storehouse/{changed['name']}"},
                  json={**changed, "amount": -0.04500001}, auth=auth, timeout=5)
    requests.post(f"{casdoor.url}/api/add-transaction", params={"id": "storehouse/"}, auth=auth, timeout=5,
                  json={"owner": "storehouse", "application": "storehouse", "user": "bob", "tag": "User",
                        "amount": -1.5, "currency": "USD", "subtype": str(uuid.uuid4()), "state": "Paid",
                        "createdTime": "2026-11-24T00:00:00+00:00"})
    result = runner.invoke(args=["billing", "reconcile"])
    assert result.exit_code == 1
    assert "1 missing, 1 extra, 1 mismatched" in result.output
    assert f"missing   charge {delivered[0].id}" in result.output and "0.04500001" in result.output
    requeued = runner.invoke(args=["billing", "reconcile", "--requeue"])
    assert "1 requeued" in requeued.output
    make_due()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Charge, delivered[0].id).state == "delivered"
    assert len(casdoor_rows(casdoor, delivered[0].key)) == 1
    after = runner.invoke(args=["billing", "reconcile", "--since", "2026-01-01"])
    assert "0 missing" in after.output
    assert db.session.execute(sa.select(sa.func.count()).select_from(ReconcileRun)).scalar() == 4
    status = runner.invoke(args=["billing", "status"]).output
    assert "Pending: 0" in status and "Last reconcile:" in status and "1 extra" in status


def test_demo_price_is_for_development_only(make_app, migrated, app):
    from webapp.providers.models import Provider

    runner = app.test_cli_runner()
    assert "keeps its price" in runner.invoke(args=["billing", "demo-price"]).output
    assert db.session.execute(sa.select(Provider)).scalars().all() == []
    dev = make_app(BILLING_DEMO_LOCAL_PRICES="20/80")
    with dev.app_context():
        output = dev.test_cli_runner().invoke(args=["billing", "demo-price"]).output
        assert "costs 20 / 80 USD" in output
        again = dev.test_cli_runner().invoke(args=["billing", "demo-price"]).output
        assert "keeps its price" in again
        local = db.session.execute(sa.select(Provider)).scalar_one()
        assert (local.input_price, local.output_price, local.is_default) == (Decimal(20), Decimal(80), True)
        db.session.remove()


def test_each_answer_in_the_chat_says_how_it_was_billed(world, client, login, run_jobs, casdoor, grant):
    """Under a priced answer: a link to its transaction in Casdoor once delivered, what is
    happening until then, and "recorded here only" for an account without Casdoor."""
    alice, lou, store = world["alice"], world["lou"], world["store"]
    chat_id = world["answers"]["alice"][0].chat_id
    grant(alice, store)  # signed in with a password here, so the store must be granted
    login(client, alice)
    pending = client.get(f"/s/{store.name}/chat/{chat_id}").get_data(as_text=True)
    assert pending.count('data-testid="answer-charge" data-state="pending"') == 3
    assert "being charged" in pending

    run_jobs()
    delivered = client.get(f"/s/{store.name}/chat/{chat_id}").get_data(as_text=True)
    names = sorted(charge.casdoor_name for charge in charges() if charge.user_id == alice.id)
    assert delivered.count('data-state="delivered"') == 3
    for name in names:
        assert f'href="{casdoor.url}/transactions/storehouse/{name}"' in delivered

    grant(lou, store)
    lou_client = client.application.test_client()
    login(lou_client, lou)
    lou_chat = world["answers"]["lou"][0].chat_id
    local = lou_client.get(f"/s/{store.name}/chat/{lou_chat}").get_data(as_text=True)
    assert 'data-state="local_only"' in local and "recorded here only (no Casdoor account)" in local
