"""Ids in URLs: an id no row can have is a 404 from routing, never a 500 from the database."""
import pytest
from werkzeug.routing import IntegerConverter

from tests.support.client import post_form
from webapp.routing import MAX_ID, IdConverter
from webapp.sessions.models import Session

#: Beyond SQLite's 64-bit integers (OverflowError) and PostgreSQL's int4 ("integer out of range").
HUGE = "99999999999999999999999"
OUT_OF_RANGE = [HUGE, str(MAX_ID + 1), "0", "9" * 5000, "00000000001"]


@pytest.fixture
def signed_in(client, create_user, create_store, login, grant):
    store = create_store("general")
    user = grant(create_user(), store)
    login(client, user)
    return store, user


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("path", [
    "/s/general/documents/{}", "/s/general/documents/{}/edit", "/s/general/documents/{}/delete",
    "/api/v1/s/general/documents/{}",
])
def test_out_of_range_document_ids_are_404(client, signed_in, path, value):
    response = client.get(path.format(value))
    assert response.status_code == 404


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_ids_in_api_writes_are_404(client, signed_in, value):
    for method in ("PATCH", "DELETE"):
        response = client.open(f"/api/v1/s/general/documents/{value}", method=method, json={"title": "x"})
        assert response.status_code == 404, method
        assert response.json["error"] == "not_found"


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_session_revoke_is_404(client, db, signed_in, value):
    store, user = signed_in
    revoked = db.select(Session.id).filter(Session.user_id == user.id, Session.revoked_at.is_not(None))
    before = db.session.execute(revoked).all()
    response = post_form(client, f"/settings/sessions/{value}/revoke")
    assert response.status_code == 404
    assert db.session.execute(revoked).all() == before


def test_the_largest_id_still_routes(client, signed_in, create_document):
    store, user = signed_in
    document = create_document(store, title="Real", author=user)
    assert client.get(f"/s/general/documents/{document.id}").status_code == 200
    # In range but no such row: the view's own 404, through the database without an error.
    assert client.get(f"/s/general/documents/{MAX_ID}").status_code == 404
    assert client.get(f"/api/v1/s/general/documents/{MAX_ID}").status_code == 404


def test_no_route_takes_an_unbounded_integer(app):
    """Every id in a URL goes through ``<id:...>``: a new ``<int:...>`` route would bring the 500 back."""
    offenders = [rule.rule for rule in app.url_map.iter_rules()
                 for converter in rule._converters.values()
                 if isinstance(converter, IntegerConverter) and not isinstance(converter, IdConverter)]
    assert offenders == []
    assert any(isinstance(c, IdConverter) for rule in app.url_map.iter_rules() for c in rule._converters.values())
