"""``flask users ...`` and ``flask sessions ...`` commands."""
import secrets
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.auth import service
from webapp.extensions import db
from webapp.sessions import service as session_service
from webapp.sessions.models import Session
from webapp.users.models import User, utcnow

users_cli = AppGroup("users", help="Manage user accounts.")
sessions_cli = AppGroup("sessions", help="List and revoke sign-in sessions.")


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email, username, password):
    """Create a local administrator account."""
    from webapp.auth.errors import SignupError

    try:
        user = service.create_local_user(username, email, password, is_admin=True)
    except SignupError as exc:
        raise click.ClickException(exc.message)
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
    user = service.create_local_user("admin", email, password, "Administrator", is_admin=True)
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


@sessions_cli.command("list")
@click.option("--user", "username", help="Only this user's sessions.")
def list_sessions(username):
    """List active sessions."""
    query = db.select(Session).filter(Session.revoked_at.is_(None), Session.user_id.is_not(None))
    if username:
        query = query.join(User).filter(User.username == username)
    for row in db.session.execute(query.order_by(Session.id)).scalars():
        if row.is_active:
            click.echo(f"{row.id:>6}  {row.user.username:<24} {row.auth_method or '-':<9} "
                       f"last seen {row.last_seen_at:%Y-%m-%d %H:%M}  {row.ip}")


@sessions_cli.command("revoke")
@click.argument("session_ids", nargs=-1, type=int)
@click.option("--user", "username", help="Revoke every session of this user.")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every session.")
def revoke_sessions(session_ids, username, revoke_all):
    """Revoke sessions by id, by user, or all of them."""
    if not (session_ids or username or revoke_all):
        raise click.UsageError("Name session ids, --user USERNAME or --all.")
    condition = db.true()
    if username:
        user = service.find_user_by_username(username)
        if user is None:
            raise click.ClickException(f"No user named {username!r}.")
        condition = db.and_(condition, Session.user_id == user.id)
    if session_ids:
        condition = db.and_(condition, Session.id.in_(session_ids))
    count = session_service.revoke(condition)
    db.session.commit()
    click.echo(f"Revoked {count} session(s).")


@sessions_cli.command("purge")
@click.option("--anonymous-after", default=1, show_default=True, help="Days an unused anonymous session is kept.")
def purge_sessions(anonymous_after):
    """Delete revoked and expired sessions, and anonymous ones unused for a while.

    Anonymous rows hold only a CSRF token or an unfinished sign-in; run this
    daily (cron) so that visitors who never sign in do not pile up.
    """
    now = utcnow()
    stale = now - timedelta(days=anonymous_after)
    result = db.session.execute(
        db.delete(Session).where(
            (Session.revoked_at.is_not(None))
            | (Session.expires_at < now)
            | (Session.user_id.is_(None) & (Session.last_seen_at < stale))
        )
    )
    db.session.commit()
    click.echo(f"Deleted {result.rowcount} session(s).")


keys_cli = AppGroup("keys", help="Secrets encrypted at rest.")


@keys_cli.command("rotate")
def rotate_keys():
    """Re-encrypt every stored secret under the current SECRET_KEY (after moving the old
    key to SECRET_KEY_FALLBACKS); the fallback can go once this reports nothing unreadable."""
    from webapp import crypto
    from webapp.sessions import service as _sessions  # noqa: F401  (registers its rotator)

    problems = 0
    for name, rotate in crypto.rotators():
        rotated, unreadable = rotate()
        problems += unreadable
        click.echo(f"{name}: {rotated} re-encrypted" + (f", {unreadable} unreadable with any key" if unreadable else ""))
    db.session.commit()
    if problems:
        raise click.ClickException(f"{problems} value(s) could not be read with SECRET_KEY or its fallbacks; "
                                   "keep the fallbacks until you know why.")


def init_app(app):
    app.cli.add_command(users_cli)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(keys_cli)
