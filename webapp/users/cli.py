"""``flask users create-admin | bootstrap | list``."""
import secrets

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.users.errors import SignupError
from webapp.users.models import User
from webapp.users.service import create_local_user

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email, username, password):
    """Create a local administrator account."""
    try:
        user = create_local_user(username, email, password, is_admin=True)
    except SignupError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"Created administrator {user.username} <{user.email}>.")


@users_cli.command("bootstrap")
def bootstrap():
    """On first run, create the first administrator (credentials printed once)."""
    if db.session.execute(db.select(User.id).limit(1)).first() is not None:
        click.echo("Users exist already; no bootstrap needed.")
        return
    email = current_app.config["BOOTSTRAP_ADMIN_EMAIL"] or "admin@storehouse.local"
    password = current_app.config["BOOTSTRAP_ADMIN_PASSWORD"]
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    user = create_local_user("admin", email, password, "Administrator", is_admin=True)
    db.session.commit()
    click.echo("=" * 60)
    click.echo("First administrator created:")
    click.echo(f"  email:    {user.email}")
    if generated:
        # Printed once, on purpose: it is nowhere else.
        click.echo(f"  password: {password}")
        click.echo("Write the password down now; it will not be shown again.")
    else:
        click.echo("  password: (from BOOTSTRAP_ADMIN_PASSWORD)")
    click.echo("=" * 60)


@users_cli.command("list")
def list_users():
    """List accounts with their sign-in methods."""
    for user in db.session.execute(db.select(User).order_by(User.id)).scalars():
        methods = [m for m, on in (("password", user.has_password), ("casdoor", user.casdoor_sub)) if on]
        flags = " admin" if user.is_effective_admin else ""
        click.echo(f"{user.id:>5}  {user.username:<24} {user.email or '-':<32} "
                   f"{','.join(methods) or '-':<18}{flags}")
