"""Isolation: a user bound to one store can neither see nor change another store.

Two checks, both driven by the application's own URL map so that a new route
is covered the day it is added:

* ``test_walk_every_route_as_a_bound_user``: every rule and every method,
  pages and API, aimed at the other store's objects (``store`` = the other
  store, ids = the other store's rows, ``?store=`` too), with a valid CSRF
  token and plausible form/JSON data so that a missing check would really
  change something. No response may contain the other store's secret marker,
  store-scoped routes must answer 404, and the other store's rows must be
  exactly as they were.
* ``test_cross_store_404``: one case per store-scoped endpoint and method:
  the other store's URL answers 404, the own store's URL with the other
  store's ids answers 404, while the own store's URL with own ids does not
  (so the 404 comes from scoping, not from a broken route).

A route can be left out only by ``EXEMPT`` below, with the reason. A URL
parameter the walk does not know how to fill fails the walk: teach
``FILLERS`` about it.
"""
import pytest
from werkzeug.routing import Map

from config import TestingConfig
from tests.support.client import csrf_token
from tests.support.knowledge import add_indexed_file
from webapp import create_app
from webapp.sessions.models import Session

SECRET = "SECRET-OTHER-STORE-7f3a9"
#: The other store's name: a bound user must not even learn it, except from URLs they typed.
OTHER = "hiddenstore7f3a"

#: endpoint -> why the walk does not call it. Reviewed; keep it short.
EXEMPT = {
    "auth.logout": "ends the walking user's session (touches no store data); later requests would be anonymous",
    "auth_api.logout": "ends the walking user's session (touches no store data); later requests would be anonymous",
}

#: URL parameter -> how to fill it from the walk's context (the *other* store's objects).
FILLERS = {
    "store": lambda ctx: ctx["other"].name,
    "document_id": lambda ctx: ctx["other_document"].id,
    "file_id": lambda ctx: ctx["other_file"].id,
    "session_id": lambda ctx: ctx["other_session"].id,
    "filename": lambda ctx: "css/app.css",
    # The other store's bound author (the own store's document has no author: the same person).
    "user_id": lambda ctx: ctx["other_document"].created_by_id or ctx["other_session"].user_id,
    "store_id": lambda ctx: ctx["other"].id,
    "chat_id": lambda ctx: ctx["other_chat"].id,
    "message_id": lambda ctx: ctx["other_message"].id,
    "provider_id": lambda ctx: ctx["provider"].id,
    "question_id": lambda ctx: ctx["other_question"].id,
}

#: What a form or JSON body carries: enough that a missing check would change data.
PAYLOAD = {
    "title": "hijacked", "body": "hijacked", "name": "hijacked", "display_name": "hijacked",
    "description": "hijacked", "welcome_text": "hijacked", "system_prompt": "hijacked",
    "model_provider": "hijacked", "knowledge_count": "7", "memory_limit": "3", "is_active": "y",
    "update_casdoor": "y", "email": "x@example.com", "password": "hijacked-password",
    "active": "0", "store": "home",
}

#: JSON bodies are checked against a strict schema per endpoint (unknown fields refused),
#: so the API is sent one body per kind of endpoint, each one its schema accepts.
API_BODIES = [
    {"title": "hijacked", "body": "hijacked"},
    {"display_name": "hijacked", "description": "hijacked", "welcome_text": "hijacked",
     "system_prompt": "hijacked", "model_provider": "hijacked", "knowledge_count": 7, "memory_limit": 3},
    {"name": "hijacked", "update_casdoor": False},
    {"email": "x@example.com", "password": "hijacked-password"},
    {"text": "hijacked"},
    {"title": "hijacked"},
    # Spending limits: a store's (PUT …/limits) and one person's (PUT …/limits/people/<id>).
    {"store": {"period": "day", "amount": "0", "currency": "USD"}, "per_person": None},
    {"period": "day", "amount": "0", "currency": "USD"},
    {"question": "hijacked", "file": "own.txt"},
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _url_rules():
    app = create_app(type("Cfg", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    return list(app.url_map.iter_rules())


RULES = _url_rules()
#: Former addresses (``webapp.routing.moved``) only redirect to a current address, which the
#: walk covers; ``test_former_addresses_only_redirect_and_stay_behind_the_chokepoint`` walks them.
FORMER = {rule.endpoint for rule in RULES if rule.endpoint.endswith("_at_former_url")}
SCOPED_CASES = [
    (rule.endpoint, method)
    for rule in RULES if "store" in rule.arguments and rule.endpoint not in FORMER
    for method in sorted(rule.methods & set(METHODS))
]


@pytest.fixture
def world(app, db, create_user, create_store, create_document, login):
    """Store ``home`` (the walker's, by Casdoor Homepage) and store ``other`` (full of secrets)."""
    home = create_store("home")
    other = create_store(OTHER, display_name=f"Other {SECRET}", description=SECRET,
                         welcome_text=SECRET, system_prompt=SECRET)
    author = create_user("otherauthor", casdoor_homepage=OTHER)
    other_document = create_document(other, title=f"Title {SECRET}", body=f"Body {SECRET}", author=author)
    create_document(other, title=f"Second {SECRET}", body=SECRET, author=author)
    own_document = create_document(home, title="Own document", body="mine")
    other_file = add_indexed_file(app, other, f"Name {SECRET}.txt", f"Text {SECRET} about otters".encode())
    own_file = add_indexed_file(app, home, "own.txt", b"mine, about otters")
    # The other store's author is signed in somewhere: their session is theirs alone.
    login(app.test_client(), author)
    other_session = db.session.execute(db.select(Session).filter_by(user_id=author.id)).scalar_one()
    # The other store's author was charged for an answer there (their ledger is theirs alone).
    from webapp.billing.models import Charge
    from webapp.core.clock import utcnow
    db.session.add(Charge(store_id=other.id, user_id=author.id, key="0e5c1d9a-6b2f-4c8e-9a1d-7f3b2c4d5e6f",
                          amount=1, currency="USD", state="local_only", reason=SECRET,
                          chat_label=f"{OTHER}/chat-1", provider=SECRET, answered_at=utcnow()))
    # Chat: the other store's chat and question; a provider (not store-owned).
    from webapp.chat.models import Chat, Message
    from webapp.providers.models import Provider
    other_chat = Chat(store_id=other.id, user_id=author.id, title=f"Chat {SECRET}")
    db.session.add(other_chat)
    db.session.flush()
    other_message = Message(store_id=other.id, chat_id=other_chat.id, user_id=author.id, role="user", text=SECRET)
    provider = Provider(name="Walk provider", kind="local", model="SmolLM2-135M-Instruct")
    # The other store's spending limits: the store's, its default per person, its author's own.
    from webapp.billing.models import PersonLimit, StoreLimit
    limits = [StoreLimit(store_id=other.id, subject=subject, period="month", amount=77, currency="USD")
              for subject in ("store", "per_person")]
    limits.append(PersonLimit(store_id=other.id, user_id=author.id, period="week", amount=7, currency="USD"))
    # Retrieval test questions: the other store's, and one of the walker's own store (a run needs one).
    from webapp.knowledge.models import RetrievalQuestion
    other_question = RetrievalQuestion(store_id=other.id, question=SECRET, file_id=other_file.id)
    own_question = RetrievalQuestion(store_id=home.id, question="What about otters?", file_id=own_file.id)
    db.session.add_all([other_message, provider, *limits, other_question, own_question])
    db.session.commit()
    return {"home": home, "other": other, "other_document": other_document, "own_document": own_document,
            "other_session": other_session, "other_chat": other_chat, "other_message": other_message,
            "provider": provider, "other_file": other_file, "own_file": own_file,
            "other_question": other_question, "own_question": own_question}


def own_chat(db, store, user):
    """``{"other_chat", "other_message"}`` pointing at ``user``'s own chat and question in ``store``."""
    from webapp.chat.models import Chat, Message
    chat = Chat(store_id=store.id, user_id=user.id, title="Own chat")
    db.session.add(chat)
    db.session.flush()
    message = Message(store_id=store.id, chat_id=chat.id, user_id=user.id, role="user", text="own question")
    db.session.add(message)
    db.session.commit()
    return {"other_chat": chat, "other_message": message}


def snapshot(db):
    """Every row of every store and store-owned table, plus the Homepages (bindings)."""
    from webapp.stores.models import STORE_OWNED_MODELS, Store
    from webapp.users.models import User

    db.session.expire_all()
    state = {}
    for model in (Store, *STORE_OWNED_MODELS):
        table = model.__table__
        rows = db.session.execute(db.select(table).order_by(table.c.id)).all()
        state[table.name] = [tuple(row) for row in rows]
    # Spending limits and the usage rollup (keyed by store, not store-owned models).
    from webapp.billing.models import PersonLimit, StoreLimit
    from webapp.chat.models import UsageDay
    for model in (StoreLimit, PersonLimit, UsageDay):
        table = model.__table__
        state[table.name] = sorted(tuple(map(str, row)) for row in db.session.execute(db.select(table)).all())
    # The other store's user: account (Homepage included) and sessions.
    state["other_user"] = tuple(db.session.execute(
        db.select(User.__table__).filter_by(username="otherauthor")).one())
    other_user = db.select(User.id).filter_by(username="otherauthor").scalar_subquery()
    state["other_sessions"] = [tuple(row) for row in db.session.execute(
        db.select(Session.__table__).filter(Session.user_id == other_user).order_by(Session.id))]
    return state


def build_url(rule, ctx):
    values = {}
    for argument in rule.arguments:
        if argument not in FILLERS:
            pytest.fail(f"The isolation walk cannot fill <{argument}> of {rule.rule} ({rule.endpoint}): "
                        "add a filler that points it at the other store's objects.")
        values[argument] = FILLERS[argument](ctx)
    adapter = Map([type(rule)(rule.rule, endpoint=rule.endpoint)], converters=rule.map.converters).bind("localhost")
    return adapter.build(rule.endpoint, values, append_unknown=False)


def calls(client, method, url, token):
    """The responses to ``method url``: one for pages, one per API body for API POST/PUT/PATCH."""
    if url.startswith("/api/"):
        bodies = {"GET": [None], "DELETE": [{}]}.get(method, API_BODIES)
        for body in bodies:
            yield client.open(url, method=method, json=body, query_string={"store": OTHER, "confirm": "true"})
        return
    data = {**PAYLOAD, "csrf_token": token} if method != "GET" else None
    yield client.open(url, method=method, data=data, query_string={"store": OTHER})


@pytest.mark.parametrize("is_admin", [False, True], ids=["bound-user", "bound-admin"])
def test_walk_every_route_as_a_bound_user(app, db, client, create_user, login, world, is_admin):
    walker = create_user("walker", casdoor_homepage="home", is_admin=is_admin)
    login(client, walker)
    token = csrf_token(client)
    before = snapshot(db)
    walked = []
    for rule in RULES:
        if rule.endpoint in EXEMPT or rule.endpoint in FORMER:
            continue
        url = build_url(rule, world)
        for method in sorted(rule.methods & set(METHODS)):
            for response in calls(client, method, url, token):
                body = response.get_data(as_text=True)
                response.close()
                where = f"{method} {url} ({rule.endpoint}) -> {response.status_code}"
                walked.append(where)
                assert SECRET not in body, f"{where} reveals the other store: {body[:300]}"
                assert OTHER not in response.headers.get("Location", ""), where
                if "store" not in rule.arguments:
                    assert OTHER not in body, f"{where} names the other store: {body[:300]}"
                if "store" in rule.arguments:
                    assert response.status_code == 404, f"{where}: a store-scoped route must answer 404"
                assert response.status_code != 500, where
        # Still signed in as the walker: otherwise later answers would prove nothing.
        assert client.get("/api/v1/me/").status_code == 200, f"the walk lost its session at {rule.rule}"
    assert snapshot(db) == before, "the walk changed the other store's data"
    assert len(walked) >= 30, walked


def test_exemptions_name_real_endpoints():
    endpoints = {rule.endpoint for rule in RULES}
    assert set(EXEMPT) <= endpoints, set(EXEMPT) - endpoints


@pytest.mark.parametrize("endpoint,method", SCOPED_CASES, ids=[f"{m}-{e}" for e, m in SCOPED_CASES])
def test_cross_store_404(app, db, client, create_user, login, world, endpoint, method):
    rule = next(r for r in RULES if r.endpoint == endpoint and method in r.methods)
    user = create_user("bound", casdoor_homepage="home", is_admin=True)
    login(client, user)
    token = csrf_token(client)
    before = snapshot(db)

    other_url = build_url(rule, world)
    for response in calls(client, method, other_url, token):
        assert response.status_code == 404, f"{method} {other_url} -> {response.status_code}"
        assert SECRET not in response.get_data(as_text=True)

    if {"document_id", "file_id", "chat_id", "question_id"} & set(rule.arguments):
        # The own store's URL cannot reach the other store's rows either.
        mixed_url = build_url(rule, {**world, "other": world["home"]})
        for response in calls(client, method, mixed_url, token):
            assert response.status_code == 404, f"{method} {mixed_url} -> {response.status_code}"
    assert snapshot(db) == before

    # The same endpoint in the user's own store is reachable: the 404s above are scoping's.
    own_url = build_url(rule, {**world, "other": world["home"], "other_document": world["own_document"],
                               "other_file": world["own_file"], "other_question": world["own_question"],
                               **own_chat(db, world["home"], user)})
    # It may be refused (a bound admin cannot rename or delete their store; a body meant for
    # another endpoint is 422), never "not found"; and at least one body gets past validation.
    statuses = []
    for response in calls(client, method, own_url, token):
        statuses.append(response.status_code)
        response.close()  # a download streams its file until closed
    assert all(code in (200, 201, 202, 302, 400, 403, 409, 422) for code in statuses), f"{method} {own_url} -> {statuses}"
    assert any(code != 422 for code in statuses), f"{method} {own_url}: every body refused as invalid {statuses}"


def test_every_store_route_goes_through_the_chokepoint():
    """A ``<store>`` route on a blueprint that skipped ``init_scoped_blueprint`` would get
    the raw name as a view argument and no access check: refuse such a map."""
    from webapp.stores.scoping import _pop_store_name, load_store

    app = create_app(type("Cfg", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    for rule in app.url_map.iter_rules():
        if "store" not in rule.arguments:
            continue
        blueprint = rule.endpoint.rpartition(".")[0]
        assert load_store in app.before_request_funcs.get(blueprint, []), rule.rule
        assert _pop_store_name in app.url_value_preprocessors.get(blueprint, []), rule.rule


def test_former_addresses_only_redirect_and_stay_behind_the_chokepoint(app, db, client, create_user, login, world):
    """Another store's former address is 404 like its current one; the own store's redirects
    (301 for GET, 308 otherwise) to the current address and changes nothing."""
    user = create_user("bound", casdoor_homepage="home", is_admin=True)
    login(client, user)
    token = csrf_token(client)
    own = {**world, "other": world["home"], "other_document": world["own_document"],
           "other_file": world["own_file"], **own_chat(db, world["home"], user)}
    before = snapshot(db)
    assert FORMER, "no former addresses: drop this test"
    for rule in RULES:
        if rule.endpoint not in FORMER:
            continue
        for method in sorted(rule.methods & set(METHODS)):
            data = {**PAYLOAD, "csrf_token": token} if method != "GET" else None
            if "store" in rule.arguments:
                response = client.open(build_url(rule, world), method=method, data=data)
                assert response.status_code == 404, f"{method} {rule.rule} in the other store"
                assert SECRET not in response.get_data(as_text=True)
            # A user id names a person, not a store's row: the redirect is the same for anyone's.
            own_url = build_url(rule, own if "user_id" not in rule.arguments
                                else {**own, "other_document": world["other_document"]})
            response = client.open(own_url, method=method, data=data)
            assert response.status_code == (301 if method == "GET" else 308), f"{method} {own_url}"
            assert response.headers["Location"] == own_url + "/", f"{method} {own_url}"
    assert snapshot(db) == before
