"""An uploaded file's bytes to a :class:`ParsedDocument`: detect the type, refuse what cannot be read, extract blocks.

Public API::

    kind = detect_kind(data, filename)          # cheap; refuses early
    document = extract(data, kind, progress=cb)  # the expensive part
    document = parse(data, filename)             # both

Pure functions: no database, no Flask, no files opened (a filename is display
data used only for its extension). Every refusal is a
:class:`~webapp.knowledge.errors.FileRefused` subclass whose message a person
can act on; anything else escaping from here is a bug.

Resource use is bounded by :class:`ParseLimits`: ZIP directories are checked
before a DOCX is inflated, HTML nesting before it is parsed, PDF page counts
before pages are read, and extracted text is capped as it grows. Third-party
libraries do the parsing (pypdf, mammoth, selectolax, markdown-it-py, csv).
"""
import codecs
import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.parsers.expat import ExpatError

from webapp.knowledge import html_blocks, pdf_text  # pdf_text imports pypdf only when a PDF comes
from webapp.knowledge.blocks import Block, BlockKind, ParsedDocument, table_row
from webapp.knowledge.errors import (
    CorruptFile,
    DocumentTooLarge,
    EmptyFile,
    EncryptedFile,
    NoExtractableText,
    SuspiciousArchive,
    UnsupportedEncoding,
    UnsupportedFileType,
)

KINDS = ("pdf", "docx", "html", "markdown", "csv", "text")

MiB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on the work one file may cause. Defaults suit a 25 MB upload limit.

    Measured here: mammoth needs about 15x a DOCX's XML size in memory and
    reads about 1.3 MB of XML per second, hence the per-part cap.
    """

    #: PDFs with more pages are refused before any page is read.
    max_pdf_pages: int = 2_000
    #: Reading stops (the file is refused) once pages have taken this long:
    #: pypdf's speed depends on the drawing instructions, not the file size,
    #: so no byte count bounds it. Checked between pages.
    max_pdf_seconds: float = 300.0
    #: A page whose drawing instructions inflate past this is skipped with a
    #: warning (pypdf reads them at a few MB/s at best).
    max_pdf_page_content_bytes: int = 8 * MiB
    #: Extracted text beyond this many characters is refused (~12M tokens,
    #: ~50,000 chunks: beyond any single document worth indexing whole).
    max_text_chars: int = 50_000_000
    #: DOCX (ZIP) directory checks, made before anything is inflated.
    max_archive_entries: int = 10_000
    max_archive_bytes: int = 512 * MiB
    max_archive_part_bytes: int = 64 * MiB
    #: Inflation ratio allowed for parts over 1 MiB. Real DOCX XML compresses
    #: 5-80x; zeros, the stuff of bombs, about 1000x.
    max_archive_ratio: int = 200
    #: HTML is refused past these, before it is parsed (see html_blocks).
    max_html_depth: int = 512
    max_html_tags: int = 2_000_000
    #: Invalid UTF-8 sequences tolerated (replaced by U+FFFD) per byte of text.
    max_invalid_utf8_ratio: float = 0.001
    #: Control characters (other than tab, newlines, form feed, escape) per byte
    #: before "text" is judged binary.
    max_control_ratio: float = 0.01


DEFAULT_LIMITS = ParseLimits()

# --- detection ---------------------------------------------------------------

#: (magic bytes, offset, what it looks like, what to do instead). Checked
#: before text decoding so an image renamed .txt is named for what it is.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image", None),
    (b"\xff\xd8\xff", 0, "a JPEG image", None),
    (b"GIF87a", 0, "a GIF image", None),
    (b"GIF89a", 0, "a GIF image", None),
    (b"WEBP", 8, "a WebP image", None),
    (b"II*\x00", 0, "a TIFF image", "run OCR on it and upload the resulting PDF or text"),
    (b"MM\x00*", 0, "a TIFF image", "run OCR on it and upload the resulting PDF or text"),
    (b"{\\rtf", 0, "an RTF document", "save it as DOCX or PDF and upload that"),
    (b"%!PS", 0, "a PostScript file", "convert it to PDF and upload that"),
    (b"\x1f\x8b", 0, "a gzip archive", "unpack it and upload the documents inside"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive", "unpack it and upload the documents inside"),
    (b"Rar!\x1a\x07", 0, "a RAR archive", "unpack it and upload the documents inside"),
    (b"\x7fELF", 0, "a program (ELF executable)", None),
    (b"SQLite format 3\x00", 0, "an SQLite database", "export the tables as CSV and upload those"),
    (b"ID3", 0, "an MP3 audio file", None),
    (b"OggS", 0, "an Ogg audio or video file", None),
    (b"fLaC", 0, "a FLAC audio file", None),
    (b"ftyp", 4, "an MP4/MOV video or audio file", None),
    (b"\x00asm", 0, "a WebAssembly module", None),
)
#: Legacy Office files (and password-protected DOCX, which Office wraps in this format).
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_HTML_EXTENSIONS = frozenset(("html", "htm", "xhtml", "shtml"))
_MARKDOWN_EXTENSIONS = frozenset(("md", "markdown", "mdown", "mkd", "mkdn", "mdwn"))
_CSV_EXTENSIONS = frozenset(("csv", "tsv"))
_HTML_START = re.compile(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)
_SVG_START = re.compile(r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+svg[^>]*>\s*)?<svg[\s>]",
                        re.IGNORECASE | re.DOTALL)
_MARKDOWN_SIGNS = re.compile(r"^(?:#{1,6}[ \t]+\S|```|~~~)", re.MULTILINE)


def file_extension(filename):
    """The lower-cased extension of the last path segment of ``filename`` ('' if none).

    Filenames are uploader-controlled display data: this is the only thing
    parsing takes from them, and nothing is ever opened by name.
    """
    name = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def detect_kind(data, filename="", *, limits=DEFAULT_LIMITS):
    """What ``data`` is, judged by its bytes; the extension only chooses among text kinds.

    Returns one of :data:`KINDS`. A PNG named ``notes.txt`` is refused as a
    PNG; HTML named ``.md`` is HTML. Among plain-text formats the bytes cannot
    tell Markdown from text or CSV, so ``.md``/``.csv``/``.tsv`` decide, and a
    file without an extension is Markdown if it has Markdown headings or
    fences. Cheap checks that can refuse the file run here, so an upload can be
    refused at once: the DOCX directory (bombs), text encoding, binary content.

    :raises EmptyFile, UnsupportedFileType, UnsupportedEncoding, EncryptedFile,
        CorruptFile, SuspiciousArchive:
    """
    if not data:
        raise EmptyFile()
    head = data[:1024]
    if _is_pdf(data):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _detect_zip(data, file_extension(filename), limits)
    if head.startswith(_OLE2):
        if file_extension(filename) in ("docx", "xlsx", "pptx"):
            raise EncryptedFile("Office document")
        raise UnsupportedFileType("a legacy Microsoft Office file (.doc, .xls or .ppt)",
                                  advice="save it as DOCX, PDF or CSV and upload that")
    for magic, offset, looks_like, advice in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            raise UnsupportedFileType(looks_like, advice=advice)
    text = decode_text(data, limits=limits)
    return _text_kind(text, file_extension(filename))


def _is_pdf(data):
    # The PDF header may follow a little junk (readers look in the first
    # 1024 bytes); demand the end-of-file marker then, so a text file that
    # merely mentions "%PDF-" is not taken for one.
    position = data.find(b"%PDF-", 0, 1024)
    if position == 0:
        return True
    return position > 0 and b"%%EOF" in data[-2048:]


def _detect_zip(data, extension, limits):
    archive = _open_zip(data, "ZIP archive")
    check_archive(archive, limits=limits)  # before reading any entry, even "mimetype"
    names = set(archive.namelist())
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        raise UnsupportedFileType("an Excel workbook", advice="save each sheet as CSV and upload those")
    if "ppt/presentation.xml" in names:
        raise UnsupportedFileType("a PowerPoint presentation", advice="save it as PDF and upload that")
    if "mimetype" in names:
        mimetype = archive.read("mimetype")[:100]
        if b"opendocument" in mimetype:
            raise UnsupportedFileType("an OpenDocument file", advice="save it as DOCX or PDF and upload that")
        if b"epub" in mimetype:
            raise UnsupportedFileType("an EPUB e-book", advice="convert it to PDF and upload that")
    if extension == "docx":
        raise CorruptFile("DOCX file", "it has no word/document.xml")
    raise UnsupportedFileType("a ZIP archive", advice="unpack it and upload the documents inside")


def _open_zip(data, what):
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise CorruptFile(what, "its ZIP directory cannot be read") from exc


def check_archive(archive, *, limits=DEFAULT_LIMITS):
    """Refuse a ZIP whose directory promises more than a document could hold.

    Reads only the central directory. That is enough: Python's ``zipfile``
    (which mammoth uses) never inflates an entry past its declared size (it
    stops there and the CRC check fails), so declared sizes bound the work.

    :raises SuspiciousArchive:
    """
    entries = archive.infolist()
    if len(entries) > limits.max_archive_entries:
        raise SuspiciousArchive(f"{len(entries):,} entries")
    total = 0
    for entry in entries:
        total += entry.file_size
        if entry.file_size > limits.max_archive_part_bytes:
            raise SuspiciousArchive(
                f"one part would inflate to {entry.file_size / MiB:,.0f} MB, "
                f"more than the {limits.max_archive_part_bytes / MiB:,.0f} MB allowed")
        if entry.file_size > MiB and entry.file_size > limits.max_archive_ratio * max(entry.compress_size, 1):
            raise SuspiciousArchive(
                f"one part would inflate {entry.file_size // max(entry.compress_size, 1):,} times")
    if total > limits.max_archive_bytes:
        raise SuspiciousArchive(f"it would inflate to {total / MiB:,.0f} MB, "
                                f"more than the {limits.max_archive_bytes / MiB:,.0f} MB allowed")


def _text_kind(text, extension):
    head = text[:4096]
    if _HTML_START.match(head) or (extension in _HTML_EXTENSIONS and "<" in head):
        return "html"
    if _SVG_START.match(head):
        raise UnsupportedFileType("an SVG image")
    if extension in _MARKDOWN_EXTENSIONS:
        return "markdown"
    if extension in _CSV_EXTENSIONS:
        return "csv"
    if not extension and _MARKDOWN_SIGNS.search(text, 0, 65536):
        return "markdown"
    return "text"


# --- text decoding -----------------------------------------------------------

_BOMS = (  # UTF-32 first: its little-endian BOM begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
#: C0 controls that never occur in text (NUL is handled apart).
_CONTROL_BYTES = bytes(set(range(1, 32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"
_CONTROL_CHARS = re.compile("[" + re.escape(_CONTROL_BYTES.decode("ascii")) + "\x00]")


def decode_text(data, *, limits=DEFAULT_LIMITS):
    """``data`` as text: UTF-8 (with or without BOM) or UTF-16/32 with a BOM; refuse anything else.

    Line endings are normalised to ``\\n``. A few invalid UTF-8 sequences
    (``limits.max_invalid_utf8_ratio``) become U+FFFD; more mean another
    encoding, refused rather than turned into mojibake.

    :raises EmptyFile, UnsupportedFileType (binary data), UnsupportedEncoding:
    """
    if not data:
        raise EmptyFile()
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding in ("utf-16", "utf-32"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise UnsupportedEncoding(f"it starts like {encoding.upper()} but is cut short or damaged") from exc
        if len(_CONTROL_CHARS.findall(text, 0, 65536)) > limits.max_control_ratio * min(len(text), 65536):
            raise UnsupportedFileType("binary data, not text")
    else:
        _refuse_binary(data, limits)
        try:
            text = data.decode(encoding or "utf-8")
        except UnicodeDecodeError:
            text = data.decode(encoding or "utf-8", errors="replace")
            invalid = text.count("\ufffd")
            if invalid > limits.max_invalid_utf8_ratio * len(data):
                raise UnsupportedEncoding(
                    f"{invalid:,} byte sequences are not valid UTF-8; it may be Windows-1252 or Latin-1"
                ) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _refuse_binary(data, limits):
    if b"\x00" in data:
        sample = data[:4096]
        # UTF-16 without a BOM: ASCII-range text leaves every other byte NUL.
        if sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4:
            raise UnsupportedEncoding("it looks like UTF-16 without a byte-order mark")
        raise UnsupportedFileType("binary data, not text")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > limits.max_control_ratio * len(data):
        raise UnsupportedFileType("binary data, not text")


# --- extraction --------------------------------------------------------------


def parse(data, filename="", *, limits=DEFAULT_LIMITS, progress=None):
    """:func:`detect_kind` then :func:`extract`."""
    return extract(data, detect_kind(data, filename, limits=limits), limits=limits, progress=progress)


def extract(data, kind, *, limits=DEFAULT_LIMITS, progress=None):
    """The blocks of ``data``, which :func:`detect_kind` judged to be ``kind``.

    Safe to call on its own (the cheap checks of detection are repeated where
    they guard resources). The result always has at least one block with text.

    :param progress: called with a fraction from 0 to 1 as work advances
        (per page for PDFs); the last call is ``progress(1.0)``. It runs on
        the parsing thread, so it should be quick (e.g. throttle DB writes).
    :raises FileRefused: see :mod:`webapp.knowledge.errors`; a scanned PDF
        raises :class:`NoExtractableText` saying OCR is needed.
    :raises ValueError: ``kind`` is not one of :data:`KINDS` (a bug).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if not data:
        raise EmptyFile()
    report = progress or (lambda fraction: None)
    if kind == "pdf":
        document = pdf_text.extract_pdf(data, limits=limits, progress=report)
    elif kind == "docx":
        document = ParsedDocument("docx", _docx_blocks(data, limits))
    else:
        text = decode_text(data, limits=limits)
        _check_text_length(len(text), limits)
        if kind == "html":
            blocks = html_blocks.html_to_blocks(text, max_depth=limits.max_html_depth,
                                                max_tags=limits.max_html_tags)
        elif kind == "markdown":
            blocks = _markdown_blocks(text, limits)
        elif kind == "csv":
            blocks = _csv_blocks(text)
        else:
            blocks = _text_blocks(text)
        document = ParsedDocument(kind, blocks)
    if not document.blocks:
        raise NoExtractableText("This file has no text to index: it is blank, or holds only markup.")
    _check_text_length(document.text_length, limits)
    report(1.0)
    return document


def _check_text_length(length, limits):
    if length > limits.max_text_chars:
        raise DocumentTooLarge(
            f"it holds more than {limits.max_text_chars:,} characters of text")


_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n\s*")
_FORM_FEED = re.compile(r"[\f\v]")


def _text_blocks(text):
    """Paragraphs are separated by blank lines; line breaks inside them are kept."""
    text = _FORM_FEED.sub("\n\n", text) if "\f" in text or "\v" in text else text
    return [Block(BlockKind.PARAGRAPH, paragraph.strip())
            for paragraph in _BLANK_LINES.split(text) if paragraph.strip()]


def _markdown_blocks(text, limits):
    """Blocks from markdown-it-py's block tokens.

    Only the block structure is parsed (the inline rule is off): paragraph text
    is kept as the author wrote it, Markdown emphasis and links included, which
    reads fine in a citation and saves a third of the time. Raw HTML blocks (a
    README's centred title) go through the HTML walker.
    """
    from markdown_it import MarkdownIt  # imported when a Markdown file comes, like pypdf for PDFs

    # Link reference definitions stay text: nothing is rendered, and
    # markdown-it-py resolves them at about 0.2 MB/s.
    parser = MarkdownIt("commonmark", {"html": True}).enable("table").disable(["inline", "reference"])
    walker = _MarkdownWalker(limits)
    for token in parser.parse(text):
        handler = walker.HANDLERS.get(token.type)
        if handler is not None:
            handler(walker, token)
    return walker.blocks


class _MarkdownWalker:
    """Turns markdown-it-py's flat token stream into blocks, one method per token kind.

    The stream is flat (``heading_open``, ``inline``, ``heading_close`` ...), so
    the walker keeps what the open tokens say: the heading level, the list
    depth, whether each open list item has had its first paragraph, and the
    table row being read.
    """

    def __init__(self, limits):
        self.limits = limits
        self.blocks = []
        self.heading_level = 0
        self.list_depth = 0
        self.item_started = []  # per open list item: has its first paragraph been written?
        self.header, self.row, self.in_head, self.in_cell = None, [], False, False

    def inline(self, token):
        """Text: a table cell, a heading, a list item's first paragraph, or a paragraph."""
        content = token.content.strip()
        if self.in_cell:
            self.row.append(" ".join(content.split()))
        elif not content:
            return
        elif self.heading_level:
            self.blocks.append(Block(BlockKind.HEADING, " ".join(content.split()), self.heading_level))
        elif self.item_started and not self.item_started[-1]:
            self.item_started[-1] = True
            self.blocks.append(Block(BlockKind.PARAGRAPH, "  " * (self.list_depth - 1) + "- " + content))
        else:
            self.blocks.append(Block(BlockKind.PARAGRAPH, content))

    def heading_open(self, token):
        self.heading_level = int(token.tag[1])

    def heading_close(self, token):
        self.heading_level = 0

    def list_open(self, token):
        self.list_depth += 1

    def list_close(self, token):
        self.list_depth -= 1

    def item_open(self, token):
        self.item_started.append(False)

    def item_close(self, token):
        self.item_started.pop()

    def code(self, token):
        code = token.content.strip("\n").rstrip()
        if code:
            self.blocks.append(Block(BlockKind.CODE, code))

    def html(self, token):
        self.blocks.extend(html_blocks.html_to_blocks(token.content, max_depth=self.limits.max_html_depth,
                                                      max_tags=self.limits.max_html_tags))

    def table_open(self, token):
        self.header = None

    def head_open(self, token):
        self.in_head = True

    def head_close(self, token):
        self.in_head = False

    def row_open(self, token):
        self.row = []

    def cell_open(self, token):
        self.in_cell = True

    def cell_close(self, token):
        self.in_cell = False

    def row_close(self, token):
        """The header row names the columns; every other row becomes a block of its own."""
        if self.in_head:
            self.header = self.row
            return
        block = table_row(self.header, self.row)
        if block is not None:
            self.blocks.append(block)

    HANDLERS = {
        "inline": inline, "heading_open": heading_open, "heading_close": heading_close,
        "bullet_list_open": list_open, "ordered_list_open": list_open,
        "bullet_list_close": list_close, "ordered_list_close": list_close,
        "list_item_open": item_open, "list_item_close": item_close,
        "fence": code, "code_block": code, "html_block": html,
        "table_open": table_open, "thead_open": head_open, "thead_close": head_close,
        "tr_open": row_open, "tr_close": row_close,
        "th_open": cell_open, "td_open": cell_open, "th_close": cell_close, "td_close": cell_close,
    }


def _csv_blocks(text):
    """One TABLE_ROW per record, each reading "column: value" lines after the header row.

    The dialect (delimiter, quoting) is sniffed from the start of the file;
    when sniffing fails the file is read as comma-separated.

    :raises CorruptFile: a record csv cannot read (an unterminated quote
        running past the field size limit).
    """
    # Sniffer's regular expressions slow down sharply with the sample size
    # (0.9 s for 64 KB, 0.08 s for 16 KB here); whole lines of 16 KB suffice.
    sample = text[:16384]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    blocks = []
    try:
        header = None
        for cells in reader:
            cells = [" ".join(cell.split()) if "\n" in cell or "  " in cell else cell.strip() for cell in cells]
            if not any(cells):
                continue
            if header is None:
                header = cells
                continue
            block = table_row(header, cells)
            if block is not None:
                blocks.append(block)
    except csv.Error as exc:
        raise CorruptFile("CSV file", f"line {reader.line_num}: {exc}") from exc
    if header is not None and not blocks:
        # Only a header row: index it as it is rather than refuse the file.
        blocks.append(Block(BlockKind.TABLE_ROW, " | ".join(cell for cell in header if cell)))
    return blocks


def _docx_blocks(data, limits):
    """DOCX to HTML with mammoth (document order, headings by style, tables, lists), then blocks.

    The ZIP directory is checked before mammoth reads anything. Images are not
    read at all (their bytes would only become base64 in the HTML); external
    files linked from the document are never fetched.
    """
    import mammoth

    archive = _open_zip(data, "DOCX file")
    check_archive(archive, limits=limits)
    if "word/document.xml" not in archive.namelist():
        raise CorruptFile("DOCX file", "it has no word/document.xml")
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            convert_image=mammoth.images.img_element(lambda image: {"src": ""}),
            include_embedded_style_map=False,
            external_file_access=False,
        )
    except ExpatError as exc:
        # Also what expat raises on entity expansion ("billion laughs"): it
        # stops past an amplification limit instead of expanding.
        raise CorruptFile("DOCX file", "its XML is malformed") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
        raise CorruptFile("DOCX file", "a part of it cannot be unpacked") from exc
    return html_blocks.html_to_blocks(result.value, max_depth=limits.max_html_depth,
                                      max_tags=limits.max_html_tags)
