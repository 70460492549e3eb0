"""Spending limits per store and per person: the API, the check before the model runs, periods, concurrency.

People here have no Casdoor account (their charges are local-only): limits must hold
for them too. ``test_limits_and_the_casdoor_balance_both_apply`` uses the development
Casdoor. SQLite by default, PostgreSQL with ``TEST_DATABASE_URL``.
"""
import threading
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.support.billing import casdoor_user, charges, give_answer, make_chat, make_provider
from tests.support.client import csrf_token
from webapp.billing import limits, service
from webapp.billing.models import PersonLimit, Reservation, StoreLimit
from webapp.chat.errors import AnswerRefused
from webapp.chat.models import UsageDay
from webapp.extensions import db
from webapp.stores.models import Store
from webapp.users.models import User


@pytest.fixture
def dollar(app):
    """Each answer (0 prompt tokens, 1 answer token) is bounded by and costs exactly 1.00 USD."""
    return make_provider("0", "1000000", max_tokens=1, name="dollar")


def set_limit(store, subject="store", period="day", amount="3", currency="USD", alert_at=80, user=None):
    if user is not None:
        limits.set_person_limit(store.id, user.id, {"period": period, "amount": Decimal(amount),
                                                    "currency": currency, "alert_at": alert_at})
    else:
        limits.set_store_limit(store.id, subject, {"period": period, "amount": Decimal(amount),
                                                   "currency": currency, "alert_at": alert_at})
    db.session.commit()


def answer(user, store, provider, chat=None):
    return give_answer(chat or make_chat(store, user), user, store, provider, prompt_tokens=0, completion_tokens=1)


def count(model):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
def admin_client(app, client, create_user, login):
    admin = create_user("boss", is_admin=True)
    login(client, admin)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    return client


def test_limits_api_sets_reads_and_removes_store_and_per_person_limits(app, store, admin_client):
    assert admin_client.get("/api/v1/s/research/limits").json == {"store": None, "per_person": None}
    put = admin_client.put("/api/v1/s/research/limits", json={
        "store": {"period": "month", "amount": "100.50", "currency": "USD"},
        "per_person": {"period": "day", "amount": 5, "currency": "USD", "alert_at": 90}})
    assert put.status_code == 200, put.json
    assert put.json == {"store": {"period": "month", "amount": "100.50000000", "currency": "USD", "alert_at": 80},
                        "per_person": {"period": "day", "amount": "5.00000000", "currency": "USD", "alert_at": 90}}
    # A field left out stays; null removes.
    again = admin_client.put("/api/v1/s/research/limits", json={"per_person": None})
    assert again.json["store"]["amount"] == "100.50000000" and again.json["per_person"] is None
    assert admin_client.delete("/api/v1/s/research/limits").json == {"store": None, "per_person": None}
    assert count(StoreLimit) == 0


@pytest.mark.parametrize("body, field, words", [
    ({"store": {"period": "day", "amount": 2.5, "currency": "USD"}}, "store.amount", "exact amount"),
    ({"store": {"period": "year", "amount": "2", "currency": "USD"}}, "store.period", "'day', 'week' or 'month'"),
    ({"per_person": {"period": "day", "amount": "-1", "currency": "USD"}}, "per_person.amount", "at least 0"),
    ({"store": {"period": "day", "amount": "1.123456789", "currency": "USD"}}, "store.amount", "8 decimal"),
    ({"store": {"period": "day", "amount": "lots", "currency": "USD"}}, "store.amount", "such as"),
    ({"store": {"period": "day", "amount": "1", "currency": "XYZ"}}, "store.currency", "must be one of"),
    ({"store": {"period": "day", "amount": "1", "currency": "USD", "alert_at": 0}}, "store.alert_at", "at least 1"),
    ({"store": {"period": "day", "amount": "1"}}, "store.currency", "is required"),
    ({"stores": None}, "stores", "not a field"),
])
def test_bad_limit_bodies_are_422_naming_the_field_and_change_nothing(app, store, admin_client, body, field, words):
    set_limit(store, amount="9")
    response = admin_client.put("/api/v1/s/research/limits", json=body)
    assert response.status_code == 422 and words in response.json["fields"][field], response.json
    assert admin_client.get("/api/v1/s/research/limits").json["store"]["amount"] == "9.00000000"


def test_a_persons_limit_overrides_the_default_through_the_api(app, store, admin_client, create_user, grant):
    lou = create_user("lou")
    grant(lou, store)
    set_limit(store, "per_person", period="week", amount="10")
    url = f"/api/v1/s/research/limits/people/{lou.id}"
    got = admin_client.get(url).json
    assert got["limit"] is None and got["default"]["amount"] == "10.00000000"
    assert [s["source"] for s in got["status"]] == ["default"]
    put = admin_client.put(url, json={"period": "day", "amount": "2", "currency": "USD"})
    assert put.status_code == 200 and put.json["limit"]["period"] == "day"
    assert [(s["source"], s["amount"], s["left"]) for s in put.json["status"]] == [
        ("override", "2.00000000", "2.00000000")]
    assert admin_client.put(url, json={"period": "day", "amount": 2.0, "currency": "USD"}).status_code == 422
    assert admin_client.delete(url).json["limit"] is None and count(PersonLimit) == 0
    assert admin_client.get("/api/v1/s/research/limits/people/999999").status_code == 404


def test_only_administrators_of_the_store_set_limits(app, store, create_store, client, create_user, grant, login):
    lou = create_user("lou")
    grant(lou, store)
    login(client, lou)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    assert client.get("/api/v1/s/research/limits").status_code == 403
    body = {"store": {"period": "day", "amount": "1", "currency": "USD"}}
    assert client.put("/api/v1/s/research/limits", json=body).status_code == 403
    assert count(StoreLimit) == 0

    # A bound administrator: their own store only (another store does not exist for them).
    create_store("home")
    bound = create_user("keeper", casdoor_homepage="home", is_admin=True)
    other = app.test_client()
    login(other, bound)
    other.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(other)
    assert other.put("/api/v1/s/home/limits", json=body).status_code == 200
    assert other.put("/api/v1/s/research/limits", json=body).status_code == 404
    assert other.put(f"/api/v1/s/research/limits/people/{lou.id}", json=body["store"]).status_code == 404
    home_id = db.session.execute(sa.select(Store.id).where(Store.name == "home")).scalar()
    assert [(row.subject, row.store_id) for row in db.session.execute(sa.select(StoreLimit)).scalars()] == [
        ("store", home_id)]


# -- enforcement -----------------------------------------------------------------------------------


def test_store_limit_refuses_with_the_limit_what_is_left_and_the_reset_and_costs_nothing(
        frozen_clock, app, store, dollar, create_user):
    frozen_clock.set(datetime(2026, 3, 10, 15, 30))
    lou = create_user("lou")
    set_limit(store, period="day", amount="2.5")
    chat = make_chat(store, lou)
    answer(lou, store, dollar, chat)
    answer(lou, store, dollar, chat)
    with pytest.raises(AnswerRefused) as refused:
        answer(lou, store, dollar, chat)
    db.session.rollback()
    message = refused.value.message
    assert "up to 1.00 USD" in message and "the daily limit of store 'research' (2.50 USD" in message
    assert "has 0.50 USD left this day" in message and "resets 2026-03-11 00:00 UTC" in message
    # Nothing was held or charged for the refused answer; local-only charges counted.
    assert [c.state for c in charges()] == ["local_only", "local_only"]
    assert count(Reservation) == 0
    assert db.session.execute(sa.select(sa.func.sum(UsageDay.answers))).scalar() == 2


def test_a_period_boundary_resets_the_spend(frozen_clock, app, store, dollar, create_user):
    lou = create_user("lou")
    chat = make_chat(store, lou)
    for period, start, boundary in (("day", datetime(2026, 3, 10, 23, 0), datetime(2026, 3, 11, 0, 0)),
                                    ("week", datetime(2026, 3, 22, 12, 0), datetime(2026, 3, 23, 0, 0)),  # Sun -> Mon
                                    ("month", datetime(2026, 4, 30, 23, 59), datetime(2026, 5, 1, 0, 0))):
        set_limit(store, period=period, amount="1")
        frozen_clock.set(start)
        answer(lou, store, dollar, chat)
        with pytest.raises(AnswerRefused) as refused:
            answer(lou, store, dollar, chat)
        db.session.rollback()
        assert f"resets {boundary:%Y-%m-%d %H:%M} UTC" in refused.value.message, (period, refused.value.message)
        frozen_clock.set(boundary)
        answer(lou, store, dollar, chat)  # a new period: spent is zero again


def test_periods_follow_the_billing_timezone(frozen_clock, app, store, dollar, create_user):
    app.config["BILLING_TIMEZONE"] = "America/New_York"  # UTC-4 in summer
    lou = create_user("lou")
    set_limit(store, period="day", amount="1")
    frozen_clock.set(datetime(2026, 7, 1, 3, 0))  # 23:00 on June 30 in New York
    answer(lou, store, dollar)
    with pytest.raises(AnswerRefused) as refused:
        answer(lou, store, dollar)
    db.session.rollback()
    assert "resets 2026-07-01 00:00 EDT" in refused.value.message
    frozen_clock.set(datetime(2026, 7, 1, 4, 0))  # midnight there
    answer(lou, store, dollar)


def test_a_persons_override_beside_the_store_default(app, store, dollar, create_user):
    lou, max_ = create_user("lou"), create_user("max")
    set_limit(store, "per_person", amount="1")
    set_limit(store, user=max_, amount="2")
    answer(lou, store, dollar)
    with pytest.raises(AnswerRefused) as refused:
        answer(lou, store, dollar)
    db.session.rollback()
    assert "your daily limit in 'research' (1.00 USD)" in refused.value.message
    answer(max_, store, dollar)
    answer(max_, store, dollar)  # max's own limit is 2
    with pytest.raises(AnswerRefused):
        answer(max_, store, dollar)
    db.session.rollback()
    # Both apply: the store limit is shared by everyone.
    set_limit(store, amount="3")
    with pytest.raises(AnswerRefused) as refused:
        answer(create_user("neu"), store, dollar)
    db.session.rollback()
    assert "the daily limit of store 'research' (3.00 USD, shared by everyone there)" in refused.value.message
    assert "has 0.00 USD left" in refused.value.message


def test_answers_in_flight_count_against_the_limits(app, store, dollar, create_user):
    lou = create_user("lou")
    set_limit(store, amount="2")
    first = service.reserve(lou, Decimal("1.5"), "USD", store=store)
    db.session.commit()
    assert first is not None  # a local-only person is reserved for when a limit applies
    with pytest.raises(service.AnswerNotAllowed) as refused:
        service.reserve(lou, Decimal("1"), "USD", store=store)
    assert "has 0.50 USD left" in refused.value.message
    db.session.rollback()
    service.release(first)
    db.session.commit()
    assert service.reserve(lou, Decimal("1"), "USD", store=store) is not None


def test_a_limit_in_another_currency_refuses_rather_than_guessing(app, store, dollar, create_user):
    set_limit(store, amount="100", currency="EUR")
    with pytest.raises(AnswerRefused) as refused:
        answer(create_user("lou"), store, dollar)
    assert "priced in USD" in refused.value.message and "set in EUR" in refused.value.message


def test_limits_of_one_store_do_not_touch_another(app, store, dollar, create_user, create_store):
    other = create_store("elsewhere")
    lou = create_user("lou")
    set_limit(store, amount="0")
    answer(lou, other, dollar)
    with pytest.raises(AnswerRefused):
        answer(lou, store, dollar)


def test_status_shows_spent_left_and_reset_per_limit(frozen_clock, app, store, dollar, create_user):
    frozen_clock.set(datetime(2026, 3, 10, 12, 0))
    lou = create_user("lou")
    set_limit(store, period="month", amount="10", alert_at=20)
    set_limit(store, "per_person", period="day", amount="4")
    answer(lou, store, dollar)
    answer(lou, store, dollar)
    shared, own = limits.status_for(store.id, lou.id)
    assert (shared.spent, shared.left, shared.over_threshold, shared.at_limit) == (2, 8, True, False)
    assert (own.spent, own.left, own.over_threshold, own.percent) == (2, 2, False, 50)
    assert shared.resets == "2026-04-01 00:00 UTC" and own.resets == "2026-03-11 00:00 UTC"


# -- concurrency --------------------------------------------------------------------------------


@pytest.mark.serial
def test_ten_concurrent_answers_by_five_people_against_a_store_limit_covering_three(app, store, dollar,
                                                                                    create_user):
    people = [create_user(f"p{i}").id for i in range(5)]
    chats = {user_id: make_chat(store, db.session.get(User, user_id)).id for user_id in people}
    set_limit(store, amount="3.5")
    ids = (store.id, dollar.id)
    outcomes = []

    def ask(user_id):
        with app.app_context():
            from webapp.chat.models import Chat
            from webapp.providers.models import Provider
            from webapp.stores.models import Store
            user, st, prov = db.session.get(User, user_id), db.session.get(Store, ids[0]), db.session.get(Provider, ids[1])
            try:
                give_answer(db.session.get(Chat, chats[user_id]), user, st, prov, prompt_tokens=0, completion_tokens=1)
                outcomes.append("answered")
            except AnswerRefused as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask, args=(people[i % 5],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("answered") == 3, outcomes
    assert all("has 0.50 USD left" in o for o in outcomes if o != "answered"), outcomes
    db.session.expire_all()
    assert len(charges("local_only")) == 3 and count(Reservation) == 0
    assert db.session.execute(sa.select(sa.func.sum(UsageDay.cost))).scalar() == Decimal(3)


# -- with Casdoor ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("casdoor")
class TestWithCasdoor:
    @pytest.fixture
    def app_config(self, sso_app_config):
        return sso_app_config

    def test_limits_and_the_casdoor_balance_both_apply(self, app, casdoor, store, dollar, create_user):
        alice = casdoor_user(create_user, "alice")
        casdoor.controls.patch_user("storehouse", "alice", balance=10)
        set_limit(store, "per_person", amount="1")
        answer(alice, store, dollar)
        assert [c.state for c in charges()] == ["pending"]  # pending charges count as spent
        with pytest.raises(AnswerRefused) as refused:
            answer(alice, store, dollar)
        assert "your daily limit" in refused.value.message
        db.session.rollback()
        limits.set_store_limit(store.id, "per_person", None)
        db.session.commit()
        casdoor.controls.patch_user("storehouse", "alice", balance=0.5)
        with pytest.raises(AnswerRefused) as refused:
            answer(alice, store, dollar)
        assert "Casdoor balance" in refused.value.message


# -- alerts and the webhook ---------------------------------------------------------------------


class Receiver:
    """A real HTTP server on loopback that records the JSON POSTed to it and answers ``statuses`` in turn
    (then 200)."""

    def __init__(self, statuses=()):
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.events, self.statuses = [], list(statuses)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.events.append((status, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def alert_rows():
    from webapp.billing.models import LimitAlert

    return [(a.subject, a.level, a.period_start.isoformat(), a.spent) for a in db.session.execute(
        sa.select(LimitAlert).order_by(LimitAlert.id)).scalars()]


def test_threshold_and_limit_alerts_are_recorded_once_per_period_and_sent_through_a_job(
        frozen_clock, app, store, dollar, create_user, run_jobs):
    from tests.support.billing import make_due
    from webapp.jobs.models import Job

    frozen_clock.set(datetime(2026, 3, 10, 9, 0))
    lou = create_user("lou")
    set_limit(store, period="day", amount="4", alert_at=50)
    with Receiver(statuses=[503]) as receiver:
        app.config["BILLING_ALERT_WEBHOOK_URL"] = receiver.url
        chat = make_chat(store, lou)
        answer(lou, store, dollar, chat)
        assert alert_rows() == []  # 1 of 4: below 50 %
        answer(lou, store, dollar, chat)  # 2 of 4: the threshold
        answer(lou, store, dollar, chat)  # still past it: no second alert
        assert alert_rows() == [("store", "threshold", "2026-03-10", Decimal(2))]
        # The first try meets a 503: the job is retried like any job, and sends once more.
        run_jobs()
        make_due()
        run_jobs()
        assert [status for status, _ in receiver.events] == [503, 200]
        event = receiver.events[-1][1]
        assert event == {"id": event["id"], "event": "limit.threshold", "store": "research", "person": None,
                         "limit": {"subject": "store", "period": "day", "amount": "4.00000000", "currency": "USD"},
                         "spent": "2.00000000",
                         "period": {"name": "day", "start": "2026-03-10", "resets_at": "2026-03-11T00:00:00Z"},
                         "at": "2026-03-10T09:00:00Z"}
        answer(lou, store, dollar, chat)  # 4 of 4: the limit
        with pytest.raises(AnswerRefused):
            answer(lou, store, dollar, chat)
        db.session.commit()  # the chat keeps the question, and the alert with it
        run_jobs()
        assert [e["event"] for _, e in receiver.events] == ["limit.threshold", "limit.threshold", "limit.reached"]
        assert alert_rows()[-1] == ("store", "limit", "2026-03-10", Decimal(4))
        # The next day is a new period: the threshold is sent again when crossed again.
        frozen_clock.set(datetime(2026, 3, 11, 9, 0))
        answer(lou, store, dollar, chat)
        answer(lou, store, dollar, chat)
        run_jobs()
        assert [e["period"]["start"] for _, e in receiver.events][-1] == "2026-03-11"
        assert len(receiver.events) == 4
    assert db.session.execute(sa.select(sa.func.count()).select_from(Job).where(
        Job.kind == "billing.limit_alert", Job.state == "done")).scalar() == 3


def test_alerts_of_a_persons_limit_name_the_person_and_no_webhook_means_no_job(app, store, dollar, create_user):
    from webapp.jobs.models import Job

    lou = create_user("lou")
    set_limit(store, user=lou, period="week", amount="1")
    answer(lou, store, dollar)
    assert [(s, level) for s, level, _, _ in alert_rows()] == [("per_person", "threshold"), ("per_person", "limit")]
    assert count(Job) == 0


def test_a_limit_set_below_what_was_spent_is_noted_at_once(app, store, dollar, admin_client, create_user):
    lou = create_user("lou")
    answer(lou, store, dollar)
    answer(lou, store, dollar)
    admin_client.put("/api/v1/s/research/limits", json={"store": {"period": "day", "amount": "3", "currency": "USD"}})
    assert [(s, level) for s, level, _, _ in alert_rows()] == []  # 2 of 3: below 80 %
    admin_client.put("/api/v1/s/research/limits", json={"store": {"period": "day", "amount": "2", "currency": "USD"}})
    assert [(s, level, spent) for s, level, _, spent in alert_rows()] == [
        ("store", "threshold", Decimal(2)), ("store", "limit", Decimal(2))]
    admin_client.put(f"/api/v1/s/research/limits/people/{lou.id}",
                     json={"period": "week", "amount": "2.2", "currency": "USD"})
    assert [(s, level) for s, level, _, _ in alert_rows()][2:] == [("per_person", "threshold")]
