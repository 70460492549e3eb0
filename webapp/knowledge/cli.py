"""``flask knowledge eval <store> [--min-recall X]``: a store's retrieval test questions, for deploy pipelines."""
import sys

import click
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.knowledge import evaluation
from webapp.stores.models import Store

knowledge_cli = AppGroup("knowledge", help="Knowledge: retrieval test questions.")


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
