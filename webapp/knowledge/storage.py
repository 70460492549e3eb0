"""Where uploaded files' bytes live: a directory, content-addressed by SHA-256.

A file's bytes are stored once under ``sha256/ab/cd/<hex digest>`` however many
rows (in however many stores) name them, so re-uploads cost nothing and the
bytes are removed only when no row uses them any more (``remove_unused``).
Keys are made here from digests and checked against a strict pattern before
any path is built: an uploader's file name never reaches the file system.

Writes go to a temporary file in the same directory and are moved into place
with ``os.replace``, so a reader never sees half a file and two workers
storing the same content at once both succeed.
"""
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from flask import current_app

log = logging.getLogger("webapp.knowledge")

_KEY = re.compile(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}")


class FileStorage:
    """Bytes by key under ``root`` (created on first write)."""

    def __init__(self, root):
        self.root = Path(root)

    @staticmethod
    def key_for(digest):
        """The key of content whose SHA-256 is ``digest`` (64 lower-case hex digits)."""
        key = f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
        if not _KEY.fullmatch(key):
            raise ValueError("not a SHA-256 hex digest")
        return key

    def path(self, key):
        """The file of ``key``. :raises ValueError: ``key`` is not one this storage makes."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError("not a storage key")
        return self.root.joinpath(*key.split("/"))

    def put(self, data):
        """Store ``data`` (bytes); returns ``(key, sha256 hex digest)``. Idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        key = self.key_for(digest)
        target = self.path(key)
        if target.exists() and target.stat().st_size == len(data):
            return key, digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        return key, digest

    def read(self, key):
        """The bytes of ``key``. :raises FileNotFoundError: they are gone."""
        return self.path(key).read_bytes()

    def exists(self, key):
        return self.path(key).is_file()

    def delete(self, key):
        """Remove ``key``'s bytes (nothing if already gone)."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass


def get_storage(app=None):
    """The storage configured by ``KNOWLEDGE_FILES_DIR`` (default ``instance/files``)."""
    app = app or current_app
    root = app.config.get("KNOWLEDGE_FILES_DIR") or os.path.join(app.instance_path, "files")
    return FileStorage(root)
