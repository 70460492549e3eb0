"""``flask knowledge migrate-storage``: copy the files' bytes to another storage, verified by hash."""
import hashlib

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.storage import StorageUnavailable, get_storage, storage_from_url

knowledge_cli = AppGroup("knowledge", help="Knowledge files: their storage.")

#: Keys read per query (keyset pagination over the distinct keys).
BATCH = 500


def _keys():
    """Every storage key a file row names, once each, in key order, a batch at a time."""
    after = ""
    while True:
        batch = db.session.execute(
            sa.select(KnowledgeFile.storage_key).where(KnowledgeFile.storage_key > after).distinct()
            .order_by(KnowledgeFile.storage_key).limit(BATCH)).scalars().all()
        if not batch:
            return
        yield from batch
        after = batch[-1]


@knowledge_cli.command("migrate-storage")
@click.option("--to", "target_url", required=True, help="The new KNOWLEDGE_STORAGE_URL, e.g. s3://bucket/prefix.")
@click.option("--endpoint-url", default=None,
              help="The S3-compatible server (default KNOWLEDGE_S3_ENDPOINT_URL).")
def migrate_storage(target_url, endpoint_url):
    """Copy every file's bytes from the current storage to TARGET, checking each SHA-256.

    Idempotent and resumable: bytes already in the target are skipped, so run it
    again after an interruption, and once more after every host has been switched
    to the new KNOWLEDGE_STORAGE_URL (it copies what was uploaded meanwhile).
    Nothing is removed from the current storage.
    """
    app = current_app._get_current_object()
    source = get_storage(app)
    try:
        target = storage_from_url(target_url, endpoint_url=endpoint_url or app.config["KNOWLEDGE_S3_ENDPOINT_URL"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    copied = present = missing = 0
    try:
        target.check()
        for key in _keys():
            if target.exists(key):
                present += 1
                continue
            try:
                data = source.read(key)
            except FileNotFoundError:
                missing += 1
                click.echo(f"missing in the current storage: {key}", err=True)
                continue
            digest = key.rsplit("/", 1)[1]
            if hashlib.sha256(data).hexdigest() != digest:
                raise click.ClickException(f"{key}: the stored bytes do not match their SHA-256; not copied.")
            stored_key, _ = target.put(data)
            if stored_key != key or hashlib.sha256(target.read(key)).hexdigest() != digest:
                raise click.ClickException(f"{key}: the copy does not match its SHA-256.")
            copied += 1
    except StorageUnavailable as exc:
        raise click.ClickException(f"The storage did not answer ({exc.detail}); run the command again "
                                   f"to resume (copied so far: {copied}).") from None
    click.echo(f"Copied {copied}, already there {present}, missing {missing}.")
    if missing:
        raise SystemExit(1)
