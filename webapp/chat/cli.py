"""``flask chat init-provider``: create the default Local provider if there is no default.
``flask usage verify [--since DAY] [--repair]``: the usage rollup against the answers."""
from datetime import date

import click
from flask.cli import AppGroup

from webapp.chat import rollup
from webapp.extensions import db
from webapp.providers.service import ensure_default_provider

chat_cli = AppGroup("chat", help="Chat: model providers.")
usage_cli = AppGroup("usage", help="Usage: the rollup of answers per store, person, provider and day.")


@chat_cli.command("init-provider")
def init_provider():
    """Make sure a default provider exists (Local: SmolLM2 in this process, price zero)."""
    provider = ensure_default_provider()
    db.session.commit()
    click.echo(f"Default provider: {provider.name} ({provider.kind}, {provider.model})")


def _day(ctx, param, value):
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write the day as YYYY-MM-DD") from None


@usage_cli.command("verify")
@click.option("--since", callback=_day, help="First day to check (YYYY-MM-DD, in BILLING_TIMEZONE); default all.")
@click.option("--repair", is_flag=True, help="Rewrite the rollup rows that differ from the answers.")
def verify(since, repair):
    """Recompute the usage rollup from the answers and report (with --repair fix) every difference.

    Exits 1 when differences were found and not repaired.
    """
    report = rollup.verify(since, repair=repair)
    for (store_id, day, user_id, provider, currency), want, have in report.differences[:50]:
        click.echo(f"store {store_id} user {user_id} {provider or '-'} {currency} {day}: answers say "
                   f"{want[0]} answers, {want[1]}+{want[2]} tokens, {want[3]}; rollup has "
                   f"{have[0]}, {have[1]}+{have[2]}, {have[3]}")
    if len(report.differences) > 50:
        click.echo(f"… and {len(report.differences) - 50} more")
    if repair:
        db.session.commit()
        click.echo(f"Checked {report.groups} groups: {report.repaired} repaired.")
        return
    click.echo(f"Checked {report.groups} groups: {len(report.differences)} differ.")
    if report.differences:
        raise SystemExit(1)
