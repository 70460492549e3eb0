"""Strict JSON bodies: wrong types, unknown fields and missing fields are named, never coerced."""
import pytest
from pydantic import Field

from webapp.core.bodies import Body, InvalidFields, InvalidJson, parse_body, provided


class Sample(Body):
    name: str = Field(min_length=1, max_length=10)
    count: int = Field(default=1, ge=1, le=50)
    active: bool = True


@pytest.mark.parametrize("data, field, message", [
    ({"name": 123}, "name", "must be text"),
    ({"name": {"a": 1}}, "name", "must be text"),
    ({"name": ""}, "name", "must not be empty"),
    ({"name": "x" * 11}, "name", "has at most 10 characters"),
    ({"name": "ok", "count": 2.5}, "count", "must be a whole number"),
    ({"name": "ok", "count": "3"}, "count", "must be a whole number"),
    ({"name": "ok", "count": 0}, "count", "must be at least 1"),
    ({"name": "ok", "active": "no"}, "active", "must be true or false"),
    ({"name": "ok", "active": 1}, "active", "must be true or false"),
    ({"name": "ok", "colour": "red"}, "colour", "is not a field this endpoint accepts"),
    ({}, "name", "is required"),
])
def test_bad_fields_are_named_with_what_they_must_be(app, data, field, message):
    with pytest.raises(InvalidFields) as caught:
        parse_body(Sample, data)
    assert caught.value.fields[field] == message
    assert caught.value.status_code == 422
    assert f"{field}: {message}" in caught.value.message


def test_every_bad_field_is_reported_at_once(app):
    with pytest.raises(InvalidFields) as caught:
        parse_body(Sample, {"name": 5, "count": "x", "extra": 1})
    assert set(caught.value.fields) == {"name", "count", "extra"}


def test_good_bodies_and_which_fields_were_sent(app):
    body = parse_body(Sample, {"name": "research", "active": False})
    assert (body.name, body.count, body.active) == ("research", 1, False)
    assert provided(body) == {"name", "active"}


@pytest.mark.parametrize("kwargs", [
    {"data": "not json", "content_type": "text/plain"},
    {"data": "[1, 2]", "content_type": "application/json"},
    {"data": "{broken", "content_type": "application/json"},
])
def test_a_body_that_is_not_a_json_object_is_a_400(app, kwargs):
    with app.test_request_context("/api/v1/x", method="POST", **kwargs):
        with pytest.raises(InvalidJson):
            parse_body(Sample)
