"""The usage rollup: kept in each answer's own transaction, by day in BILLING_TIMEZONE; ``flask usage verify``."""
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.support.billing import give_answer, make_chat, make_provider
from webapp.chat import rollup
from webapp.chat.models import UsageDay
from webapp.extensions import db


@pytest.fixture
def store(create_store):
    return create_store("research")


@pytest.fixture
def lou(create_user, store, grant):
    user = create_user("lou")
    grant(user, store)
    return user


def rows():
    return db.session.execute(sa.select(UsageDay).order_by(UsageDay.day, UsageDay.provider)).scalars().all()


def test_answers_of_one_group_and_day_add_up_in_one_row(frozen_clock, app, store, lou):
    frozen_clock.set(datetime(2026, 3, 10, 12, 0))
    provider = make_provider()
    chat = make_chat(store, lou)
    first = give_answer(chat, lou, store, provider, prompt_tokens=1000, completion_tokens=10)
    second = give_answer(chat, lou, store, provider, prompt_tokens=200, completion_tokens=20)
    row, = rows()
    assert (row.store_id, row.user_id, row.provider, row.currency, row.day) == (
        store.id, lou.id, "priced", "USD", date(2026, 3, 10))
    assert (row.answers, row.prompt_tokens, row.completion_tokens) == (2, 1200, 30)
    assert row.cost == first.price + second.price == Decimal("0.198")
    # Another provider is another row.
    give_answer(chat, lou, store, make_provider("1", "1", name="cheap"), prompt_tokens=1, completion_tokens=1)
    assert [(r.provider, r.answers) for r in rows()] == [("cheap", 1), ("priced", 2)]


def test_days_are_calendar_days_in_the_billing_timezone(frozen_clock, app, store, lou):
    app.config["BILLING_TIMEZONE"] = "Pacific/Auckland"  # UTC+13 in March
    provider = make_provider()
    chat = make_chat(store, lou)
    frozen_clock.set(datetime(2026, 3, 10, 10, 59))  # 23:59 in Auckland
    give_answer(chat, lou, store, provider)
    frozen_clock.set(datetime(2026, 3, 10, 11, 0))  # the next day there
    give_answer(chat, lou, store, provider)
    assert [(r.day, r.answers) for r in rows()] == [(date(2026, 3, 10), 1), (date(2026, 3, 11), 1)]


def test_a_rollup_row_is_written_with_the_answer_or_not_at_all(app, store, lou):
    provider = make_provider()
    chat = make_chat(store, lou)
    from webapp.chat.models import Message

    answer = Message(store_id=store.id, chat_id=chat.id, user_id=lou.id, role="assistant", status="complete",
                     provider_name="priced", prompt_tokens=5, completion_tokens=5, price=Decimal("0.1"))
    db.session.add(answer)
    db.session.flush()
    rollup.record(answer)
    db.session.rollback()  # the answer's transaction fails: its usage goes with it
    assert rows() == []
    # A streaming answer is not final yet, a question is no answer: neither is recorded.
    db.session.add_all([Message(store_id=store.id, chat_id=chat.id, user_id=lou.id, role="assistant",
                                status="streaming"),
                        Message(store_id=store.id, chat_id=chat.id, user_id=lou.id, role="user", text="q")])
    db.session.flush()
    for message in db.session.execute(sa.select(Message)).scalars():
        rollup.record(message)
    db.session.commit()
    assert rows() == [] and provider.id


def test_usage_verify_reports_and_repairs_differences(frozen_clock, app, store, lou):
    provider = make_provider()
    chat = make_chat(store, lou)
    frozen_clock.set(datetime(2026, 3, 1, 9, 0))
    give_answer(chat, lou, store, provider, prompt_tokens=100, completion_tokens=10)
    frozen_clock.set(datetime(2026, 3, 5, 9, 0))
    give_answer(chat, lou, store, provider, prompt_tokens=300, completion_tokens=30)
    give_answer(chat, lou, store, provider, prompt_tokens=300, completion_tokens=30)
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["usage", "verify"])
    assert clean.exit_code == 0 and "Checked 2 groups: 0 differ." in clean.output

    # Damage: one day's row lost, the other's count wrong.
    march_1, march_5 = rows()
    db.session.delete(march_1)
    march_5.answers, march_5.cost = 7, Decimal("1")
    db.session.commit()
    found = runner.invoke(args=["usage", "verify"])
    assert found.exit_code == 1 and "Checked 2 groups: 2 differ." in found.output
    assert "2026-03-01: answers say 1 answers, 100+10 tokens" in found.output and "rollup has 0, 0+0, 0" in found.output
    # --since leaves the earlier day alone.
    later = runner.invoke(args=["usage", "verify", "--since", "2026-03-02"])
    assert later.exit_code == 1 and "Checked 1 groups: 1 differ." in later.output
    assert runner.invoke(args=["usage", "verify", "--since", "March"]).exit_code == 2

    repaired = runner.invoke(args=["usage", "verify", "--repair"])
    assert repaired.exit_code == 0 and "2 repaired" in repaired.output
    db.session.expire_all()
    assert [(r.day, r.answers, r.prompt_tokens, r.cost) for r in rows()] == [
        (date(2026, 3, 1), 1, 100, Decimal("0.021")), (date(2026, 3, 5), 2, 600, Decimal("0.126"))]
    assert runner.invoke(args=["usage", "verify"]).exit_code == 0


def test_usage_verify_repair_drops_rows_without_answers(app, store, lou):
    db.session.add(UsageDay(store_id=store.id, user_id=lou.id, provider="ghost", currency="USD",
                            day=date(2026, 1, 1), answers=3, prompt_tokens=1, completion_tokens=1, cost=Decimal(1)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["usage", "verify", "--repair"])
    assert result.exit_code == 0 and "1 repaired" in result.output
    assert rows() == []
