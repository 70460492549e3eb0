"""``flask casdoor sync``: the Casdoor sync, now."""
import click
from flask.cli import AppGroup

from webapp.casdoor import require_casdoor
from webapp.casdoor.errors import CasdoorError
from webapp.extensions import db
from webapp.identity.sync import run_sync, schedule_next

casdoor_cli = AppGroup("casdoor", help="Casdoor: apply what it says about people now.")


@casdoor_cli.command("sync")
def sync():
    """Read the organization's users from Casdoor and apply what changed (as the periodic job does)."""
    casdoor = require_casdoor()
    try:
        run = run_sync(casdoor, source="command")
    except CasdoorError as exc:
        db.session.commit()  # the failed run is kept as a record
        raise click.ClickException(f"The sync failed; nobody was signed out. {exc.message}") from None
    schedule_next()
    db.session.commit()
    click.echo(f"Casdoor sync: {run.users_read} user(s) read, {run.users_changed} changed."
               + (f" {run.error}" if run.error else ""))
