"""HTML (uploaded, or made from a DOCX by mammoth) to blocks, with selectolax's Lexbor parser.

The tree is walked directly rather than converted to Markdown first: blocks
come out in document order with their kind (heading level, paragraph, code,
table row), which is all the chunker needs, and there is no second parse.

Elements whose text is not content are removed before the walk (``script``,
``style``, ``noscript``, ``template``, ``nav``, ...): removed, not merely
skipped, so that no text extraction can reach them.
"""
import re

from selectolax.lexbor import LexborHTMLParser

from webapp.knowledge.blocks import Block, BlockKind, table_row
from webapp.knowledge.errors import DocumentTooComplex, DocumentTooLarge

#: Removed with their content before anything reads the tree. ``nav`` is a
#: site's menu, repeated on every page and never the answer to a question;
#: ``button``/``select`` are controls, not prose.
DROPPED_TAGS = ("script", "style", "noscript", "template", "nav", "svg", "canvas", "iframe",
                "object", "embed", "select", "datalist", "button", "head")

#: Elements that continue the current paragraph; every other element starts a new block.
INLINE_TAGS = frozenset((
    "a abbr acronym b bdi bdo big cite code data del dfn em font i img ins kbd label mark nobr q "
    "rp rt ruby s samp small span strike strong sub sup time tt u var wbr output meter progress"
).split())
HEADING_LEVELS = {f"h{n}": n for n in range(1, 7)}

# --- the nesting guard -------------------------------------------------------
#
# Lexbor (like every HTML5 tree builder) walks the stack of open elements for
# some tags: 100,000 nested <div>s take about 20 s to parse here, and 20,000
# "<b></span>" pairs 2.5 s, growing with the square of the depth. So before
# parsing, the tags are counted and the nesting estimated from start and end
# tags. The estimate errs high (it does not know every implied end tag), which
# can only refuse a document, never let a slow one through.

_TAG = re.compile(r"<(/?[a-z][a-z0-9:-]*)")
#: Never have content, so never nest.
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr "
                  "basefont bgsound frame keygen".split())
#: Close their previous sibling implicitly (a new <li> ends the last one), so
#: repeating them does not deepen the tree.
_SELF_CLOSING_SIBLINGS = frozenset("p li dt dd option optgroup tr td th thead tbody tfoot colgroup "
                                   "rb rt rtc rp html head body".split())
_NOT_NESTING = _VOID | _SELF_CLOSING_SIBLINGS
#: End tags matching nothing open each cost a walk of the open-element stack.
_MAX_STRAY_END_TAGS = 50_000


def check_html_nesting(text, *, max_depth, max_tags):
    """Refuse markup that would make the HTML parser slow or the tree huge.

    About 0.1 s for 5 MB of ordinary HTML.

    :raises DocumentTooLarge: more than ``max_tags`` tags.
    :raises DocumentTooComplex: elements nested deeper than ``max_depth``, or
        tens of thousands of end tags that close nothing.
    """
    if text.count("<") <= max_depth:
        return  # cannot nest deeper than the number of tags
    tags = _TAG.findall(text.lower())
    if len(tags) > max_tags:
        raise DocumentTooLarge(f"it has {len(tags):,} HTML tags, more than the {max_tags:,} allowed")
    open_counts = {}
    count_of = open_counts.get
    depth = stray = 0
    for tag in tags:
        if tag[0] == "/":
            name = tag[1:]
            if name in _NOT_NESTING:
                continue
            count = count_of(name)
            if count:
                open_counts[name] = count - 1
                depth -= 1
            else:
                stray += 1
                if stray > _MAX_STRAY_END_TAGS:
                    raise DocumentTooComplex(
                        f"it has more than {_MAX_STRAY_END_TAGS:,} end tags that close nothing")
        elif tag not in _NOT_NESTING:
            open_counts[tag] = count_of(tag, 0) + 1
            depth += 1
            if depth > max_depth:
                raise DocumentTooComplex(f"elements are nested more than {max_depth} levels deep")


# --- the walk ----------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _normalise(text):
    return _SPACES.sub(" ", text).strip()


class _BlockWriter:
    """Collects inline text into paragraphs; knows whether it is inside a heading or a list item."""

    def __init__(self):
        self.blocks = []
        self._pieces = []  # text pieces; None is a <br>
        #: (depth, tag, level) of the heading / list item being read, innermost last.
        self.contexts = []

    def add_text(self, text):
        self._pieces.append(text)

    def add_line_break(self):
        self._pieces.append(None)

    def add(self, kind, text, level=0):
        if text:
            self.blocks.append(Block(kind, text, level))

    def flush(self):
        if not self._pieces:
            return
        lines, line = [], []
        for piece in self._pieces:
            if piece is None:
                lines.append(_normalise("".join(line)))
                line = []
            else:
                line.append(piece)
        lines.append(_normalise("".join(line)))
        self._pieces.clear()
        text = "\n".join(filter(None, lines))
        if not text:
            return
        heading = next((c for c in reversed(self.contexts) if c[1] == "h"), None)
        if heading is not None:
            self.add(BlockKind.HEADING, text.replace("\n", " "), heading[2])
            return
        list_depth = sum(1 for c in self.contexts if c[1] == "li")
        if list_depth:
            text = "  " * (list_depth - 1) + "- " + text
        self.add(BlockKind.PARAGRAPH, text)


def _cell_text(cell):
    return _normalise(cell.text(deep=True, separator=" "))


def _table_rows(table):
    """The rows of ``table`` (not of tables nested in it) as TABLE_ROW blocks.

    With a header row (``<th>`` cells, or a ``<thead>``) every row reads
    "header: value" per line, so each row stands alone in a chunk; otherwise
    the cells are joined with `` | ``.
    """
    table_id = table.mem_id
    rows = []
    for row in table.css("tr"):
        owner = row.parent
        if owner is not None and owner.tag in ("thead", "tbody", "tfoot"):
            in_head = owner.tag == "thead"
            owner = owner.parent
        else:
            in_head = False
        if owner is None or owner.mem_id != table_id:
            continue
        cells = [c for c in row.iter() if c.tag in ("td", "th")]
        if cells:
            rows.append((in_head or all(c.tag == "th" for c in cells), [_cell_text(c) for c in cells]))
    header = None
    if rows and rows[0][0] and len(rows) > 1:
        header = rows.pop(0)[1]
    blocks = (table_row(header, cells) for _, cells in rows)
    return [block for block in blocks if block is not None]


def html_to_blocks(text, *, max_depth=512, max_tags=2_000_000):
    """Blocks of an HTML document, in document order.

    :raises DocumentTooLarge, DocumentTooComplex: see :func:`check_html_nesting`.
    """
    check_html_nesting(text, max_depth=max_depth, max_tags=max_tags)
    tree = LexborHTMLParser(text)
    tree.strip_tags(list(DROPPED_TAGS))
    for hidden in tree.css("[hidden], [aria-hidden=true]"):
        hidden.decompose()
    body = tree.body
    writer = _BlockWriter()
    if body is None:
        return writer.blocks
    # Iterative depth-first walk over child/next/parent links: documents may
    # nest up to max_depth levels, deeper than Python's recursion allows.
    node, depth = body.child, 1
    while node is not None:
        descend = _visit(writer, node, depth)
        if descend and node.child is not None:
            node, depth = node.child, depth + 1
            continue
        if descend and writer.contexts and writer.contexts[-1][0] == depth:
            writer.flush()  # an empty heading or list item
            writer.contexts.pop()
        node, depth = _climb(writer, node, depth)
    writer.flush()
    return writer.blocks


def _visit(writer, node, depth):
    """Write what ``node`` itself holds; True when its children are to be walked too."""
    tag = node.tag
    if tag == "-text":
        writer.add_text(node.text_content or "")
        return False
    if tag.startswith("-"):
        return False  # comments, doctype
    if tag in INLINE_TAGS:
        return True
    if tag == "br":
        writer.add_line_break()
        return False
    writer.flush()
    if tag == "pre":
        writer.add(BlockKind.CODE, node.text(deep=True, separator="").strip("\n").rstrip())
        return False
    if tag == "table":
        caption = node.css_first("caption")
        if caption is not None:
            writer.add(BlockKind.PARAGRAPH, _cell_text(caption))
        writer.blocks.extend(_table_rows(node))
        return False
    if tag in HEADING_LEVELS:
        writer.contexts.append((depth, "h", HEADING_LEVELS[tag]))
    elif tag == "li":
        writer.contexts.append((depth, "li", 0))
    return True


def _climb(writer, node, depth):
    """The next node after ``node``'s subtree: its next sibling, else an ancestor's, closing
    the blocks left behind. ``(None, 0)`` at the end of the body."""
    while node is not None:
        following = node.next
        if following is not None:
            return following, depth
        node, depth = node.parent, depth - 1
        if depth == 0:
            return None, 0
        if node.tag not in INLINE_TAGS:
            writer.flush()
            if writer.contexts and writer.contexts[-1][0] == depth:
                writer.contexts.pop()
    return None, depth
