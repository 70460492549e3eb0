"""PDF to blocks with pypdf: text per page, then headings and paragraphs recovered from the layout.

pypdf returns a page's text as lines, without paragraph breaks. Its
``visitor_text`` callback also reports, for every piece of text, the font
size and position it is drawn at; from those:

- a **heading** is a short line set clearly larger than the body text (the
  size that holds most characters); distinct heading sizes, largest first,
  give levels 1, 2, 3...;
- a **paragraph** ends where the gap to the next line is clearly larger than
  the usual line spacing, where the text jumps up (a new column), or before a
  bullet;
- **running headers and footers** (the same first or last lines on most
  pages, page numbers included) are dropped.

When the pieces do not add up to the page text (never seen, but pypdf's
internals may change), the page falls back to plain lines in one paragraph.
Every block carries its 1-based page number for citations ("p. 3").
"""
import io
import math
import re
import struct
import time
import zlib
from dataclasses import dataclass

from webapp.knowledge.blocks import Block, BlockKind, ParsedDocument
from webapp.knowledge.errors import CorruptFile, DocumentTooLarge, EncryptedFile, NoExtractableText

#: A line is a heading if its size is at least this times the body size...
HEADING_SIZE_RATIO = 1.15
#: ...and it is at most this long.
HEADING_MAX_CHARS = 150
#: A gap between lines this many times the usual spacing starts a new paragraph.
PARAGRAPH_GAP_RATIO = 1.4

_BULLET = re.compile(r"^(?:[•◦▪‣∙●○■□–—*-]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_DIGITS = re.compile(r"\d+")
#: A page number alone on the first or last line of a page: "7", "iv", "Page 7", "7 / 30".
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:\d{1,5}|[ivxlcdm]{1,8})(?:\s*(?:/|of)\s*\d{1,5})?$", re.IGNORECASE)
#: Table-of-contents leaders ("Introduction . . . . 1"): bold and large, but not headings.
_LEADER_DOTS = re.compile(r"(?:\.\s?){4,}")


def _pdf_errors():
    from pypdf.errors import PyPdfError

    # pypdf raises its own errors for most damage, but malformed objects can
    # surface as plain Python errors from deep inside it.
    return (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
            RecursionError, struct.error, zlib.error, UnicodeDecodeError, EOFError)


@dataclass(slots=True)
class _Line:
    text: str
    size: float | None  # effective font size in points; None when layout is unknown
    y: float | None     # baseline height on the page (PDF y grows upwards)
    page: int


def extract_pdf(data, *, limits, progress):
    """The blocks of a PDF, each with its page number.

    :raises CorruptFile: truncated or unreadable; every page failing counts too.
    :raises EncryptedFile: a user password is needed (PDFs that only restrict
        permissions, with an empty user password, are read normally).
    :raises DocumentTooLarge: more than ``limits.max_pdf_pages`` pages, more
        than ``limits.max_text_chars`` characters of text, or pages still
        unread after ``limits.max_pdf_seconds``.
    :raises NoExtractableText: no page has text; the message says to run OCR
        when the pages hold images (a scan).
    """
    from pypdf import PasswordType, PdfReader

    errors = _pdf_errors()
    if b"%%EOF" not in data[-4096:]:
        raise CorruptFile("PDF", "it ends before its end-of-file marker, so the upload was probably cut short")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EncryptedFile("PDF")
        pages = reader.pages
        page_count = len(pages)
    except EncryptedFile:
        raise
    except errors as exc:
        raise CorruptFile("PDF", "its structure cannot be read") from exc
    if page_count == 0:
        raise NoExtractableText("This PDF has no pages.")
    if page_count > limits.max_pdf_pages:
        raise DocumentTooLarge(f"it has {page_count:,} pages, more than the {limits.max_pdf_pages:,} allowed")

    lines, warnings, failed = [], [], 0
    total_chars = 0
    deadline = time.monotonic() + limits.max_pdf_seconds
    for number in range(1, page_count + 1):
        if number > 1 and time.monotonic() > deadline:
            raise DocumentTooLarge(f"reading its pages took more than {limits.max_pdf_seconds:g} seconds "
                                   f"(stopped at page {number} of {page_count})")
        try:
            page = pages[number - 1]
            if _content_size(page) > limits.max_pdf_page_content_bytes:
                warnings.append(f"Page {number} was skipped: its drawing instructions are too large to read.")
                continue
            page_lines = _page_lines(page, number)
        except errors:
            failed += 1
            warnings.append(f"Page {number} could not be read and was skipped.")
            continue
        finally:
            progress(number / page_count)
        total_chars += sum(len(line.text) for line in page_lines)
        if total_chars > limits.max_text_chars:
            raise DocumentTooLarge(f"it holds more than {limits.max_text_chars:,} characters of text")
        lines.extend(page_lines)

    if not lines:
        if failed == page_count:
            raise CorruptFile("PDF", "none of its pages can be read")
        if _has_images(pages):
            raise NoExtractableText("This PDF has no extractable text: its pages seem to be scanned images. "
                                    "Run OCR on it (most scanners and PDF tools can) and upload the result.")
        raise NoExtractableText("This PDF has no extractable text.")
    lines = _drop_running_lines(lines, page_count)
    return ParsedDocument("pdf", _blocks(lines), page_count=page_count, warnings=warnings)


def _content_size(page):
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    return sum(len(stream.get_object().get_data()) for stream in streams)


def _page_lines(page, number):
    pieces = []

    def visit(text, cm, tm, font_dict, font_size):
        # Effective size and baseline: the text matrix composed with the CTM.
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        pieces.append((text, round(font_size * math.hypot(c, d), 1), y))

    text = page.extract_text(visitor_text=visit)
    if "".join(piece[0] for piece in pieces) != text:
        return [_Line(line.strip(), None, None, number) for line in text.split("\n") if line.strip()]

    lines = []
    parts, weights, y = [], {}, None
    for piece_text, size, piece_y in pieces:
        for index, segment in enumerate(piece_text.split("\n")):
            if index:
                _close_line(lines, parts, weights, y, number)
                parts, weights, y = [], {}, None
            if segment:
                parts.append(segment)
                visible = len(segment.strip())
                if visible:
                    weights[size] = weights.get(size, 0) + visible
                    if y is None:
                        y = piece_y
    _close_line(lines, parts, weights, y, number)
    return lines


def _close_line(lines, parts, weights, y, number):
    text = " ".join("".join(parts).split())
    if text:
        size = max(weights, key=weights.get) if weights else None
        lines.append(_Line(text, size, y, number))


def _drop_running_lines(lines, page_count):
    """Remove page numbers, and lines repeated at the top or bottom of most pages (running titles)."""
    by_page = {}
    for index, line in enumerate(lines):
        by_page.setdefault(line.page, []).append(index)

    def edges(indexes):  # the first two and last two lines of a page
        return set(indexes[:2] + indexes[-2:])

    def key(index):  # "Chapter 2, page 14" and "Chapter 2, page 15" are the same running line
        return _DIGITS.sub("#", lines[index].text.lower())

    pages_with = {}
    for page, indexes in by_page.items():
        for index in edges(indexes):
            pages_with.setdefault(key(index), set()).add(page)
    running = {text for text, pages in pages_with.items() if len(pages) >= max(3, page_count // 2)}
    dropped = set()
    for indexes in by_page.values():
        if len(indexes) > 1:
            dropped.update(i for i in (indexes[0], indexes[-1]) if _PAGE_NUMBER.match(lines[i].text))
        dropped.update(i for i in edges(indexes) if key(i) in running)
    return [line for index, line in enumerate(lines) if index not in dropped]


def _blocks(lines):
    sized = [line for line in lines if line.size]
    body_size = None
    if sized:
        chars = {}
        for line in sized:
            chars[line.size] = chars.get(line.size, 0) + len(line.text)
        body_size = max(chars, key=chars.get)
    heading_sizes = sorted({line.size for line in sized if _is_heading(line, body_size)}, reverse=True)
    level_of = {size: min(index + 1, 6) for index, size in enumerate(heading_sizes)}
    spacing = _usual_spacing(lines, body_size)

    blocks = []
    paragraph, previous = [], None
    for line in lines:
        heading = _is_heading(line, body_size)
        if previous is None or previous.page != line.page or heading or _starts_paragraph(previous, line, spacing):
            _flush(blocks, paragraph)
            paragraph = []
        if heading:
            if blocks and blocks[-1].kind is BlockKind.HEADING and previous is not None and \
                    previous.size == line.size and previous.page == line.page and _is_heading(previous, body_size):
                # A heading wrapped over two lines.
                last = blocks.pop()
                blocks.append(Block(BlockKind.HEADING, f"{last.text} {line.text}", last.level, last.page))
            else:
                blocks.append(Block(BlockKind.HEADING, line.text, level_of[line.size], line.page))
        else:
            paragraph.append(line)
        previous = line
    _flush(blocks, paragraph)
    return blocks


def _is_heading(line, body_size):
    return (body_size is not None and line.size is not None
            and line.size >= body_size * HEADING_SIZE_RATIO
            and len(line.text) <= HEADING_MAX_CHARS
            and sum(ch.isalpha() for ch in line.text) >= 2
            and not _LEADER_DOTS.search(line.text))


def _usual_spacing(lines, body_size):
    gaps = [previous.y - line.y for previous, line in zip(lines, lines[1:], strict=False)
            if previous.page == line.page and previous.y is not None and line.y is not None
            and previous.size == body_size == line.size and 0 < previous.y - line.y < 3 * body_size]
    # The lower quartile, not the median: in a document of short paragraphs
    # most gaps between body lines are paragraph gaps.
    return sorted(gaps)[len(gaps) // 4] if gaps else None


def _starts_paragraph(previous, line, spacing):
    if previous.y is None or line.y is None:
        return False
    gap = previous.y - line.y
    if gap < 0:
        return True  # moved up the page: a new column or a float
    if spacing and gap > spacing * PARAGRAPH_GAP_RATIO:
        return True
    if previous.size and line.size and abs(previous.size - line.size) > 0.1 * previous.size:
        return True
    return bool(_BULLET.match(line.text))


def _flush(blocks, paragraph):
    if not paragraph:
        return
    text = paragraph[0].text
    for line in paragraph[1:]:
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and line.text[:1].islower():
            text += line.text  # hyphenated at the line end: keep the hyphen, drop the break
        else:
            text += " " + line.text
    blocks.append(Block(BlockKind.PARAGRAPH, text, page=paragraph[0].page))


def _has_images(pages):
    """Whether any of the first pages paints an image (what a scan is made of)."""
    for index in range(min(len(pages), 10)):
        try:
            resources = pages[index].get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources is not None else None
            if xobjects is None:
                continue
            xobjects = xobjects.get_object()
            if any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects):
                return True
        except _pdf_errors():
            continue
    return False
