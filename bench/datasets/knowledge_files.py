"""Builders of small documents for the knowledge tests and the indexing benchmark.

Every fixture is made here, at test time, from code: nothing is downloaded and
no binary file is checked in. PDFs are written byte by byte (a handful of
objects and an exact cross-reference table), so a test can say precisely what
a page holds; DOCX files come from python-docx, the way a person's Word file
would be saved.
"""
import io
import struct
import zipfile
import zlib

# --- PDF ---------------------------------------------------------------------


def _pdf_string(text):
    """A PDF literal string in WinAnsi (cp1252) with the three special characters escaped."""
    out = []
    for byte in text.encode("cp1252"):
        char = chr(byte)
        if char in "\\()":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def _pdf_page_content(lines):
    """A content stream drawing ``lines``: each is ``text`` or ``(text, font_size)``.

    Lines run down the page from the top; a blank string leaves a paragraph gap.
    """
    ops = ["BT"]
    y = 760.0
    for line in lines:
        text, size = (line, 11) if isinstance(line, str) else line
        if not text:
            y -= 14
            continue
        ops.append(f"/F1 {size} Tf 1 0 0 1 72 {y:.1f} Tm {_pdf_string(text)} Tj")
        y -= size * 1.3
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def _assemble_pdf(objects):
    """Serialise numbered objects (1-based, object 1 is the catalog) with a correct xref."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode())
    return out.getvalue()


def _stream(data, *, compress, extra=b""):
    if compress:
        data = zlib.compress(data)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def make_pdf(pages, *, compress=False):
    """A PDF whose pages draw the given lines in Helvetica.

    :param pages: one list per page; each item is ``text`` (11 pt) or
        ``(text, font_size)``, and ``""`` leaves a gap (a new paragraph).
    :param compress: Flate-compress the content streams, as most writers do.
    """
    page_numbers = [4 + 2 * i for i in range(len(pages))]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            b" ".join(b"%d 0 R" % n for n in page_numbers), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number, lines in zip(page_numbers, pages, strict=True):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (number + 1))
        objects.append(_stream(_pdf_page_content(lines), compress=compress))
    return _assemble_pdf(objects)


def make_image_only_pdf(page_count=2):
    """A "scanned" PDF: each page paints a small grey image and holds no text at all."""
    side = 16
    pixels = bytes((x * 16) % 256 for x in range(side * side))
    page_numbers = [4 + 2 * i for i in range(page_count)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            b" ".join(b"%d 0 R" % n for n in page_numbers), page_count),
        _stream(pixels, compress=True, extra=b" /Type /XObject /Subtype /Image /Width %d /Height %d "
                b"/ColorSpace /DeviceGray /BitsPerComponent 8" % (side, side)),
    ]
    for number in page_numbers:
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /XObject << /Im1 3 0 R >> >> /Contents %d 0 R >>" % (number + 1))
        objects.append(_stream(b"q 468 0 0 648 72 72 cm /Im1 Do Q", compress=False))
    return _assemble_pdf(objects)


def make_encrypted_pdf(pages, *, user_password="secret", owner_password="owner"):
    """The PDF of :func:`make_pdf`, encrypted (AES-256) by pypdf's writer.

    With ``user_password=""`` anyone may open it (only permissions are
    restricted), which is how many "protected" PDFs in the wild are made.
    """
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- DOCX and ZIP ------------------------------------------------------------


def make_docx(build):
    """A DOCX written by python-docx; ``build(document)`` adds the content."""
    import docx

    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb_docx(uncompressed_mb=200):
    """A ZIP posing as DOCX whose ``word/document.xml`` inflates to ``uncompressed_mb`` of zeros.

    Written by streaming compressed zeros, 1 MB at a time, so building it costs
    well under a second and a few MB of memory; the archive is about 0.2 MB.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = bytes(1024 * 1024)
            for _ in range(uncompressed_mb):
                member.write(block)
    return out.getvalue()


def make_lying_zip_docx(declared_size=10 * 1024 ** 3):
    """A DOCX-shaped ZIP whose central directory *declares* an absurd uncompressed size.

    The entry itself is tiny: only the directory numbers are rewritten, which
    is what an attacker controls and what must be refused before any reading.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", "<w:document/>")
    data = bytearray(out.getvalue())
    # Central directory record of word/document.xml: signature PK\1\2, the
    # uncompressed size sits 24 bytes in. Sizes over 4 GB need ZIP64, so cap
    # the 32-bit field at its largest plain value.
    entry = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, entry + 24, min(declared_size, 0xFFFFFFFE))
    return bytes(data)


# --- images and text ---------------------------------------------------------


def make_png(width=2, height=2):
    """A valid, tiny greyscale PNG."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes(width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


#: Plain English prose for benchmarks and long-text tests (deterministic, no randomness).
_WORDS = ("the store keeps every file that a person uploads and indexes its text so that a later "
          "question can find the right passage quickly while the chat quotes it with a citation "
          "pointing at the page and heading where the answer was found in the original document "
          "configuration installation network storage release version server client request").split()


def make_prose(approx_bytes, *, words_per_sentence=17, sentences_per_paragraph=6):
    """Deterministic English-like prose of about ``approx_bytes`` bytes, in paragraphs."""
    paragraphs = []
    size = 0
    i = 0
    while size < approx_bytes:
        sentences = []
        for _ in range(sentences_per_paragraph):
            words = [_WORDS[(i * 7 + k * 13 + k * k) % len(_WORDS)] for k in range(words_per_sentence)]
            i += 1
            sentence = " ".join(words)
            sentences.append(sentence[0].upper() + sentence[1:] + ("." if i % 5 else "?"))
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)
