"""``flask chat init-provider``: create the default Local provider if there is no default."""
import click
from flask.cli import AppGroup

from webapp.extensions import db

chat_cli = AppGroup("chat", help="Chat: model providers.")


@chat_cli.command("init-provider")
def init_provider():
    """Make sure a default provider exists (Local: SmolLM2 in this process, price zero)."""
    from webapp.chat.provider_service import ensure_default_provider

    provider = ensure_default_provider()
    db.session.commit()
    click.echo(f"Default provider: {provider.name} ({provider.kind}, {provider.model})")
