"""Keyset pagination: bounded pages, stable under inserts, clear errors for bad input."""
import pytest

from tests.support.database import counting_queries
from webapp.pagination import InvalidCursor, PaginationError, decode_cursor, encode_cursor, page_size, paginate
from webapp.stores.models import Document

BY_TITLE = [(Document.title, "asc"), (Document.id, "asc")]
NEWEST = [(Document.updated_at, "desc"), (Document.id, "desc")]


@pytest.fixture
def store(create_store):
    return create_store("general")


def _walk(store, order, limit):
    seen, cursor = [], None
    while True:
        page = paginate(Document.query_for(store), order=order, cursor=cursor, limit=limit)
        assert len(page) <= limit
        seen.extend(page.items)
        if not page.has_next:
            return seen
        cursor = page.next_cursor


def test_pages_cover_every_row_once_in_order(app, store, create_document):
    for n in range(23):
        create_document(store, title=f"doc {n % 7}")  # duplicate titles: the id breaks ties
    seen = _walk(store, BY_TITLE, 5)
    assert len(seen) == 23 and len({d.id for d in seen}) == 23
    assert [(d.title, d.id) for d in seen] == sorted((d.title, d.id) for d in seen)


def test_descending_datetime_keys(app, store, create_document):
    for n in range(9):
        create_document(store, title=f"t{n}")
    seen = _walk(store, NEWEST, 4)
    assert [d.id for d in seen] == sorted((d.id for d in seen), reverse=True)


def test_rows_inserted_while_paging_neither_shift_nor_repeat(app, db, store, create_document):
    for n in range(10):
        create_document(store, title=f"b{n:02d}")
    first = paginate(Document.query_for(store), order=BY_TITLE, limit=4)
    # Someone adds documents that sort before and after the cursor.
    create_document(store, title="a-new-first")
    create_document(store, title="z-new-last")
    rest, cursor = [], first.next_cursor
    while cursor:
        page = paginate(Document.query_for(store), order=BY_TITLE, cursor=cursor, limit=4)
        rest.extend(page.items)
        cursor = page.next_cursor
    titles = [d.title for d in first.items + rest]
    assert len(titles) == len(set(titles)), "a row was shown twice"
    assert titles[:4] == ["b00", "b01", "b02", "b03"]
    assert "z-new-last" in titles and "a-new-first" not in titles


def test_the_last_page_has_no_cursor(app, store, create_document):
    create_document(store, title="only")
    page = paginate(Document.query_for(store), order=BY_TITLE, limit=5)
    assert (len(page), page.next_cursor) == (1, None)


@pytest.mark.parametrize("cursor", ["not-base64!!", "e30", "eyJvIjoieCJ9", "A" * 40])
def test_damaged_cursors_are_refused(app, store, cursor):
    with pytest.raises(InvalidCursor):
        paginate(Document.query_for(store), order=BY_TITLE, cursor=cursor, limit=5)


def test_a_cursor_of_another_list_is_refused(app, store):
    foreign = encode_cursor(NEWEST, [None, 1])
    with pytest.raises(InvalidCursor):
        decode_cursor(BY_TITLE, foreign)
    mistyped = encode_cursor(BY_TITLE, [5, "x"])
    with pytest.raises(InvalidCursor):
        decode_cursor(BY_TITLE, mistyped)


def _raw_cursor(order, values_json):
    """A cursor with the right signature around hand-written JSON (what an attacker can send)."""
    import base64

    from webapp.pagination import _signature

    raw = f'{{"o": "{_signature(order)}", "v": {values_json}}}'
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("values_json", [
    '["a\\u0000b", 1]',          # NUL: PostgreSQL refuses it in text
    '["\\ud800", 1]',            # unpaired surrogate: cannot even be encoded
    '["a", 100000000000000000000000000000]',   # beyond any integer column
    '["a", 2147483648]',           # beyond PostgreSQL's integer (int4) ids
    '["a", true]',
    '[' * 5000 + ']' * 5000,       # nesting that exhausts json.loads' recursion
])
def test_cursors_the_database_would_choke_on_are_refused(app, store, values_json):
    """Before they reach the database: each of these was a 500 on PostgreSQL."""
    with pytest.raises(InvalidCursor):
        paginate(Document.query_for(store), order=BY_TITLE, cursor=_raw_cursor(BY_TITLE, values_json), limit=5)


def test_a_cursor_at_the_integer_edge_still_works(app, store, create_document):
    create_document(store, title="a")
    page = paginate(Document.query_for(store), order=BY_TITLE, cursor=_raw_cursor(BY_TITLE, '["a", 2147483647]'),
                    limit=5)
    assert page.items == []


@pytest.mark.parametrize("raw, expected", [(None, 50), ("", 50), ("1", 1), ("200", 200)])
def test_page_size_accepts_1_to_the_cap(app, raw, expected):
    query = {} if raw is None else {"limit": raw}
    with app.test_request_context(query_string=query):
        assert page_size() == expected


@pytest.mark.parametrize("raw", ["0", "201", "-3", "2.5", "lots", "99999999999999999999999"])
def test_page_size_out_of_range_is_a_clear_error(app, raw):
    with app.test_request_context(query_string={"limit": raw}):
        with pytest.raises(PaginationError, match="whole number from 1 to 200"):
            page_size()


def test_a_page_costs_one_statement_whatever_the_table_size(app, db, store, create_document):
    for n in range(30):
        create_document(store, title=f"q{n}")
    store_id = store.id  # noqa: F841 (load the committed store before counting)
    with counting_queries(db.engine) as statements:
        paginate(Document.query_for(store), order=BY_TITLE, limit=10)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert "LIMIT" in statements[-1].upper()
