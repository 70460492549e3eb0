"""Reading JSON bodies: one declared schema per endpoint, checked strictly.

Every JSON body goes through ``parse_body(Model)``. Models derive from ``Body``:
pydantic v2 in strict mode, unknown fields refused. So ``"is_active": "no"`` is
not a boolean, ``2.5`` is not a whole number, ``{"name": {"a": 1}}`` is not a
name, and a misspelt field is not silently dropped: each answers 422 naming the
field and saying what it must be, and nothing is changed.

    class CreateStore(Body):
        name: str = Field(max_length=100)
        is_active: bool = True

    data = parse_body(CreateStore)
    data.name, provided(data)   # provided: the fields the client actually sent

Text fields use ``line(max_length)`` (one line, stripped) or ``text(max_length)``
(multi-line, kept as sent): both refuse control characters and invalid Unicode,
which PostgreSQL would otherwise refuse with a 500.
"""
from typing import Annotated

from flask import request
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from webapp.core.errors import StorehouseError
from webapp.core.text import NOT_UNICODE, text_problem, unicode_problem


class Body(BaseModel):
    """Base of every request body schema."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _one_line(value):
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _many_lines(value):
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


def _encodable(value):
    problem = unicode_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: A secret (a password): any characters but unpaired surrogates, kept exactly as sent.
Secret = Annotated[str, AfterValidator(_encodable)]


def line(max_length, *, min_length=1):
    """A one-line text field: surrounding spaces dropped, then 1..``max_length``
    characters, no control characters or line breaks (``webapp.core.text``)."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(_one_line)]


def text(max_length):
    """A multi-line text field kept as sent: at most ``max_length`` characters,
    tabs and line breaks allowed, other control characters not."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_many_lines)]


class InvalidJson(StorehouseError):
    status_code = 400
    error = "invalid_json"

    def __init__(self, message="Send a JSON object body with Content-Type: application/json."):
        super().__init__(message)


class InvalidFields(StorehouseError):
    """The body parsed, but fields are missing, unknown or of the wrong type (422)."""

    status_code = 422
    error = "invalid_fields"

    def __init__(self, fields):
        #: ``{field path: message}``, e.g. ``{"name": "must be text"}``.
        self.fields = fields
        listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
        super().__init__(f"Check these fields: {listed}.")

    def payload(self):
        return {"fields": self.fields}


def _describe(error):
    """A person's words for one pydantic error."""
    kind, ctx = error["type"], error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "extra_forbidden": "is not a field this endpoint accepts",
        "string_type": "must be text",
        "string_unicode": NOT_UNICODE,
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "int_parsing": "must be a whole number",
        "bool_type": "must be true or false",
        "float_type": "must be a number",
        "decimal_type": "must be a number (or a string such as \"0.15\")",
        "decimal_parsing": "must be a number (or a string such as \"0.15\")",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "list_type": "must be a list",
        "uuid_type": "must be a UUID string",
        "none_required": "must be null",
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_too_long":
        return f"has at most {ctx['max_length']:,} characters"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else \
            f"needs at least {ctx['min_length']} characters"
    if kind == "too_long":
        return f"has at most {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "decimal_max_places":
        return f"has at most {ctx.get('decimal_places')} decimal places"
    if kind == "string_pattern_mismatch":
        return "has characters or a shape that is not allowed here"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return error["msg"]


def field_errors(exc):
    """``{field path: message}`` from a pydantic ``ValidationError`` (first message per field)."""
    fields = {}
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(location, _describe(error))
    return fields


def read_json():
    """The request's JSON object, or ``InvalidJson`` (400)."""
    if not request.is_json:
        raise InvalidJson("Send the body as JSON with Content-Type: application/json.")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # json.loads recurses per nesting level; "[[[[..." a few thousand deep exhausts the stack.
        raise InvalidJson("The JSON is nested too deeply. Send a flat object such as {\"name\": \"research\"}.") from None
    if not isinstance(data, dict):
        raise InvalidJson("The body is not a JSON object. Send an object such as {\"name\": \"research\"}.")
    return data


def parse_body(model, data=None, *, context=None):
    """Validate the request's JSON body (or ``data``) against ``model``.

    :param context: handed to validators that take ``info`` (``info.context``),
        e.g. the name a store has now, which a rename may keep.

    :raises InvalidJson: no JSON object was sent (400).
    :raises InvalidFields: missing, unknown or mistyped fields, each named (422).
    """
    data = read_json() if data is None else data
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidFields(field_errors(exc)) from exc


def provided(body):
    """The names of the fields the client actually sent (for partial updates)."""
    return set(body.model_fields_set)
