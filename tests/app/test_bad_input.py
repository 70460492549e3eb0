"""Bad input gets a clear error naming the field, and changes nothing.

JSON bodies are checked against a declared schema (422 ``invalid_fields`` with
``{"fields": {name: message}}``), forms report every field's error at once in
the label's words, and hostile input (wrong types, huge or nested bodies, NUL
bytes, unpaired surrogates, invisible direction marks) never reaches the
database as a 500 or as a silently coerced value.
"""
import json

import pytest

from tests.support.client import post_form
from webapp.stores.models import Document, Store
from webapp.users.models import User


@pytest.fixture
def world(client, create_user, create_store, create_document, login):
    general = create_store("general", display_name="General", knowledge_count=5, memory_limit=10)
    research = create_store("research", display_name="Research")
    admin = create_user("root", is_admin=True)
    document = create_document(general, title="Handbook", body="Original", author=admin)
    login(client, admin)
    return {"general": general, "research": research, "admin": admin, "document": document}


def rows(db):
    """Every store and document, as plain tuples: what "changes nothing" compares."""
    db.session.expire_all()
    return {model.__tablename__: [tuple(row) for row in db.session.execute(
        db.select(model.__table__).order_by(model.__table__.c.id))] for model in (Store, Document)}


def send_json(client, method, path, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.open(path, method=method, data=data, content_type="application/json")


# --- JSON: the cases of the issue ---------------------------------------------------------

@pytest.mark.parametrize("method,path,body,field,message", [
    ("POST", "/api/v1/stores/", {"name": 123}, "name", "must be text"),
    ("POST", "/api/v1/stores/", {"name": {"a": 1}}, "name", "must be text"),
    ("POST", "/api/v1/stores/", {"name": ["lab"]}, "name", "must be text"),
    ("POST", "/api/v1/stores/", {"name": None}, "name", "must be text"),
    ("POST", "/api/v1/stores/", {}, "name", "is required"),
    ("POST", "/api/v1/stores/", {"name": "lab", "is_active": "no"}, "is_active", "must be true or false"),
    ("POST", "/api/v1/stores/", {"name": "lab", "is_active": 0}, "is_active", "must be true or false"),
    ("POST", "/api/v1/stores/", {"name": "lab", "knowledge_count": 2.5}, "knowledge_count", "must be a whole number"),
    ("POST", "/api/v1/stores/", {"name": "lab", "knowledge_count": "7"}, "knowledge_count", "must be a whole number"),
    ("POST", "/api/v1/stores/", {"name": "lab", "knowledge_count": True}, "knowledge_count",
     "must be a whole number"),
    ("POST", "/api/v1/stores/", {"name": "lab", "knowledge_count": 51}, "knowledge_count", "must be at most 50"),
    ("POST", "/api/v1/stores/", {"name": "lab", "memory_limit": -1}, "memory_limit", "must be at least 0"),
    ("POST", "/api/v1/stores/", {"name": "lab", "colour": "red"}, "colour", "is not a field this endpoint accepts"),
    ("POST", "/api/v1/stores/", {"name": "lab", "is_default": True}, "is_default",
     "is not a field this endpoint accepts"),
    ("POST", "/api/v1/stores/", {"name": "Data Science"}, "name", "cannot contain a space"),
    ("POST", "/api/v1/stores/", {"name": "x" * 65}, "name", "at most 64 characters; this one has 65"),
    ("POST", "/api/v1/stores/", {"name": "lab", "display_name": "x" * 101}, "display_name",
     "has at most 100 characters"),
    ("POST", "/api/v1/stores/", {"name": "lab", "system_prompt": "x" * 20_001}, "system_prompt",
     "has at most 20,000 characters"),
    ("PATCH", "/api/v1/s/general/", {"is_active": "no"}, "is_active", "must be true or false"),
    ("PATCH", "/api/v1/s/general/", {"knowledge_count": 2.5}, "knowledge_count", "must be a whole number"),
    ("PATCH", "/api/v1/s/general/", {"display_name": None}, "display_name", "must be text"),
    ("PATCH", "/api/v1/s/general/", {"knowledge_count": 9, "unknown": 1}, "unknown",
     "is not a field this endpoint accepts"),
    ("PATCH", "/api/v1/s/general/", {"name": "new name"}, "name", "cannot contain a space"),
    ("PATCH", "/api/v1/s/general/", {"update_casdoor": "yes"}, "update_casdoor", "must be true or false"),
    ("POST", "/api/v1/s/general/documents/", {"title": 5}, "title", "must be text"),
    ("POST", "/api/v1/s/general/documents/", {"title": "   "}, "title", "must not be empty"),
    ("POST", "/api/v1/s/general/documents/", {"body": "no title"}, "title", "is required"),
    ("POST", "/api/v1/s/general/documents/", {"title": "t", "body": 5}, "body", "must be text"),
    ("POST", "/api/v1/s/general/documents/", {"title": "x" * 256}, "title", "has at most 255 characters"),
    ("POST", "/api/v1/s/general/documents/", {"title": "t", "author": "me"}, "author",
     "is not a field this endpoint accepts"),
    ("PATCH", "/api/v1/s/general/documents/{document}", {"title": 5}, "title", "must be text"),
    ("PATCH", "/api/v1/s/general/documents/{document}", {"body": ["x"]}, "body", "must be text"),
    ("PATCH", "/api/v1/s/general/documents/{document}", {"title": None}, "title", "must be text"),
])
def test_wrong_json_is_422_naming_the_field_and_changes_nothing(client, db, world, method, path, body, field,
                                                                 message):
    before = rows(db)
    response = send_json(client, method, path.format(document=world["document"].id), body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_fields"
    assert message in response.json["fields"][field]
    assert field in response.json["message"] and response.json["request_id"]
    assert rows(db) == before


@pytest.mark.parametrize("body,field,message", [
    ({"email": 123, "password": ["x"]}, "email", "must be text"),
    ({"email": 123, "password": ["x"]}, "password", "must be text"),
    ({"email": "root@example.com"}, "password", "is required"),
    ({"email": "root@example.com", "password": "x", "remember": True}, "remember",
     "is not a field this endpoint accepts"),
    ({"email": "root\x00@example.com", "password": "x"}, "email", "cannot contain control characters"),
    ({"email": "r" * 300, "password": "x"}, "email", "has at most 255 characters"),
    ({"email": "root@example.com", "password": "x" * 1025}, "password", "has at most 1,024 characters"),
    ('{"email": "root@example.com", "password": "\\ud800"}', "password", "is not valid Unicode text"),
    ('{"email": "root@example.com\\udfff", "password": "x"}', "email", "is not valid Unicode text"),
])
def test_sign_in_json_is_checked_before_any_lookup(client, create_user, body, field, message):
    create_user("root")
    response = send_json(client, "POST", "/api/v1/auth/login/", body)
    assert response.status_code == 422
    assert message in response.json["fields"][field]


def test_every_wrong_field_is_reported_in_one_answer(client, db, world):
    before = rows(db)
    response = send_json(client, "POST", "/api/v1/stores/", {
        "name": "Data Science", "knowledge_count": 2.5, "is_active": "no", "colour": "red"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"name", "knowledge_count", "is_active", "colour"}
    assert rows(db) == before


@pytest.mark.parametrize("body", [
    "[1, 2]", "\"name\"", "null", "{broken", "", "{\"name\": \"a\"} trailing",
    "[" * 100_000 + "]" * 100_000,
    "{\"a\":" * 50_000 + "1" + "}" * 50_000,
    "{\"knowledge_count\": " + "9" * 5000 + "}",
])
def test_bodies_that_are_no_json_object_are_400(client, db, world, body):
    before = rows(db)
    for method, path in (("POST", "/api/v1/stores/"), ("PATCH", "/api/v1/s/general/"),
                         ("POST", "/api/v1/s/general/documents/"), ("POST", "/api/v1/auth/login/")):
        response = send_json(client, method, path, body)
        assert response.status_code == 400, (method, path, response.get_data(as_text=True)[:200])
        assert response.json["error"] == "invalid_json"
    assert rows(db) == before


def test_nested_json_where_text_is_expected_is_named(client, db, world):
    deep = {"a": 1}
    for _ in range(200):
        deep = {"a": deep}
    response = send_json(client, "POST", "/api/v1/s/general/documents/", {"title": deep})
    assert response.status_code == 422 and response.json["fields"]["title"] == "must be text"


# --- JSON: hostile text --------------------------------------------------------------------

HOSTILE_TEXT = [
    ("nul", "a\x00b", "cannot contain control characters (found U+0000)"),
    ("escape", "a\x1b[31mred", "cannot contain control characters (found U+001B)"),
    ("c1 control", "a\x9bb", "cannot contain control characters (found U+009B)"),
    ("surrogate", "\\ud800", "is not valid Unicode text"),
    ("low surrogate", "x\\udfff", "is not valid Unicode text"),
]
ONE_LINE_ONLY = [
    ("newline", "two\nlines", "must be on one line"),
    ("line separator", "two\u2028lines", "must be on one line"),
    ("right-to-left override", "invoice\u202egnp.exe", "cannot contain invisible text-direction characters"),
]


def _raw_json(field_values):
    """JSON text with ``\\ud800`` kept as an escape (json.dumps would refuse to encode a lone surrogate)."""
    parts = []
    for key, value in field_values.items():
        if isinstance(value, str) and "\\u" in value:
            parts.append(f'"{key}": "{value}"')
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{" + ", ".join(parts) + "}"


@pytest.mark.parametrize("label,value,message", HOSTILE_TEXT + ONE_LINE_ONLY, ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
@pytest.mark.parametrize("method,path,field,extra", [
    ("POST", "/api/v1/s/general/documents/", "title", {}),
    ("PATCH", "/api/v1/s/general/documents/{document}", "title", {}),
    ("POST", "/api/v1/stores/", "display_name", {"name": "lab"}),
    ("PATCH", "/api/v1/s/general/", "display_name", {}),
    ("PATCH", "/api/v1/s/general/", "model_provider", {}),
])
def test_hostile_one_line_text_is_refused(client, db, world, label, value, message, method, path, field, extra):
    before = rows(db)
    response = send_json(client, method, path.format(document=world["document"].id),
                         _raw_json({**extra, field: value}))
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert message in response.json["fields"][field]
    assert rows(db) == before


@pytest.mark.parametrize("label,value,message", HOSTILE_TEXT, ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
@pytest.mark.parametrize("method,path,field,extra", [
    ("POST", "/api/v1/s/general/documents/", "body", {"title": "t"}),
    ("PATCH", "/api/v1/s/general/documents/{document}", "body", {}),
    ("PATCH", "/api/v1/s/general/", "description", {}),
    ("PATCH", "/api/v1/s/general/", "system_prompt", {}),
    ("POST", "/api/v1/stores/", "welcome_text", {"name": "lab"}),
])
def test_hostile_multi_line_text_is_refused(client, db, world, label, value, message, method, path, field, extra):
    before = rows(db)
    response = send_json(client, method, path.format(document=world["document"].id),
                         _raw_json({**extra, field: value}))
    assert response.status_code == 422
    assert message in response.json["fields"][field]
    assert rows(db) == before


def test_real_unicode_and_line_breaks_are_kept_as_sent(client, db, world):
    text = "Größe 日本語 🧪 עברית\n\tindented\r\nline — “quoted”"
    created = send_json(client, "POST", "/api/v1/s/general/documents/",
                        {"title": "  Café ☕ 日本 עברית 🧪  ", "body": text})
    assert created.status_code == 201
    assert created.json["document"]["title"] == "Café ☕ 日本 עברית 🧪"
    db.session.expire_all()
    document = db.session.get(Document, created.json["document"]["id"])
    assert document.body == text


# --- JSON: business rules are checked before anything changes ------------------------------

def test_a_refused_store_patch_changes_nothing(client, db, world):
    """Deactivating the default store is refused; the settings sent with it are not applied either."""
    before = rows(db)
    response = send_json(client, "PATCH", "/api/v1/s/general/",
                         {"display_name": "Changed", "knowledge_count": 9, "name": "renamed", "is_active": False})
    assert response.status_code == 400 and response.json["fields"] == {
        "is_active": "The default store cannot be deactivated: make another store the default first."}
    assert rows(db) == before


def test_the_service_refuses_before_it_mutates(app, db, world):
    from webapp.stores import service

    general = world["general"]
    with pytest.raises(service.StoreError):
        service.update_store_settings(general, {"display_name": "Changed", "knowledge_count": 9}, is_active=False)
    # Still in this session, before any rollback: nothing was set on the object.
    assert (general.display_name, general.knowledge_count, general.is_active) == ("General", 5, True)
    with pytest.raises(service.StoreError):
        service.update_store(general, name="research", settings={"display_name": "Changed"})
    assert (general.name, general.display_name) == ("general", "General")


def test_a_default_store_cannot_be_made_default_and_inactive_at_once(client, db, world):
    before = rows(db)
    response = send_json(client, "PATCH", "/api/v1/s/research/", {"is_default": True, "is_active": False})
    assert response.status_code == 400 and "is_active" in response.json["fields"]
    assert rows(db) == before


def test_a_taken_name_is_409_naming_the_field(client, db, world):
    before = rows(db)
    response = send_json(client, "PATCH", "/api/v1/s/research/", {"name": "GENERAL", "knowledge_count": 3})
    assert response.status_code == 409 and response.json["error"] == "store_exists"
    assert "already exists" in response.json["fields"]["name"]
    assert rows(db) == before


def test_good_json_still_works(client, db, world):
    created = send_json(client, "POST", "/api/v1/stores/", {
        "name": "lab", "display_name": "Lab", "knowledge_count": 9, "memory_limit": 0, "is_active": False})
    assert created.status_code == 201, created.json
    assert {k: created.json["store"][k] for k in ("name", "display_name", "knowledge_count", "memory_limit",
                                                  "is_active")} == \
        {"name": "lab", "display_name": "Lab", "knowledge_count": 9, "memory_limit": 0, "is_active": False}
    patched = send_json(client, "PATCH", "/api/v1/s/lab/", {"description": "Line one\nLine two", "is_active": True})
    assert patched.status_code == 200 and patched.json["store"]["is_active"] is True
    doc = world["document"]
    renamed = send_json(client, "PATCH", f"/api/v1/s/general/documents/{doc.id}", {"title": "Handbook v2"})
    assert renamed.json["document"] == {**renamed.json["document"], "title": "Handbook v2", "body": "Original"}


# --- forms: every error at once, in the label's words -----------------------------------------

def test_the_store_form_reports_every_error_at_once_in_the_labels_words(client, db, world):
    before = rows(db)
    response = post_form(client, "/admin/stores/new", {
        "name": "Research Team", "display_name": "x" * 101, "description": "bad\x00byte",
        "model_provider": "", "knowledge_count": "2.5", "memory_limit": "500", "is_active": "y"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    errors = [line.split('<p class="field-error">')[1].split("</p>")[0]
              for line in page.splitlines() if 'class="field-error"' in line]
    assert errors == [
        "A store name cannot contain a space. Names are 1 to 64 characters: letters (a-z, A-Z), digits, "
        "&#39;-&#39;, &#39;_&#39; and &#39;.&#39;, starting with a letter or digit: they appear in addresses "
        "and must match Casdoor Homepages exactly.",
        "Display name has at most 100 characters; this one has 101.",
        "Description cannot contain control characters (found U+0000).",
        "Enter a model provider (local is the built-in model).",
        "Knowledge chunks per answer must be a whole number, such as 5.",
        "Earlier messages remembered must be a whole number from 0 to 100.",
    ]
    assert rows(db) == before


def test_the_store_form_names_a_taken_name_with_the_other_errors(client, db, world):
    response = post_form(client, "/admin/stores/new", {
        "name": "RESEARCH", "model_provider": "local", "knowledge_count": "0", "memory_limit": "1"})
    page = response.get_data(as_text=True)
    assert "A store named &#39;research&#39; already exists." in page
    assert "Knowledge chunks per answer must be a whole number from 1 to 50." in page


def test_the_settings_form_changes_nothing_when_one_field_is_wrong(client, db, world):
    before = rows(db)
    response = post_form(client, "/admin/stores/general/edit", {
        "display_name": "Changed", "model_provider": "local", "knowledge_count": "7", "memory_limit": "101"})
    assert response.status_code == 200
    assert "Earlier messages remembered must be a whole number from 0 to 100." in response.get_data(as_text=True)
    assert rows(db) == before


def test_the_settings_form_shows_a_service_refusal_next_to_its_field(client, db, world):
    """The default store cannot be switched off: said next to the checkbox, and nothing else is saved."""
    before = rows(db)
    response = post_form(client, "/admin/stores/general/edit", {
        "display_name": "Changed", "model_provider": "local", "knowledge_count": "7", "memory_limit": "3"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The default store cannot be deactivated" in page.split('name="is_active"')[1]
    assert rows(db) == before


def test_the_document_form_reports_title_and_text_together(client, db, world):
    before = rows(db)
    response = post_form(client, "/s/general/documents/new", {"title": "  ", "body": "x\x00" + "y" * 100_000})
    page = response.get_data(as_text=True)
    assert "Enter a title." in page and "Text has at most 100,000 characters; this one has 100,002." in page
    edit = post_form(client, f"/s/general/documents/{world['document'].id}/edit",
                     {"title": "one\nline?", "body": "fine"})
    assert "Title must be on one line (no tabs or line breaks)." in edit.get_data(as_text=True)
    assert rows(db) == before


def test_the_rename_form_states_the_rule(client, db, world):
    before = rows(db)
    response = post_form(client, "/admin/stores/research/rename", {"name": "x" * 100})
    assert "A store name has at most 64 characters; this one has 100." in response.get_data(as_text=True)
    assert rows(db) == before


@pytest.mark.parametrize("data,where", [
    ({"email": "root\x00@example.com", "password": "x"}, "Email"),
    ({"email": "root@example.com", "password": "x" * 1025}, "Password"),
])
def test_the_sign_in_form_refuses_hostile_input_without_a_500(client, create_user, data, where):
    create_user("root")
    response = post_form(client, "/auth/login", data)
    assert response.status_code == 200
    assert where in response.get_data(as_text=True)


def test_form_fields_with_invalid_utf8_are_stored_as_valid_text(client, db, world):
    """Bytes that are no UTF-8 (an encoded surrogate among them) arrive quoted as text, never as a 500."""
    from tests.support.client import csrf_token

    token = csrf_token(client)
    response = client.post("/s/general/documents/new",
                           data=b"title=%ff%fe&body=%ed%a0%80&csrf_token=" + token.encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    db.session.expire_all()
    created = db.session.execute(db.select(Document).filter(Document.title != "Handbook")).scalar_one()
    assert (created.title, created.body) == ("%FF%FE", "%ED%A0%80")


def test_no_user_is_created_or_changed_by_a_bad_sign_in(client, db, create_user):
    create_user("root")
    before = [tuple(r) for r in db.session.execute(db.select(User.__table__))]
    send_json(client, "POST", "/api/v1/auth/login/", {"email": ["root@example.com"], "password": {"$ne": ""}})
    db.session.expire_all()
    assert [tuple(r) for r in db.session.execute(db.select(User.__table__))] == before


# --- query strings ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/stores/?q=a%00b", "/stores/?q=%00", "/stores/?q=%1b[2J"])
def test_a_search_with_control_characters_is_400(client, world, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "The search text cannot contain control characters" in response.get_data(as_text=True)


def test_a_search_prefix_still_finds_stores(client, world):
    assert [s["name"] for s in client.get("/api/v1/stores/?q=res").json["stores"]] == ["research"]
    assert client.get("/stores/?q=Gen").status_code == 200
