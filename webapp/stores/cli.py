"""``flask stores bootstrap | list``."""
import click
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.stores import scoping, service
from webapp.stores.models import Document, Store

stores_cli = AppGroup("stores", help="Manage stores.")


@stores_cli.command("bootstrap")
def bootstrap():
    """On an empty installation, create the default store and the demo store 'research'."""
    created = service.bootstrap_stores(current_app.config["DEFAULT_STORE_NAME"])
    db.session.commit()
    if not created:
        click.echo("Stores exist already; no bootstrap needed.")
    for store in created:
        click.echo(f"Created store '{store.name}'" + (" (default)" if store.is_default else ""))


@stores_cli.command("list")
def list_stores():
    """List stores with their document and bound-user counts."""
    stores = db.session.execute(db.select(Store).order_by(Store.name)).scalars().all()
    if not stores:
        click.echo("No stores yet; run `flask stores bootstrap`.")
    documents = scoping.counts_by_store(Document)
    bound = scoping.bound_user_counts()
    for store in stores:
        flags = " ".join(f for f, on in (("default", store.is_default), ("inactive", not store.is_active)) if on)
        click.echo(f"{store.name:<32} {documents.get(store.id, 0):>6} document(s) "
                   f"{bound.get(store.name, 0):>4} bound user(s)  {flags}".rstrip())
