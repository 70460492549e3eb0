"""Answers with prices, through the same seam the chat uses (``webapp.chat.charging``).

``give_answer`` is what the chat service does around the model, minus the
model: ``before_answer`` (reserve), save the answer message with its usage and
price, ``after_answer`` (settle) in the same transaction, commit. Casdoor is
always the development server over loopback, never a fake.
"""
import uuid
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from tests.support.casdoor import casdoor_config
from webapp.billing.client import TransactionsClient
from webapp.billing.models import Charge
from webapp.casdoor.client import CasdoorClient
from webapp.casdoor.settings import CasdoorSettings
from webapp.chat import charging
from webapp.chat.models import Chat, Message
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs.models import Job
from webapp.providers.models import Provider
from webapp.providers.pricing import answer_price

CASDOOR_SUBS = {"alice": "5c0e7d1e-4c1b-4a5e-9b8e-2f1d0c9a7b11", "bob": "7d2f9e3a-6b4c-4d7e-8a9f-3b2c1d0e9f22",
                "carol": "9e4a1b5c-7d6e-4f80-9b1a-4c3d2e1f0a33", "dave": "1f5b2c6d-8e7f-4091-8c2b-5d4e3f2a1b44",
                "admin": "0b3f8f1e-5a2d-4c6e-9f10-1a2b3c4d5e01"}


def casdoor_user(create_user, name):
    """A user linked to the demo Casdoor user ``name`` (as after an SSO sign-in)."""
    return create_user(name, f"{name}@storehouse.test", casdoor_sub=CASDOOR_SUBS.get(name, str(uuid.uuid4())),
                       casdoor_name=name, casdoor_org="storehouse")


def linked_local_user(name):
    """``casdoor_user`` for tests that build their own app (no ``create_user`` fixture): a local
    account linked to the demo Casdoor user ``name``. Commits."""
    from webapp.users import service as accounts

    user = accounts.create_local_user(name, f"{name}@storehouse.test", "correct horse battery", "")
    user.casdoor_sub, user.casdoor_name = CASDOOR_SUBS[name], name
    db.session.commit()
    return user


def make_provider(input_price="150", output_price="600", max_tokens=100, currency="USD", name="priced"):
    """A provider priced per million tokens (defaults: 0.00015 / 0.0006 per token)."""
    provider = Provider(name=name, kind="local", model="test", input_price=Decimal(input_price),
                        output_price=Decimal(output_price), max_tokens=max_tokens, currency=currency)
    db.session.add(provider)
    db.session.commit()
    return provider


def make_chat(store, user, title="Billing test"):
    chat = Chat(store_id=store.id, user_id=user.id, title=title)
    db.session.add(chat)
    db.session.commit()
    return chat


def give_answer(chat, user, store, provider, prompt_tokens=100, completion_tokens=50, *, status="complete"):
    """Reserve, answer (no model), settle and commit, as the chat does. Returns the answer message.

    :raises webapp.chat.errors.AnswerRefused: the balance check refused the answer.
    """
    hold = charging.before_answer(user, store, provider, prompt_tokens)
    price = answer_price(prompt_tokens, completion_tokens, provider.input_price, provider.output_price)
    message = Message(store_id=store.id, chat_id=chat.id, user_id=user.id, role="assistant", text="An answer.",
                      status=status, provider_id=provider.id, provider_name=provider.name, model=provider.model,
                      prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, price=price,
                      currency=provider.currency, charge_key=str(uuid.uuid4()), created_at=utcnow())
    db.session.add(message)
    db.session.flush()
    charging.after_answer(hold, message)
    db.session.commit()
    return message


def charges(state=None):
    query = sa.select(Charge).order_by(Charge.id)
    if state:
        query = query.where(Charge.state == state)
    return db.session.execute(query).scalars().all()


def make_due():
    """Time travel for retries: every queued job and every backoff is due now."""
    db.session.execute(sa.update(Job).where(Job.state == "queued").values(run_after=utcnow()))
    db.session.commit()


def wait_out_ambiguity():
    """Time travel: the wait after an unanswered send (longer than the Casdoor timeout) is over."""
    for charge in charges():
        if charge.ambiguous_at is not None:
            charge.ambiguous_at -= timedelta(hours=1)
    db.session.commit()


def casdoor_rows(server, key=None):
    rows = [t for t in server.controls.transactions() if t.get("application") == "storehouse"]
    return [t for t in rows if t.get("subtype") == key or t.get("name") == key] if key else rows


def ledger_total(state="delivered"):
    return sum((c.amount for c in charges(state)), Decimal(0))


def casdoor_total(server):
    """Sum of what Casdoor charged (minus its amounts), read as Decimal digits."""
    return sum((-Decimal(repr(t["amount"])) for t in casdoor_rows(server)), Decimal(0))


def settings_for(server, timeout=3.0, application="storehouse"):
    """Casdoor settings for ``server``'s demo ``application``, as the app would build them."""
    config = casdoor_config(server, application=application)
    return CasdoorSettings(endpoint=config["CASDOOR_ENDPOINT"], client_id=config["CASDOOR_CLIENT_ID"],
                           client_secret=config["CASDOOR_CLIENT_SECRET"],
                           organization=config["CASDOOR_ORG_NAME"], application=config["CASDOOR_APP_NAME"],
                           timeout=timeout)


def make_client(server, shape="current", timeout=3.0):
    """A transactions client for ``server`` (``shape="legacy"``: Casdoor v2.117 - v2.144)."""
    return TransactionsClient(CasdoorClient(settings_for(server, timeout)), shape=shape)
