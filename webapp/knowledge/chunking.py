"""A parsed document to chunks: pieces of text small enough to quote, each with its heading path.

How a document is cut:

1. **Sections** first: every heading starts a section, and no chunk spans two.
   A chunk's ``heading_path`` is the chain of headings above it
   (``["Install", "Linux"]``).
2. Inside a section, whole **blocks** (paragraphs, code blocks, table rows)
   are packed together up to ``max_tokens``, in roughly equal chunks rather
   than full ones followed by a scrap.
3. A block too big for one chunk is split into **sentences** (paragraphs) or
   **lines** (code, table rows), then into **words**; only a single "word"
   longer than a whole chunk (a base64 blob, a 1 MB line without spaces) is
   cut between characters.

Headings are *not* repeated in a chunk's text. The text is what a citation
quotes, and the heading path is stored beside it: the search index can weigh
it as its own field (an FTS5 column, a tsvector weight) and the prompt can
print it before the text, so retrieval gets the heading's words without
every chunk paying for them against the token cap, and without a heading
repeated over every chunk of a long section outranking the body text in
full-text scoring. The one exception: a heading with no text under it (and no
sub-headings) becomes a chunk of its own, so that no word of the document is
left out of the index.

Overlap is off by default: with full-text retrieval a repeated sentence only
makes two chunks match the same phrase and compete for the same citation.
When asked for, it carries whole sentences, lines or blocks, never half a word.

Token counts default to :func:`estimate_tokens`, a calibrated regular
expression (see its docstring for how far it is from a real tokenizer); pass
``count_tokens`` to cap by a model's own tokenizer instead.
"""
import math
import re
from dataclasses import dataclass

from webapp.knowledge.blocks import BlockKind

#: A "heading" longer than this is body text set large (a PDF's pull quote,
#: an HTML page wrapped in <h1>); it stays in the text, not in heading paths.
MAX_HEADING_CHARS = 200
#: The smallest cap accepted: below it even one character may not fit.
MIN_MAX_TOKENS = 8

_TOKEN_PIECES = re.compile(r"[A-Za-z]{1,5}|[0-9]|[!-/:-@\[-`{-~]|[\n\t]| (?=[0-9])")


def estimate_tokens(text):
    """About how many tokens a BPE tokenizer makes of ``text``; fast (about 10 MB/s of prose here).

    Counts runs of up to 5 ASCII letters, each digit, each ASCII punctuation
    mark, each newline or tab, and a space before a digit as one token each,
    plus one token per extra UTF-8 byte of non-ASCII characters (so about one
    per accented letter or Cyrillic letter, two per CJK character).

    Measured against the SmolLM2 tokenizer (``bench/token_estimate.py``),
    median estimate / real over 1,000-character windows: English prose 1.34,
    Markdown 1.16, Python 1.24, CSV rows 1.05, Russian 1.16, Chinese 1.17,
    Japanese 1.11, French 0.97, Spanish 0.88, German 0.76 (long compounds).
    So a chunk capped at 256 holds at most about 240 real tokens in English,
    code or tables, but up to 380 in German; pass a real tokenizer as
    ``count_tokens`` where that matters.
    """
    count = len(_TOKEN_PIECES.findall(text))
    if not text.isascii():
        count += len(text.encode("utf-8")) - len(text)
    return count


@dataclass(frozen=True, slots=True)
class Chunk:
    #: 0-based position in the document; contiguous.
    ordinal: int
    #: Headings above the chunk, outermost first; empty before the first heading.
    heading_path: list[str]
    #: Never empty; at most ``max_tokens`` by the counter used.
    text: str
    token_count: int
    #: 1-based page the chunk starts on (PDF), else None.
    page: int | None = None
    #: 1-based page the last of its blocks starts on (PDF), else None: the page span
    #: is ``page..page_end``.
    page_end: int | None = None


@dataclass(slots=True)
class _Piece:
    joiner: str  # what goes between the previous piece and this one
    text: str
    tokens: int
    page: int | None


@dataclass(slots=True)
class _Section:
    path: list[str]
    blocks: list
    #: The heading that opened the section, kept in case the section stays empty.
    heading: object = None


def chunk_document(document, *, max_tokens=256, overlap_tokens=0, count_tokens=None):
    """Cut ``document`` (a :class:`~webapp.knowledge.blocks.ParsedDocument`) into chunks.

    Deterministic: the same document and arguments give the same chunks.

    :param max_tokens: cap on every chunk's ``count_tokens(text)``.
    :param overlap_tokens: up to this many tokens of the previous chunk of the
        same section are repeated at the start of the next (whole sentences,
        lines or blocks only); at most half of ``max_tokens``.
    :param count_tokens: ``str -> int``; defaults to :func:`estimate_tokens`.
    :raises ValueError: ``max_tokens`` below :data:`MIN_MAX_TOKENS`, or
        ``overlap_tokens`` negative or over half of ``max_tokens``.
    """
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, not {max_tokens}")
    if not 0 <= overlap_tokens <= max_tokens // 2:
        raise ValueError(f"overlap_tokens must be between 0 and {max_tokens // 2}, not {overlap_tokens}")
    count = count_tokens or estimate_tokens
    chunks = []
    sections = _sections(document.blocks)
    for index, section in enumerate(sections):
        if section.blocks:
            pieces = _pieces(section.blocks, max_tokens, count)
        elif section.heading is not None and not _has_children(sections, index):
            pieces = _pieces([section.heading], max_tokens, count)
        else:
            continue
        for text, tokens, page, page_end in _pack(pieces, max_tokens, overlap_tokens, count):
            chunks.append(Chunk(len(chunks), list(section.path), text, tokens, page, page_end))
    return chunks


def _sections(blocks):
    sections = []
    path = []  # (level, text)
    current = None
    for block in blocks:
        if block.kind is BlockKind.HEADING and len(block.text) <= MAX_HEADING_CHARS:
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.text))
            current = _Section([text for _, text in path], [], block)
            sections.append(current)
            continue
        if current is None:
            current = _Section([], [])
            sections.append(current)
        current.blocks.append(block)
    return sections


def _has_children(sections, index):
    """Whether the (empty) section at ``index`` has sub-sections, which carry its heading in their paths."""
    path = sections[index].path
    following = sections[index + 1] if index + 1 < len(sections) else None
    return following is not None and len(following.path) > len(path) and following.path[:len(path)] == path


# --- splitting ---------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(\s+)|[。！？]+()")
_WORD = re.compile(r"\S+")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")
_LINE = re.compile(r"[^\n]*\S[^\n]*")
_LINE_KINDS = (BlockKind.CODE, BlockKind.TABLE_ROW)


def _pieces(blocks, max_tokens, count):
    pieces = []
    for block in blocks:
        tokens = count(block.text)
        if tokens <= max_tokens:
            pieces.append(_Piece("\n\n", block.text, tokens, block.page))
            continue
        first = _sentences if block.kind not in _LINE_KINDS else _lines
        for index, (joiner, text, tokens) in enumerate(_split(block.text, first, max_tokens, count)):
            pieces.append(_Piece("\n\n" if index == 0 else joiner, text, tokens, block.page))
    return pieces


def _split(text, splitter, max_tokens, count):
    """``text`` as (joiner, part, tokens) triples, each part within the cap.

    Sentences or lines first; any still too big are cut at spaces.
    """
    out = []
    for joiner, part in splitter(text):
        tokens = count(part)
        if tokens <= max_tokens:
            out.append((joiner, part, tokens))
            continue
        smaller = _cut_at_spaces(part, max_tokens, count)
        out.append((joiner, *smaller[0][1:]))
        out.extend(smaller[1:])
    return out


def _sentences(text):
    """(whitespace before, sentence) pairs; the first has ``""`` before it."""
    parts, start, joiner = [], 0, ""
    for match in _SENTENCE_END.finditer(text):
        space_at = match.start(1) if match.group(1) is not None else match.start(2)
        if space_at > start:
            parts.append((joiner, text[start:space_at]))
            joiner, start = match.group(1) or "", match.end()
    if start < len(text):
        parts.append((joiner, text[start:]))
    return parts


def _lines(text):
    """Non-blank lines, indentation kept; blank lines between them stay in the joiners."""
    parts, end = [], 0
    for match in _LINE.finditer(text):
        parts.append((text[end:match.start()] if parts else "", match.group()))
        end = match.end()
    return parts


def _cut_at_spaces(text, max_tokens, count):
    """Cut ``text`` at whitespace into parts that each fill most of a chunk.

    Rather than count every word (200,000 calls for a 1 MB line), guess a
    window from the token density seen so far, pull its end back to the last
    space, count once, and shrink by a tenth while it is over the cap. Only a
    single word bigger than a chunk is handed to :func:`_cut_characters`.
    """
    out = []
    position, length = 0, len(text)
    density = max(count(text[:4096]), 1) / len(text[:4096])  # tokens per character
    while True:
        word = _WORD.search(text, position)
        if word is None:
            return out
        joiner, start = (text[position:word.start()] if out else ""), word.start()
        width = max(1, int(max_tokens / density))
        while True:
            end = min(length, start + width)
            if end < length and not text[end].isspace():
                space = _last_space(text, start, end)
                if space > start:
                    end = space
                else:  # no space in the window: take the whole word
                    end = word.end() if word.end() > end else end
                    if end == word.end() and count(word.group()) > max_tokens:
                        pieces = _cut_characters(word.group(), max_tokens, count)
                        out.append((joiner, *pieces[0][1:]))
                        out.extend(pieces[1:])
                        position = end
                        break
            part = text[start:end].rstrip()
            tokens = count(part)
            if tokens <= max_tokens:
                out.append((joiner, part, tokens))
                density = max(tokens, 1) / len(part)
                position = end
                break
            width = max(1, (end - start) * 9 // 10)


def _cut_characters(word, max_tokens, count):
    """The last resort for one unbroken run longer than a chunk: cut it between characters."""
    out = []
    start = 0
    density = max(count(word[:4096]), 1) / len(word[:4096])
    while start < len(word):
        width = max(1, int(max_tokens / density))
        part = word[start:start + width]
        tokens = count(part)
        while tokens > max_tokens and width > 1:
            width = max(1, width * 9 // 10)
            part = word[start:start + width]
            tokens = count(part)
        out.append(("", part, tokens))
        start += width
    return out


def _last_space(text, start, end):
    """Index of the last whitespace character in ``text[start:end]``, or -1."""
    match = _LAST_SPACE.search(text, start, end)
    return match.start() if match else -1


# --- packing -----------------------------------------------------------------


def _pack(pieces, max_tokens, overlap_tokens, count):
    """Group consecutive pieces into (text, tokens, first page, last page) chunks within the cap.

    Aims at equal sizes: with ``n`` chunks needed, a chunk closes once it
    holds about ``1/n`` of the section, so a section of 1.1 caps gives two
    halves, not a full chunk and a sliver.
    """
    joiner_cost = {}
    for piece in pieces:
        if piece.joiner not in joiner_cost:
            joiner_cost[piece.joiner] = count(piece.joiner)
    total = sum(piece.tokens + joiner_cost[piece.joiner] for piece in pieces)
    target = total / max(1, math.ceil(total / max_tokens))
    groups, current, size, fresh = [], [], 0, 0
    for piece in pieces:
        cost = piece.tokens + (joiner_cost[piece.joiner] if current else 0)
        if fresh and (size + cost > max_tokens or size >= target):
            groups.append(current)
            current = _overlap(current, overlap_tokens, joiner_cost) if overlap_tokens else []
            size = _size(current, joiner_cost)
            fresh = 0
            cost = piece.tokens + (joiner_cost[piece.joiner] if current else 0)
            if size + cost > max_tokens:
                current, size, cost = [], 0, piece.tokens
        current.append(piece)
        size += cost
        fresh += 1
    if fresh:
        groups.append(current)
    if not overlap_tokens:
        _even_out_last(groups, max_tokens, joiner_cost)

    out = []
    while groups:
        group = groups.pop(0)
        if len(group) == 1:
            out.append((group[0].text, group[0].tokens, group[0].page, group[0].page))
            continue
        text = group[0].text + "".join(piece.joiner + piece.text for piece in group[1:])
        tokens = count(text)
        if tokens > max_tokens and len(group) > 1:
            # Only with a counter that is not additive (a real tokenizer can
            # merge across the joins): halve the group and try again.
            middle = len(group) // 2
            groups[:0] = [group[:middle], group[middle:]]
            continue
        pages = [piece.page for piece in group if piece.page is not None]
        out.append((text, tokens, group[0].page, max(pages) if pages else None))
    return out


def _even_out_last(groups, max_tokens, joiner_cost):
    """Move pieces from the second-last group to a small last one while that evens them out."""
    if len(groups) < 2:
        return
    before, last = groups[-2], groups[-1]
    while len(before) > 1:
        moved = [before[-1], *last]
        if _size(moved, joiner_cost) > max_tokens or \
                _size(moved, joiner_cost) >= _size(before, joiner_cost):
            break
        before.pop()
        last[:0] = moved[:1]


def _size(group, joiner_cost):
    return sum(piece.tokens for piece in group) + sum(joiner_cost[piece.joiner] for piece in group[1:])


def _overlap(group, overlap_tokens, joiner_cost):
    """The longest tail of ``group`` within ``overlap_tokens``, whole pieces only."""
    start = len(group)
    while start > 0 and _size(group[start - 1:], joiner_cost) <= overlap_tokens:
        start -= 1
    return group[start:]
