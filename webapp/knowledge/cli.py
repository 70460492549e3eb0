"""``flask knowledge``: the files' storage and a store's retrieval test questions.

* ``migrate-storage --to URL``  copy the files' bytes to another storage, verified by hash;
* ``eval <store> [--min-recall X]``  run a store's retrieval test questions (for deploy pipelines).
"""
import hashlib
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.knowledge import evaluation
from webapp.knowledge.models import KnowledgeFile
from webapp.knowledge.storage import StorageUnavailable, get_storage, storage_from_url
from webapp.stores.models import Store

knowledge_cli = AppGroup("knowledge", help="Knowledge: the files' storage, retrieval test questions.")

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



@knowledge_cli.command("eval")
@click.argument("store_name")
@click.option("--min-recall", type=click.FloatRange(0, 1), default=None,
              help="Exit 1 when hybrid Recall@5 is below this (0..1).")
def eval_command(store_name, min_recall):
    """Run STORE_NAME's test questions; print Recall@5 and MRR@10 of full text, vectors and hybrid.

    The run is kept in the store's history (the Retrieval page shows it).
    """
    store = db.session.execute(db.select(Store).filter_by(name=store_name)).scalar_one_or_none()
    if store is None:
        raise click.ClickException(f"There is no store named '{store_name}'.")
    try:
        run = evaluation.run_questions(store)
    except evaluation.QuestionRefused as refusal:
        raise click.ClickException(f"{store_name}: {refusal.message}") from None
    db.session.commit()
    click.echo(f"{run.question_count} questions in {store_name}")
    click.echo(f"{'ranking':<10} {'Recall@5':>9} {'MRR@10':>8}")
    for mode in evaluation.MODES:
        metrics = run.metrics[mode]
        click.echo(f"{mode:<10} {metrics['recall_at_5']:>9.2f} {metrics['mrr_at_10']:>8.2f}")
    recall = run.metrics["hybrid"]["recall_at_5"]
    if min_recall is not None and recall < min_recall:
        click.echo(f"Hybrid Recall@5 {recall:.2f} is below {min_recall:.2f}.", err=True)
        sys.exit(1)
