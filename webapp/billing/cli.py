"""``flask billing reconcile | status``."""
import click
import sqlalchemy as sa
from flask.cli import AppGroup

from webapp.billing import reconcile as reconciling
from webapp.billing import service
from webapp.billing.models import FAILED, REFUSED, Charge
from webapp.casdoor.errors import CasdoorError
from webapp.extensions import db
from webapp.providers import service as provider_service

billing_cli = AppGroup("billing", help="Charges to Casdoor: delivery health and reconciliation.")


@billing_cli.command("reconcile")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Only charges answered (and transactions created) on or after this date (UTC).")
@click.option("--requeue", is_flag=True, help="Send missing charges again (delivery checks Casdoor first).")
def reconcile_command(since, requeue):
    """Compare the local ledger with Casdoor's transactions of this application.

    Reports missing, extra and mismatched rows (amounts to the last decimal);
    exits 1 when there is any difference.
    """
    client = service.transactions_client()
    if client is None:
        raise click.ClickException("Casdoor is not configured (CASDOOR_* settings): nothing to reconcile.")
    try:
        outcome = reconciling.reconcile(client, since=since, requeue=requeue)
    except CasdoorError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    for line in outcome.lines():
        click.echo(line)
    click.echo(f"Checked {outcome.checked} charge(s): {len(outcome.missing)} missing, {len(outcome.extra)} extra, "
               f"{len(outcome.mismatched)} mismatched" + (f", {outcome.requeued} requeued." if requeue else "."))
    if not outcome.is_clean:
        raise SystemExit(1)


@billing_cli.command("status")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Failed and refused charges listed.")
def status_command(limit):
    """Delivery health: pending charges and the oldest one's age, failures with reasons, last reconcile."""
    health = reconciling.health()
    click.echo(f"Pending: {health['pending']}" + (f" (oldest {health['oldest_pending_seconds']} s)"
                                                   if health["pending"] else ""))
    click.echo(f"Failed: {health['by_state'].get(FAILED, 0)}  Refused: {health['by_state'].get(REFUSED, 0)}")
    rows = db.session.execute(sa.select(Charge).where(Charge.state.in_([FAILED, REFUSED]))
                              .order_by(Charge.created_at.desc(), Charge.id.desc()).limit(limit)).scalars()
    for charge in rows:
        click.echo(f"  #{charge.id} {charge.state:<8} {charge.casdoor_user or '-'} {charge.amount} "
                   f"{charge.currency}: {charge.reason}")
    run = reconciling.last_run()
    if run is None:
        click.echo("Last reconcile: never (run `flask billing reconcile`).")
    else:
        click.echo(f"Last reconcile: {run.started_at:%Y-%m-%d %H:%M:%S} UTC, {run.checked} checked, "
                   f"{run.missing} missing, {run.extra} extra, {run.mismatched} mismatched.")


@billing_cli.command("demo-price")
def demo_price_command():
    """Development only: price the default local model with BILLING_DEMO_LOCAL_PRICES.

    ``make run`` sets ``BILLING_DEMO_LOCAL_PRICES="20/80"`` (input/output per
    million tokens) so that a first answer shows a charge in the development
    Casdoor. Nothing happens when the setting is empty (production) or when an
    administrator has already priced the model.
    """
    from decimal import Decimal, InvalidOperation

    from flask import current_app

    setting = current_app.config.get("BILLING_DEMO_LOCAL_PRICES", "")
    if not setting:
        click.echo("BILLING_DEMO_LOCAL_PRICES is not set: the local model keeps its price.")
        return
    try:
        input_price, output_price = (Decimal(part) for part in setting.split("/"))
    except (ValueError, InvalidOperation):
        raise click.ClickException("BILLING_DEMO_LOCAL_PRICES must be 'input/output' per million tokens, e.g. 20/80.") from None
    provider = provider_service.ensure_default_provider()
    if provider.kind != "local" or provider.input_price or provider.output_price:
        click.echo(f"The default provider '{provider.name}' keeps its price.")
        db.session.commit()
        return
    provider_service.update_provider(provider, {"input_price": input_price, "output_price": output_price})
    db.session.commit()
    click.echo(f"Demo price: '{provider.name}' costs {input_price} / {output_price} {provider.currency} per "
               "million input / output tokens (development only).")
