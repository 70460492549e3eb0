"""Parsing: every supported type from fixtures made here, and every kind of bad file refused with its reason.

Pure functions: no app, no database. Fixture files come from
``bench/datasets/knowledge_files.py``.
"""
import codecs
import io
import tracemalloc
import zipfile

import pytest

from bench.datasets.knowledge_files import (
    make_docx,
    make_encrypted_pdf,
    make_image_only_pdf,
    make_lying_zip_docx,
    make_pdf,
    make_png,
    make_zip_bomb_docx,
)
from webapp.core.errors import StorehouseError
from webapp.knowledge.blocks import BlockKind
from webapp.knowledge.errors import (
    CorruptFile,
    DocumentTooComplex,
    DocumentTooLarge,
    EmptyFile,
    EncryptedFile,
    FileRefused,
    NoExtractableText,
    SuspiciousArchive,
    UnsupportedEncoding,
    UnsupportedFileType,
)
from webapp.knowledge.parsing import (
    DEFAULT_LIMITS,
    ParseLimits,
    decode_text,
    detect_kind,
    extract,
    file_extension,
    parse,
)


def texts(document, kind=None):
    return [block.text for block in document.blocks if kind is None or block.kind is kind]


def headings(document):
    return [(block.level, block.text) for block in document.blocks if block.kind is BlockKind.HEADING]


# --- fixtures ------------------------------------------------------------------------

PDF_PAGES = [
    [("Storehouse Manual", 20), "", "The store keeps every file that a person uploads",
     "and indexes its text for search.", "", "A second paragraph starts after a gap",
     "and runs on for a second line."],
    [("Installing on Linux", 16), "", "Download the package and run the installer.", "",
     "Restart the service when it finishes."],
    ["Plain page three with caf\u00e9 text.", "", "Last paragraph of the document."],
]


def build_handbook(document):
    from docx.oxml import OxmlElement

    document.add_heading("Handbook", level=1)
    document.add_paragraph("Welcome to the handbook.")
    document.add_heading("Install", level=2)
    document.add_paragraph("First step", style="List Bullet")
    document.add_paragraph("Second step", style="List Bullet")
    document.add_heading("Linux", level=3)
    document.add_paragraph("Use the package manager.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate([("Name", "Price"), ("Tea", "2"), ("Coffee", "3")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    # Word's "Repeat as header row": mammoth turns it into <th> cells.
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    document.add_paragraph("After the table.")


@pytest.fixture(scope="module")
def zip_bomb():
    return make_zip_bomb_docx(uncompressed_mb=100)


# --- supported types -------------------------------------------------------------------


def test_docx_headings_paragraphs_lists_and_table_in_document_order():
    document = parse(make_docx(build_handbook), "handbook.docx")

    assert document.kind == "docx"
    assert [(block.kind.value, block.level, block.text) for block in document.blocks] == [
        ("heading", 1, "Handbook"),
        ("paragraph", 0, "Welcome to the handbook."),
        ("heading", 2, "Install"),
        ("paragraph", 0, "- First step"),
        ("paragraph", 0, "- Second step"),
        ("heading", 3, "Linux"),
        ("paragraph", 0, "Use the package manager."),
        ("table_row", 0, "Name: Tea\nPrice: 2"),
        ("table_row", 0, "Name: Coffee\nPrice: 3"),
        ("paragraph", 0, "After the table."),
    ]


def test_pdf_pages_headings_and_paragraphs_with_page_numbers():
    progress = []
    document = extract(make_pdf(PDF_PAGES, compress=True), "pdf", progress=progress.append)

    assert document.kind == "pdf" and document.page_count == 3
    assert headings(document) == [(1, "Storehouse Manual"), (2, "Installing on Linux")]
    paragraphs = [(block.page, block.text) for block in document.blocks if block.kind is BlockKind.PARAGRAPH]
    assert paragraphs == [
        (1, "The store keeps every file that a person uploads and indexes its text for search."),
        (1, "A second paragraph starts after a gap and runs on for a second line."),
        (2, "Download the package and run the installer."),
        (2, "Restart the service when it finishes."),
        (3, "Plain page three with caf\u00e9 text."),
        (3, "Last paragraph of the document."),
    ]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3
    assert all(0 <= fraction <= 1 for fraction in progress)


def test_pdf_running_headers_and_page_numbers_are_dropped():
    bodies = ["Tea grows on hills.", "Coffee likes shade.", "Cocoa needs heat.", "Mate is a holly."]
    pages = [[f"Storehouse Manual, chapter {n}", "", body, "", str(n)] for n, body in enumerate(bodies, start=1)]
    document = parse(make_pdf(pages), "manual.pdf")

    assert texts(document) == bodies
    assert [block.page for block in document.blocks] == [1, 2, 3, 4]


def test_pdf_protected_only_by_permissions_is_read():
    document = parse(make_encrypted_pdf([["Readable by anyone."]], user_password=""), "open.pdf")
    assert texts(document) == ["Readable by anyone."]


def test_markdown_nested_headings_code_table_and_raw_html():
    source = """# Guide

Intro with *emphasis* and a [link](https://example.org).

## Install

### Linux

- apt install storehouse
- then start it

```sh
storehouse serve --port 8080

storehouse index
```

## Prices

| item | price |
|------|-------|
| tea  | 2     |

<div align="center"><h2>Centred</h2><script>alert('from markdown')</script></div>
"""
    document = parse(source.encode(), "guide.md")

    assert document.kind == "markdown"
    assert headings(document) == [(1, "Guide"), (2, "Install"), (3, "Linux"), (2, "Prices"), (2, "Centred")]
    assert "Intro with *emphasis* and a [link](https://example.org)." in texts(document)
    assert texts(document, BlockKind.PARAGRAPH)[1:3] == ["- apt install storehouse", "- then start it"]
    assert texts(document, BlockKind.CODE) == ["storehouse serve --port 8080\n\nstorehouse index"]
    assert texts(document, BlockKind.TABLE_ROW) == ["item: tea\nprice: 2"]
    assert not any("alert" in text for text in texts(document))


def test_html_drops_script_style_nav_and_hidden_text():
    page = """<!DOCTYPE html><html><head><title>T</title><style>body { color: red }</style>
<script>var secret = "SCRIPT-TEXT";</script></head><body>
<nav><a href="/">Home</a> <a href="/menu">NAV-TEXT</a></nav>
<h1>Guide <small>v2</small></h1>
<p>Intro with <b>bold</b> text.<br>Second line.<script>document.write("INLINE-SCRIPT")</script></p>
<noscript>NOSCRIPT-TEXT</noscript><template><p>TEMPLATE-TEXT</p></template>
<p hidden>HIDDEN-TEXT</p>
<h2>Steps</h2><ol><li>One</li><li>Two<ul><li>Two and a half</li></ul></li></ol>
<pre><code>def f():
    return 1</code></pre>
<table><tr><th>Name</th><th>Price</th></tr><tr><td>Tea</td><td>2</td></tr></table>
<table><tr><td>left</td><td>right</td></tr></table>
</body></html>"""
    document = parse(page.encode(), "page.html")

    everything = "\n".join(texts(document))
    for leaked in ("SCRIPT-TEXT", "INLINE-SCRIPT", "NAV-TEXT", "NOSCRIPT-TEXT", "TEMPLATE-TEXT",
                   "HIDDEN-TEXT", "color: red"):
        assert leaked not in everything
    assert headings(document) == [(1, "Guide v2"), (2, "Steps")]
    assert texts(document, BlockKind.PARAGRAPH) == [
        "Intro with bold text.\nSecond line.", "- One", "- Two", "  - Two and a half"]
    assert texts(document, BlockKind.CODE) == ["def f():\n    return 1"]
    assert texts(document, BlockKind.TABLE_ROW) == ["Name: Tea\nPrice: 2", "left | right"]


def test_csv_rows_carry_their_header():
    data = b'name;price;note\r\nTea;2;"green, loose"\r\nCoffee;3;\r\n\r\nCocoa;4;"with\r\nmilk"\r\n'
    document = parse(data, "prices.csv")

    assert document.kind == "csv"
    assert texts(document) == [
        "name: Tea\nprice: 2\nnote: green, loose",
        "name: Coffee\nprice: 3",
        "name: Cocoa\nprice: 4\nnote: with milk",
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-8"])
def test_unicode_text_with_a_byte_order_mark(encoding):
    boms = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE, "utf-8": codecs.BOM_UTF8}
    text = "Grüße aus Köln — 東京\r\n\r\nSecond paragraph\r\nwith two lines."
    document = parse(boms[encoding] + text.encode(encoding), "notes.txt")

    assert document.kind == "text"
    assert texts(document) == ["Grüße aus Köln — 東京", "Second paragraph\nwith two lines."]


def test_a_few_invalid_utf8_bytes_are_tolerated():
    data = ("A long enough English text. " * 200).encode() + b"\xff" + b" The end."
    assert decode_text(data).endswith("\ufffd The end.")


def test_kind_follows_the_bytes_not_the_extension():
    pdf = make_pdf([["A PDF named as text."]])
    assert detect_kind(pdf, "notes.txt") == "pdf"
    assert detect_kind(b"<!DOCTYPE html><p>hi</p>", "readme.md") == "html"
    assert detect_kind(b"<!-- saved page --><html><body>x</body></html>", "page.txt") == "html"
    assert detect_kind(b"Just words, not a PDF.", "report.pdf") == "text"
    assert detect_kind(make_docx(lambda d: d.add_paragraph("x")), "archive.zip") == "docx"
    assert detect_kind(b"# Title\n\ntext", "README") == "markdown"
    assert detect_kind(b"# a comment in a script\nx = 1\n", "script.py") == "text"
    assert detect_kind(b"a,b\n1,2\n", "data.csv") == "csv"
    assert detect_kind(b"Plain text that mentions %PDF- in passing.", "x.txt") == "text"


def test_filenames_are_display_data_only():
    assert file_extension("../../etc/passwd.MD") == "md"
    assert file_extension("C:\\Users\\x\\report.final.PDF") == "pdf"
    assert file_extension(".bashrc") == ""
    assert file_extension("") == "" and file_extension(None) == ""
    # A path in the name is never opened: the bytes are all that is read.
    assert parse(b"hello", "/etc/passwd").blocks[0].text == "hello"


def test_progress_ends_at_one_for_every_kind():
    for data, name in [(b"text", "a.txt"), (b"# h\n\nbody", "a.md"), (b"<p>x</p>", "a.html"),
                       (b"a,b\n1,2", "a.csv"), (make_docx(build_handbook), "a.docx")]:
        progress = []
        parse(data, name, progress=progress.append)
        assert progress and progress[-1] == 1.0


# --- refusals ------------------------------------------------------------------------


def test_refusals_are_storehouse_errors_with_a_slug_and_an_actionable_message():
    with pytest.raises(FileRefused) as caught:
        parse(make_png(), "photo.txt")
    error = caught.value
    assert isinstance(error, StorehouseError)
    assert error.error == "unsupported_file_type" and error.status_code == 415
    assert error.message == ("This file looks like a PNG image; upload plain text, Markdown, HTML, PDF, "
                             "DOCX or CSV instead.")


def test_empty_file():
    with pytest.raises(EmptyFile):
        detect_kind(b"", "empty.txt")
    with pytest.raises(EmptyFile):
        extract(b"", "pdf")


def test_whitespace_only_or_markup_only_files_have_no_text():
    with pytest.raises(NoExtractableText):
        parse(b"  \n\n\t \n", "blank.txt")
    with pytest.raises(NoExtractableText):
        parse(b"<html><body><script>only()</script></body></html>", "page.html")


def test_binary_posing_as_text():
    noise = bytes((i * 7919 + 13) % 256 for i in range(4096))
    with pytest.raises(UnsupportedFileType, match="binary data, not text"):
        parse(noise, "notes.txt")
    with pytest.raises(UnsupportedFileType, match="binary data, not text"):
        parse(b"looks like text until \x00\x01\x02 here", "notes.txt")


@pytest.mark.parametrize("data, name, looks_like", [
    (make_png(), "photo.txt", "a PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "scan.pdf", "a JPEG image"),
    (b"{\\rtf1\\ansi hello}", "letter.txt", "an RTF document"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "notes.txt", "a gzip archive"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "logo.txt", "an SVG image"),
])
def test_other_types_are_named_in_the_refusal(data, name, looks_like):
    with pytest.raises(UnsupportedFileType) as caught:
        detect_kind(data, name)
    assert caught.value.looks_like == looks_like


def test_office_formats_other_than_docx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedFileType, match="Excel workbook; save each sheet as CSV"):
        detect_kind(out.getvalue(), "sheet.docx")

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "zipped")
    with pytest.raises(UnsupportedFileType, match="a ZIP archive; unpack it"):
        detect_kind(out.getvalue(), "notes.zip")

    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    with pytest.raises(EncryptedFile, match="Office document is protected by a password"):
        detect_kind(ole, "secret.docx")  # Office wraps password-protected DOCX this way
    with pytest.raises(UnsupportedFileType, match="legacy Microsoft Office"):
        detect_kind(ole, "old.doc")


def test_legacy_8bit_text_is_refused_not_garbled():
    latin1 = "Café, crème brûlée, déjà vu, à la carte.\n".encode("latin-1") * 20
    with pytest.raises(UnsupportedEncoding, match="not valid UTF-8; it may be Windows-1252") as caught:
        parse(latin1, "menu.txt")
    assert "Save it as UTF-8" in caught.value.message


def test_utf16_without_bom_is_named():
    with pytest.raises(UnsupportedEncoding, match="UTF-16 without a byte-order mark"):
        parse("Plain words in UTF-16.".encode("utf-16-le"), "notes.txt")


def test_damaged_utf16_is_refused():
    with pytest.raises(UnsupportedEncoding, match="cut short or damaged"):
        parse(codecs.BOM_UTF16_LE + "abc".encode("utf-16-le") + b"\x00\xd8", "notes.txt")


def test_encrypted_pdf():
    data = make_encrypted_pdf([["Top secret."]], user_password="secret")
    assert detect_kind(data, "secret.pdf") == "pdf"
    with pytest.raises(EncryptedFile, match="protected by a password"):
        extract(data, "pdf")


def test_scanned_pdf_says_to_run_ocr():
    with pytest.raises(NoExtractableText, match="scanned images. Run OCR"):
        parse(make_image_only_pdf(), "scan.pdf")


def test_pdf_without_text_or_images():
    with pytest.raises(NoExtractableText) as caught:
        parse(make_pdf([[], []]), "blank.pdf")
    assert caught.value.message == "This PDF has no extractable text."


def test_truncated_pdf():
    data = make_pdf(PDF_PAGES, compress=True)
    with pytest.raises(CorruptFile, match="cut short"):
        parse(data[: len(data) // 2], "report.pdf")


def test_pdf_with_broken_structure():
    data = make_pdf(PDF_PAGES).replace(b"/Type /Pages", b"/Type /Broken").replace(b"xref", b"xxxx")
    with pytest.raises(CorruptFile):
        parse(data, "report.pdf")


def test_zip_bomb_posing_as_docx_is_refused_from_its_directory(zip_bomb):
    tracemalloc.start()
    try:
        with pytest.raises(SuspiciousArchive, match="inflate to 100 MB"):
            detect_kind(zip_bomb, "report.docx")
        with pytest.raises(SuspiciousArchive):
            extract(zip_bomb, "docx")  # also when called without detection
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Nothing was inflated: the archive itself is about 0.1 MB.
    assert peak < 5 * 1024 * 1024


def test_zip_bomb_caught_by_ratio_under_the_size_caps(zip_bomb):
    limits = ParseLimits(max_archive_part_bytes=1024 * 1024 * 1024, max_archive_bytes=1024 * 1024 * 1024)
    with pytest.raises(SuspiciousArchive, match="inflate 1,0[0-9]{2} times"):
        detect_kind(zip_bomb, "report.docx", limits=limits)


def test_lying_zip_directory_is_refused():
    with pytest.raises(SuspiciousArchive, match="4,096 MB"):
        parse(make_lying_zip_docx(), "report.docx")


def test_corrupt_docx():
    good = make_docx(build_handbook)
    source = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "word/document.xml":
                data = data[: len(data) // 2]
            archive.writestr(entry, data)
    with pytest.raises(CorruptFile, match="XML is malformed"):
        parse(out.getvalue(), "report.docx")
    with pytest.raises(CorruptFile):
        parse(good[: len(good) // 2], "report.docx")


def test_docx_entity_expansion_is_stopped():
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">{laughs}]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           "<w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>")
    source = zipfile.ZipFile(io.BytesIO(make_docx(lambda d: d.add_paragraph("x"))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            archive.writestr(entry, xml if entry.filename == "word/document.xml" else source.read(entry.filename))
    with pytest.raises(CorruptFile):
        parse(out.getvalue(), "laughs.docx")


def test_deeply_nested_html_is_refused_before_parsing():
    # 100,000 nested <div>s take Lexbor about 20 s; the guard answers at once.
    with pytest.raises(DocumentTooComplex, match="nested more than 512 levels"):
        parse(b"<html><body>" + b"<div>" * 100_000 + b"deep", "deep.html")
    with pytest.raises(DocumentTooComplex, match="end tags that close nothing"):
        parse(b"<b>" * 500 + b"</span>" * 60_000, "stray.html")


def test_nesting_guard_counts_implicitly_closed_tags_as_siblings():
    page = "<ul>" + "<li>item <p>para" * 5000 + "</ul>" + "<br><img src=x>" * 1000
    document = parse(page.encode(), "list.html")
    assert len(texts(document)) == 10_000


def test_html_with_too_many_tags():
    with pytest.raises(DocumentTooLarge, match="HTML tags"):
        parse(b"<p>x</p>" * 2000, "page.html", limits=ParseLimits(max_html_tags=1000))


def test_pdf_page_cap_is_checked_before_reading_pages():
    progress = []
    with pytest.raises(DocumentTooLarge, match="3 pages, more than the 2 allowed"):
        parse(make_pdf(PDF_PAGES), "big.pdf", limits=ParseLimits(max_pdf_pages=2), progress=progress.append)
    assert progress == []


def test_pdf_page_that_cannot_be_read_is_skipped_with_a_warning():
    data = make_pdf([["First page is fine."], ["Second page text."], ["Third page too."]])
    broken = data.replace(b"/Contents 7 0 R", b"/Contents 42   ")  # same length: offsets hold
    document = parse(broken, "partly.pdf")

    assert texts(document) == ["First page is fine.", "Third page too."]
    assert document.warnings == ["Page 2 could not be read and was skipped."]

    for number in (b"5", b"9"):
        broken = broken.replace(b"/Contents %s 0 R" % number, b"/Contents 42   ")
    with pytest.raises(CorruptFile, match="none of its pages can be read"):
        parse(broken, "broken.pdf")


def test_pdf_page_with_oversized_drawing_instructions_is_skipped_with_a_warning():
    pages = [["A short first page."], [f"Line {n} of a very long second page." for n in range(40)]]
    document = parse(make_pdf(pages), "drawing.pdf", limits=ParseLimits(max_pdf_page_content_bytes=500))

    assert texts(document) == ["A short first page."]
    assert document.warnings == ["Page 2 was skipped: its drawing instructions are too large to read."]


def test_pdf_reading_stops_at_its_time_budget():
    with pytest.raises(DocumentTooLarge, match="took more than 0 seconds \\(stopped at page 2 of 3\\)"):
        parse(make_pdf(PDF_PAGES), "slow.pdf", limits=ParseLimits(max_pdf_seconds=0))


@pytest.mark.parametrize("data, name", [
    (make_pdf(PDF_PAGES), "a.pdf"), (b"x" * 2000, "a.txt"), (b"<p>" + b"x" * 2000 + b"</p>", "a.html"),
    (make_docx(build_handbook), "a.docx"),
])
def test_text_cap(data, name):
    with pytest.raises(DocumentTooLarge, match="more than 100 characters"):
        parse(data, name, limits=ParseLimits(max_text_chars=100))


def test_default_limits_are_sane():
    assert DEFAULT_LIMITS.max_text_chars >= 25 * 1024 * 1024  # a full 25 MB text upload fits
    assert DEFAULT_LIMITS.max_archive_ratio < 1000  # zeros inflate about 1000x


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        extract(b"data", "exe")
