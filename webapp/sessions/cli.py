"""``flask sessions list | revoke | purge``."""
from datetime import timedelta

import click
from flask.cli import AppGroup

from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.sessions import service
from webapp.sessions.models import Session
from webapp.users.models import User
from webapp.users.service import find_user_by_username

sessions_cli = AppGroup("sessions", help="List and revoke sign-in sessions.")


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
        user = find_user_by_username(username)
        if user is None:
            raise click.ClickException(f"No user named {username!r}.")
        condition = db.and_(condition, Session.user_id == user.id)
    if session_ids:
        condition = db.and_(condition, Session.id.in_(session_ids))
    count = service.revoke(condition)
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
