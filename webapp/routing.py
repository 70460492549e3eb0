"""URL converters shared by every blueprint, and redirects from former addresses.

``<id:name>`` is the only way a row id enters a URL. It matches 1 to
2,147,483,647 (PostgreSQL's ``integer``, which our ``db.Integer`` primary keys
are) written without leading zeros, and nothing else, so an id no row can have
is a plain 404 from routing: werkzeug's ``<int:...>`` would hand
``99999999999999999999999`` to the view, where SQLite raises ``OverflowError``
and PostgreSQL "integer out of range", both a 500.
"""
from flask import redirect, request, url_for
from werkzeug.routing import IntegerConverter

#: The largest value of a PostgreSQL ``integer`` (int4) column.
MAX_ID = 2**31 - 1


def numbers_up_to(limit):
    """A regex matching exactly the decimal numbers 1..``limit``, without leading zeros.

    Shorter numbers are free (``[1-9]\\d{0,n-2}``); numbers as long as ``limit``
    are spelt out digit by digit, e.g. for 2147483647: ``1\\d{9}``, ``20\\d{8}``,
    ``21[0-3]\\d{7}`` ... ``214748364[0-7]``.
    """
    digits = str(limit)
    alternatives = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        low = "1" if position == 0 else "0"
        last = position == len(digits) - 1
        top = digit if last else str(int(digit) - 1)
        if top >= low:
            rest = len(digits) - position - 1
            alternatives.append(digits[:position] + f"[{low}-{top}]" + (rf"\d{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(IntegerConverter):
    """A positive database id: ``<id:document_id>``.

    The range is in the regex, not only in ``to_python``: werkzeug's matcher
    answers 405 instead of 404 when a path matches one rule's regex with the
    wrong method and another rule's converter then refuses the value. And a
    URL with thousands of digits is never handed to ``int()``.
    """

    regex = numbers_up_to(MAX_ID)

    def __init__(self, map):
        super().__init__(map, min=1, max=MAX_ID)


def init_app(app):
    """Register the converters; must run before any blueprint with ``<id:...>`` is registered."""
    app.url_map.converters["id"] = IdConverter


def moved(bp, old_rule, endpoint, methods=("GET",)):
    """Keep an address that changed working: ``old_rule`` on ``bp`` redirects to ``endpoint``.

    GET and HEAD answer 301 (bookmarks and caches learn the new address); other
    methods 308, which makes the client send the same request, body included, to
    the new one. The query string is kept. The old rule lives on the same
    blueprint as the new one, so a store-scoped address still goes through the
    store chokepoint first (another store's address answers 404, not a redirect).

    :param endpoint: the new endpoint, relative to ``bp`` (``".search"``).
    """
    def redirect_to_new_url(**values):
        target = url_for(endpoint, **values)
        if request.query_string:
            target += "?" + request.query_string.decode("latin-1")
        return redirect(target, 301 if request.method in ("GET", "HEAD") else 308)

    name = endpoint.rpartition(".")[2]
    bp.add_url_rule(old_rule, f"{name}_at_former_url", redirect_to_new_url, methods=list(methods))
