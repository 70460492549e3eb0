"""``flask stores bootstrap | list``."""
import click
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.pagination import paginate
from webapp.stores import reports, service
from webapp.stores.models import Document, Store

stores_cli = AppGroup("stores", help="Manage stores.")


@stores_cli.command("bootstrap")
def bootstrap():
    """On an empty installation, create the default store and the demo store 'research'."""
    try:
        created = service.bootstrap_stores(current_app.config["DEFAULT_STORE_NAME"])
    except service.StoreError as exc:
        raise click.ClickException(f"DEFAULT_STORE_NAME: {exc.message}") from exc
    db.session.commit()
    if not created:
        click.echo("Stores exist already; no bootstrap needed.")
    for store in created:
        click.echo(f"Created store '{store.name}'" + (" (default)" if store.is_default else ""))


@stores_cli.command("list")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Stores counted per round trip.")
def list_stores(batch):
    """List stores with their document and bound-user counts."""
    cursor, shown = None, 0
    while True:
        page = paginate(db.select(Store), order=[(Store.name, "asc"), (Store.id, "asc")], cursor=cursor, limit=batch)
        documents = reports.owned_counts(page.items, [Document])
        bound = reports.bound_user_counts(page.items)
        for store in page.items:
            flags = " ".join(f for f, on in (("default", store.is_default), ("inactive", not store.is_active)) if on)
            click.echo(f"{store.name:<32} {documents[store.id]['documents']:>6} document(s) "
                       f"{bound[store.id]:>4} bound user(s)  {flags}".rstrip())
        shown += len(page.items)
        if not page.has_next:
            break
        cursor = page.next_cursor
    if not shown:
        click.echo("No stores yet; run `flask stores bootstrap`.")
