"""Keyset (cursor) pagination, shared by pages and the API.

A page is fetched with ``WHERE (sort key) > (last key of the previous page)
ORDER BY sort key LIMIT n+1``: the work is bounded by the page size however many
rows there are, and rows inserted while someone pages do not shift or repeat
the rows they see (which OFFSET would do).

    page = paginate(Document.query_for(store), order=[(Document.title, "asc"), (Document.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    page.items, page.next_cursor

The last ordering column must be unique (an id), and ordering columns must be
NOT NULL. A cursor is opaque to clients; a damaged or foreign one answers 400
with a message, never a 500.
"""
import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import request, url_for

from webapp.core.errors import StorehouseError
from webapp.core.text import text_problem
from webapp.extensions import db

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class PaginationError(StorehouseError):
    status_code = 400
    error = "invalid_pagination"


class InvalidCursor(PaginationError):
    error = "invalid_cursor"

    def __init__(self):
        super().__init__("This page link is damaged or belongs to another list. Start again from the first page.")


@dataclass
class Page:
    items: list
    #: Opaque cursor of the next page, None on the last page.
    next_cursor: str | None
    limit: int
    #: True when this is not the first page.
    is_continued: bool = False

    @property
    def has_next(self):
        return self.next_cursor is not None

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def page_size(default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE):
    """``?limit=`` of the request, checked: a whole number from 1 to ``maximum``."""
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= maximum:
        raise PaginationError(f"'limit' must be a whole number from 1 to {maximum} (got {raw[:20]!r}).")
    return value


def search_prefix(name="q", max_length=100):
    """``?q=`` of a list's search box: stripped, at most ``max_length`` characters.

    :raises PaginationError: the text holds control characters (a NUL byte would
        reach the database, which PostgreSQL answers with an error).
    """
    prefix = request.args.get(name, "").strip()[:max_length]
    problem = text_problem(prefix)
    if problem:
        raise PaginationError(f"The search text {problem}.", error="invalid_search")
    return prefix


def starts_with(expression, prefix):
    """``expression`` starts with ``prefix``, written so that an index on ``expression`` serves it.

    PostgreSQL: ``LIKE 'prefix%'`` (escaped), which an index built with
    ``text_pattern_ops`` answers whatever the database's collation. SQLite: the
    range ``prefix <= expression < prefix + U+10FFFF``, which a plain index
    answers (SQLite compares text bytewise, so the range is exactly the prefix).
    """
    if db.engine.dialect.name == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return expression.like(escaped + "%", escape="\\")
    return sa.and_(expression >= prefix, expression < prefix + "\U0010ffff")


def _signature(order):
    names = ",".join(f"{getattr(column, 'key', str(column))}:{direction}" for column, direction in order)
    return hashlib.sha256(names.encode()).hexdigest()[:8]


def _encode_value(value):
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    return value


def _decode_value(value, column):
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "n" in value:
            number = Decimal(value["n"])
            if not number.is_finite():
                raise ValueError("cursor number not finite")
            return number
        raise ValueError("unknown cursor value")
    python_type = _python_type(column)
    if python_type is not None and value is not None and not isinstance(value, python_type):
        raise ValueError("cursor value of the wrong type")
    if isinstance(value, bool) and python_type is not bool:
        raise ValueError("cursor value of the wrong type")  # True is an int to Python, not to PostgreSQL
    # What the database itself would refuse with an error (a 500): a NUL byte or an
    # unpaired surrogate in text (PostgreSQL), an integer beyond the column's range.
    if isinstance(value, str) and text_problem(value, multiline=True):
        raise ValueError("cursor text the database cannot compare")
    if isinstance(value, int) and not isinstance(value, bool):
        bits = 63 if isinstance(getattr(column, "type", None), sa.BigInteger) else 31
        if not -2**bits <= value < 2**bits:
            raise ValueError("cursor number out of range")
    return value


def _python_type(column):
    try:
        kind = column.type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return (int, float) if kind is float else kind


def encode_cursor(order, values):
    raw = json.dumps({"o": _signature(order), "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(order, cursor):
    """The key values in ``cursor``. :raises InvalidCursor: damaged, foreign or mistyped."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(data, dict) or data.get("o") != _signature(order):
            raise ValueError("foreign cursor")
        values = data["v"]
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError("wrong length")
        return [_decode_value(value, column) for value, (column, _) in zip(values, order, strict=True)]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError, RecursionError,
            ArithmeticError):
        raise InvalidCursor() from None


def _after(order, values):
    """The rows strictly after ``values`` in ``order`` (mixed directions allowed)."""
    clauses = []
    for position, (column, direction) in enumerate(order):
        equal = [order[i][0] == values[i] for i in range(position)]
        beyond = column > values[position] if direction == "asc" else column < values[position]
        clauses.append(sa.and_(*equal, beyond))
    return sa.or_(*clauses)


def paginate(query, *, order, cursor=None, limit=DEFAULT_PAGE_SIZE, key=None):
    """One page of ``query`` (a ``select``) in ``order``.

    :param order: ``[(column, "asc"|"desc"), ...]``, the last column unique.
    :param cursor: the ``next_cursor`` of the previous page, or None for the first page.
    :param key: ``item -> tuple of the order values``; default reads each column's
        attribute name off the item.
    :raises InvalidCursor: the cursor is damaged or from another list.
    """
    if cursor:
        query = query.where(_after(order, decode_cursor(order, cursor)))
    query = query.order_by(*[column.asc() if direction == "asc" else column.desc()
                             for column, direction in order]).limit(limit + 1)
    result = db.session.execute(query)
    rows = result.scalars().all() if len(result.keys()) == 1 else result.all()
    items, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and items:
        last = items[-1]
        values = key(last) if key else tuple(getattr(last, column.key) for column, _ in order)
        next_cursor = encode_cursor(order, values)
    return Page(items, next_cursor, limit, is_continued=bool(cursor))


def next_page_url(page, **extra):
    """The URL of the page after ``page`` for the current endpoint, keeping the other arguments."""
    if not page.has_next:
        return None
    args = {**request.view_args, **request.args.to_dict(), **extra, "cursor": page.next_cursor}
    return url_for(request.endpoint, **args)


def first_page_url(**extra):
    args = {**request.view_args, **request.args.to_dict(), **extra}
    args.pop("cursor", None)
    return url_for(request.endpoint, **args)


def link_header(page):
    """``{"Link": '<url>; rel="next"'}`` for API responses (empty on the last page)."""
    url = next_page_url(page)
    return {"Link": f'<{url}>; rel="next"'} if url else {}
