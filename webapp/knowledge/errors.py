"""Why a file cannot be indexed, in words a person can act on.

Every refusal of ``webapp.knowledge.parsing`` is a :class:`FileRefused`: the
indexing job stores ``error`` (a stable slug) and ``message`` on the file row
and marks it failed; it is the file's fault, so retrying will not help. Any
other exception out of parsing is a bug, and the job may retry it.

Messages speak of "this file" rather than naming it: the name is shown next to
the message anyway, and it is uploader-controlled text.
"""
from webapp.core.errors import StorehouseError

#: What the upload page accepts; repeated in refusals so the person knows what would work.
SUPPORTED = "plain text, Markdown, HTML, PDF, DOCX or CSV"


class KnowledgeError(StorehouseError):
    """Base of the knowledge feature's errors."""

    status_code = 400
    error = "knowledge_error"


class FileRefused(KnowledgeError):
    """The file itself cannot be indexed (its content is the problem, not the server)."""

    status_code = 422
    error = "file_refused"


class EmptyFile(FileRefused):
    error = "empty_file"

    def __init__(self):
        super().__init__("This file is empty (0 bytes). Check that the upload is the file you meant.")


class UnsupportedFileType(FileRefused):
    """The bytes are not a type we index, whatever the extension says."""

    status_code = 415
    error = "unsupported_file_type"

    def __init__(self, looks_like, *, advice=None):
        self.looks_like = looks_like
        super().__init__(f"This file looks like {looks_like}; {advice or 'upload ' + SUPPORTED + ' instead'}.")


class UnsupportedEncoding(FileRefused):
    """Text we could only read as mojibake: refused rather than indexed wrong."""

    error = "unsupported_encoding"

    def __init__(self, detail):
        super().__init__(
            f"This text file is not in an encoding Storehouse reads ({detail}). "
            "Save it as UTF-8 (or UTF-16 with a byte-order mark) and upload it again."
        )


class EncryptedFile(FileRefused):
    error = "encrypted_file"

    def __init__(self, what="PDF"):
        super().__init__(
            f"This {what} is protected by a password, so its text cannot be read. "
            "Save an unprotected copy and upload that."
        )


class CorruptFile(FileRefused):
    error = "corrupt_file"

    def __init__(self, what, detail=None):
        reason = f" ({detail})" if detail else ""
        super().__init__(
            f"This {what} is damaged or incomplete{reason}. Open it on your computer to check it, "
            "then upload it again; an interrupted download or copy is the usual cause."
        )


class NoExtractableText(FileRefused):
    error = "no_extractable_text"

    def __init__(self, message=None):
        super().__init__(message or "This file has no extractable text.")


class SuspiciousArchive(FileRefused):
    """A ZIP-based file (DOCX) that would inflate to far more than any real document."""

    error = "suspicious_archive"

    def __init__(self, detail):
        super().__init__(
            f"This file was refused because its compressed contents are implausible ({detail}); "
            "it looks like a decompression bomb rather than a document. If it is a real document, "
            "open it in Word or LibreOffice and save it again."
        )


class DocumentTooLarge(FileRefused):
    """Beyond a parsing limit (pages, text length, elements): refused before memory or time run out."""

    status_code = 413
    error = "document_too_large"

    def __init__(self, detail):
        super().__init__(f"This document is too large to index: {detail}. Split it into smaller files.")


class DocumentTooComplex(FileRefused):
    """Nesting no real document has (thousands of levels of HTML elements)."""

    error = "document_too_complex"

    def __init__(self, detail):
        super().__init__(
            f"This document is structured in a way Storehouse will not index: {detail}. "
            "Save it as plain text or PDF and upload that."
        )
