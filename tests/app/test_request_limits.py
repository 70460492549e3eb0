"""Request size: bodies beyond MAX_CONTENT_LENGTH (or a view's own limit) answer 413 saying the limit."""
import json

import pytest
from werkzeug.test import encode_multipart

from tests.support.client import csrf_token, post_form
from webapp.security import body_limit, describe_size
from webapp.stores.models import Document, Store

MB = 1024 * 1024


@pytest.fixture
def admin(client, create_user, create_store, login):
    create_store("general")
    user = create_user(is_admin=True)
    login(client, user)
    return user


def test_the_default_limit_is_2_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * MB
    assert app.config["MAX_FORM_MEMORY_SIZE"] == 2 * MB and app.config["MAX_FORM_PARTS"] == 100


def test_a_20_mb_json_body_is_413_json_and_changes_nothing(client, db, admin):
    body = json.dumps({"title": "big", "body": "x" * (20 * MB)})
    response = client.post("/api/v1/s/general/documents/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"] == "too_large" and response.json["limit_bytes"] == 2 * MB
    assert "at most 2 MB per request" in response.json["message"]
    assert db.session.execute(db.select(Document)).first() is None


def test_a_large_form_is_a_413_page(client, db, admin):
    response = post_form(client, "/s/general/documents/new", {"title": "big", "body": "x" * (3 * MB)})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "at most 2 MB per request" in page and "Too large" in page
    assert db.session.execute(db.select(Document)).first() is None


def test_a_multipart_form_with_too_many_parts_is_413(client, admin):
    data = {f"field{n}": "x" for n in range(150)}
    data["csrf_token"] = csrf_token(client)
    response = post_multipart(client, "/s/general/documents/new", data)
    assert response.status_code == 413


def post_multipart(client, path, data):
    """A multipart POST encoded in memory (the test client would spool a large one to a
    temporary file that stays open when the app answers 413 without reading it)."""
    boundary, body = encode_multipart(data)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_a_body_just_under_the_limit_reaches_the_field_rules(client, db, admin):
    """1.9 MB gets through the size check and is refused by the body's own length rule, naming it."""
    body = json.dumps({"title": "long", "body": "x" * int(1.9 * MB)})
    response = client.post("/api/v1/s/general/documents/", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["fields"]["body"] == "has at most 100,000 characters"


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 4096}])
def test_the_limit_comes_from_config(client, db, admin):
    response = client.post("/api/v1/stores/", json={"name": "x", "description": "y" * 5000})
    assert response.status_code == 413 and "at most 4 KB per request" in response.json["message"]
    assert db.session.execute(db.select(Store).filter_by(name="x")).first() is None


def test_a_view_can_take_more_with_body_limit(app, client, create_user, create_store, login, grant):
    """The hook the knowledge upload will use: the larger limit applies before the CSRF check reads the form."""
    @app.post("/_test/upload")
    @body_limit(8 * MB, form_memory=4 * MB)
    def upload():
        from flask import request
        return {"size": len(request.form["blob"]), "limit": request.max_content_length}

    login(client, grant(create_user(), create_store("general")))
    token = csrf_token(client)
    blob = "x" * (3 * MB)
    accepted = post_multipart(client, "/_test/upload", {"blob": blob, "csrf_token": token})
    assert accepted.status_code == 200 and accepted.json == {"size": 3 * MB, "limit": 8 * MB}
    refused = post_multipart(client, "/_test/upload", {"blob": "x" * (9 * MB), "csrf_token": token})
    assert refused.status_code == 413 and "at most 8 MB per request" in refused.get_data(as_text=True)
    # Elsewhere the app-wide limit still holds.
    assert post_form(client, "/s/general/documents/new", {"title": "t", "body": blob}).status_code == 413


@pytest.mark.parametrize("size,text", [(300, "300 bytes"), (4096, "4 KB"), (2 * MB, "2 MB"), (int(1.5 * MB), "1.5 MB")])
def test_sizes_are_said_in_words(size, text):
    assert describe_size(size) == text
