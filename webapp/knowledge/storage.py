"""Where uploaded files' bytes live: a directory or an S3-compatible bucket, content-addressed by SHA-256.

``KNOWLEDGE_STORAGE_URL`` chooses: ``file:///path`` (the default: ``KNOWLEDGE_FILES_DIR``,
else ``instance/files``; one host only) or ``s3://bucket/prefix`` (MinIO, Ceph, Garage,
R2, AWS..., at ``KNOWLEDGE_S3_ENDPOINT_URL``, credentials from the usual AWS variables;
any number of hosts). Both offer the same small interface: ``key_for``, ``put``,
``read``, ``exists``, ``delete``, ``iter_bytes`` (a download, a piece at a time),
``download_url`` (a short-lived presigned URL, or None) and ``check`` (readiness).

A file's bytes are stored once under ``sha256/ab/cd/<hex digest>`` however many
rows (in however many stores) name them, so re-uploads cost nothing and the
bytes are removed only when no row uses them any more (``remove_unused``).
Keys are made here from digests and checked against a strict pattern before
any path or object name is built: an uploader's file name never reaches either.

Nothing is ever half-written: a directory write goes to a temporary file moved
into place with ``os.replace``; an S3 PUT is atomic (the object appears whole or
not at all). Two workers storing the same content at once both succeed.

An unreachable object store raises ``StorageUnavailable`` (503): an upload then
saves no row, and an indexing job retries with the reason.
"""
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from flask import current_app

from webapp.core.errors import StorehouseError

log = logging.getLogger("webapp.knowledge")

_KEY = re.compile(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}")
#: Bytes handed to a download at a time.
CHUNK_BYTES = 256 * 1024


class StorageUnavailable(StorehouseError):
    """The object store did not answer (or refused): nothing was written."""

    status_code = 503
    error = "storage_unavailable"

    def __init__(self, detail):
        super().__init__("The file storage is unavailable right now, so nothing was saved. Try again in a "
                         "minute; if it keeps happening, tell your administrator.")
        self.detail = detail


def _check_key(key):
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError("not a storage key")
    return key


def key_for(digest):
    """The key of content whose SHA-256 is ``digest`` (64 lower-case hex digits)."""
    key = f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    if not _KEY.fullmatch(key):
        raise ValueError("not a SHA-256 hex digest")
    return key


class FileStorage:
    """Bytes by key under ``root`` (created on first write)."""

    url_scheme = "file"

    def __init__(self, root):
        self.root = Path(root)

    key_for = staticmethod(key_for)

    def path(self, key):
        """The file of ``key``. :raises ValueError: ``key`` is not one this storage makes."""
        return self.root.joinpath(*_check_key(key).split("/"))

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


    def iter_bytes(self, key):
        """The bytes of ``key`` a piece at a time. :raises FileNotFoundError: they are gone."""
        handle = self.path(key).open("rb")

        def pieces():
            with handle:
                while piece := handle.read(CHUNK_BYTES):
                    yield piece

        return pieces()

    def download_url(self, key, filename, content_type):
        return None  # served by the app

    def check(self):
        """Readiness: the directory exists or can be made, and is writable."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is not writable")

    def keys(self):
        """Every stored key (for ``flask knowledge migrate-storage``)."""
        for path in sorted(self.root.glob("sha256/*/*/*")):
            key = "/".join(path.relative_to(self.root).parts)
            if _KEY.fullmatch(key):
                yield key


class S3Storage:
    """Bytes by key in ``bucket`` under ``prefix``, through boto3 (any S3-compatible server).

    :param endpoint_url: the server (None: AWS). Credentials and region come from
        boto3's usual sources (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ...).
    :param presigned_seconds: lifetime of a download URL; 0 = downloads go through the app.
    """

    url_scheme = "s3"
    key_for = staticmethod(key_for)

    def __init__(self, bucket, prefix="", *, endpoint_url=None, presigned_seconds=0, timeout=10.0):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.presigned_seconds = presigned_seconds
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, config=Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"},
            signature_version="s3v4"))

    def name(self, key):
        key = _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, what)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(kwargs.get("Key", "")) from None
            raise StorageUnavailable(f"{what}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{what}: {type(exc).__name__}") from exc

    def put(self, data):
        """Store ``data`` (bytes); returns ``(key, sha256 hex digest)``. Idempotent.

        :raises StorageUnavailable: the store did not take it (nothing is stored).
        """
        digest = hashlib.sha256(data).hexdigest()
        key = key_for(digest)
        if not self.exists(key):
            self._call("put_object", Key=self.name(key), Body=data, ContentLength=len(data),
                       ChecksumSHA256=_b64(digest), Metadata={"sha256": digest})
        return key, digest

    def read(self, key):
        return self._call("get_object", Key=self.name(key))["Body"].read()

    def exists(self, key):
        try:
            self._call("head_object", Key=self.name(key))
        except FileNotFoundError:
            return False
        return True

    def delete(self, key):
        self._call("delete_object", Key=self.name(key))

    def iter_bytes(self, key):
        body = self._call("get_object", Key=self.name(key))["Body"]

        def pieces():
            try:
                yield from body.iter_chunks(CHUNK_BYTES)
            finally:
                body.close()

        return pieces()

    def download_url(self, key, filename, content_type):
        """A presigned GET (``KNOWLEDGE_S3_PRESIGNED_DOWNLOADS``) that saves as ``filename``, else None."""
        if not self.presigned_seconds:
            return None
        from urllib.parse import quote

        return self.client.generate_presigned_url("get_object", ExpiresIn=self.presigned_seconds, Params={
            "Bucket": self.bucket, "Key": self.name(key), "ResponseContentType": content_type,
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}"})

    def check(self):
        self._call("head_bucket")

    def keys(self):
        paginator = self.client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start + "sha256/"):
            for item in page.get("Contents", []):
                key = item["Key"][len(start):]
                if _KEY.fullmatch(key):
                    yield key


def _b64(hex_digest):
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def storage_from_url(url, *, files_dir="", endpoint_url="", presigned_seconds=0):
    """The storage a ``KNOWLEDGE_STORAGE_URL`` names. :raises ValueError: not file:// or s3://."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStorage(unquote(parsed.path) or files_dir)
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Storage(parsed.netloc, unquote(parsed.path), endpoint_url=endpoint_url,
                         presigned_seconds=presigned_seconds)
    raise ValueError(f"KNOWLEDGE_STORAGE_URL must be file:///path or s3://bucket/prefix, not {url!r}")


def get_storage(app=None):
    """The storage configured by ``KNOWLEDGE_STORAGE_URL`` (one per app; boto3 clients are thread-safe)."""
    app = app or current_app
    storage = app.extensions.get("knowledge_storage")
    if storage is None:
        files_dir = app.config.get("KNOWLEDGE_FILES_DIR") or os.path.join(app.instance_path, "files")
        url = app.config.get("KNOWLEDGE_STORAGE_URL") or f"file://{files_dir}"
        storage = app.extensions["knowledge_storage"] = storage_from_url(
            url, files_dir=files_dir, endpoint_url=app.config.get("KNOWLEDGE_S3_ENDPOINT_URL", ""),
            presigned_seconds=app.config.get("KNOWLEDGE_S3_PRESIGNED_SECONDS", 0)
            if app.config.get("KNOWLEDGE_S3_PRESIGNED_DOWNLOADS") else 0)
    return storage
