"""What the knowledge pages and the API read from a request the same way.

Uploads: the multipart field ``file`` (several allowed), each read within the
file limit; a search's ``q`` and ``k``. Files are taken one by one and each is
accepted or refused on its own: one bad file never stops the others.
"""
from dataclasses import dataclass, field

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden

from webapp.core.errors import StorehouseError
from webapp.core.text import text_problem
from webapp.knowledge import service
from webapp.knowledge.errors import FileRefused, KnowledgeError
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.search import MAX_K
from webapp.stores.scoping import get_in_store_or_404

#: The multipart field holding the files.
FILE_FIELD = "file"


class NoFiles(KnowledgeError):
    error = "no_files"

    def __init__(self):
        super().__init__(f"Choose at least one file to upload (multipart field '{FILE_FIELD}').")


class TooManyFiles(KnowledgeError):
    error = "too_many_files"

    def __init__(self, count, limit):
        super().__init__(f"{count} files were sent at once; send at most {limit} per upload.")


@dataclass
class UploadOutcome:
    #: ``(file, is_new)`` per accepted file, in the order sent.
    accepted: list = field(default_factory=list)
    #: ``(name, FileRefused)`` per refused file.
    refused: list = field(default_factory=list)


def upload_files(store, user):
    """Add every file of the request to ``store``; flushes (the view commits).

    :raises NoFiles, TooManyFiles: nothing was added.
    """
    uploads = [upload for upload in request.files.getlist(FILE_FIELD) if upload is not None]
    if not uploads:
        raise NoFiles()
    limit = current_app.config["KNOWLEDGE_MAX_FILES_PER_UPLOAD"]
    if len(uploads) > limit:
        raise TooManyFiles(len(uploads), limit)
    outcome = UploadOutcome()
    max_bytes = service.max_file_bytes()
    for upload in uploads:
        name = service.clean_name(upload.filename)
        try:
            data = upload.stream.read(max_bytes + 1)
            if len(data) > max_bytes:
                upload.stream.seek(0, 2)
                raise service.FileTooLarge(upload.stream.tell(), max_bytes)
            outcome.accepted.append(service.add_file(store, user, name, data))
        except FileRefused as refusal:
            outcome.refused.append((name, refusal))
    return outcome


def changeable_file(file_id):
    """The current store's file ``file_id`` if ``g.user`` may delete it (uploader or administrator).

    :raises NotFound: not in this store. :raises Forbidden:
    """
    file = get_in_store_or_404(KnowledgeFile, file_id)
    if not can_change_file(g.user, file):
        raise Forbidden("Only the person who uploaded a file or an administrator can delete it.")
    return file


def can_change_file(user, file):
    return bool(user and (user.is_effective_admin or file.uploaded_by_id == user.id))


class InvalidSearch(StorehouseError):
    status_code = 400
    error = "invalid_search"


def search_arguments(default_k):
    """``(q, k)`` of the request: ``q`` any text (control characters dropped, the search
    copes with the rest), ``k`` a whole number (capped at ``MAX_K``).

    :raises InvalidSearch: ``k`` is not a whole number of at least 1.
    """
    query = request.args.get("q", "")
    if text_problem(query):
        query = "".join(char if char.isprintable() else " " for char in query)
    raw = request.args.get("k", "")
    if raw == "":
        return query, default_k
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if k < 1:
        raise InvalidSearch(f"'k' must be a whole number from 1 to {MAX_K} (got {raw[:20]!r}).")
    return query, min(k, MAX_K)
