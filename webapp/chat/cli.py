"""``flask chat init-provider``: create the default Local provider if there is no default."""
import click
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.providers.service import ensure_default_provider

chat_cli = AppGroup("chat", help="Chat: model providers.")


@chat_cli.command("init-provider")
def init_provider():
    """Make sure a default provider exists (Local: SmolLM2 in this process, price zero)."""
    provider = ensure_default_provider()
    db.session.commit()
    click.echo(f"Default provider: {provider.name} ({provider.kind}, {provider.model})")
