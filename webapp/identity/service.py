"""Applying what Casdoor says now about a person: binding, groups, admin flag, access.

Webhooks and the sync read people from Casdoor's API with the application's
credentials and hand the answer to ``apply_casdoor_user``; a sign-out in
Casdoor reaches ``end_casdoor_sessions``. Both hold from the caller's commit
on, for every session and Bearer token of the person in every process: the
user row changes (its cache entry is dropped at commit, in the shared cache
too with CACHE_URL), sessions are revoked, and the time of the read is kept so
that a token minted earlier cannot bring its older claims back
(``webapp.auth.identities.check_casdoor_state``).

Services flush; the caller commits.
"""
import logging

import sqlalchemy as sa

from webapp.audit import casdoor_facts, record_casdoor_changes, record_event
from webapp.auth.current import CASDOOR_METHODS
from webapp.casdoor.claims import as_groups
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.sessions.models import Session
from webapp.sessions.service import revoke, revoke_user_sessions
from webapp.users.models import User
from webapp.users.signals import access_revoked

log = logging.getLogger("webapp.identity")

#: Local accounts looked at for one Casdoor name that Casdoor no longer knows (renamed or deleted).
MAX_ACCOUNTS_PER_NAME = 5


def blocked_reason(settings, record):
    """Why Casdoor's ``record`` (None: no such user) keeps the person out, or None."""
    if record is None or record.get("isDeleted"):
        return "deleted"
    if record.get("isForbidden"):
        return "forbidden"
    groups = as_groups(record.get("groups"))
    if settings.required_groups and not set(groups) & set(settings.required_groups):
        return "groups"
    return None


def casdoor_values(settings, user, record):
    """The columns of ``user`` that Casdoor's ``record`` decides."""
    values = {"casdoor_blocked_reason": blocked_reason(settings, record)}
    if record is not None:
        groups = as_groups(record.get("groups"))
        values.update(
            casdoor_homepage=str(record.get("homepage") or "") or None,
            casdoor_groups=groups,
            casdoor_is_admin=bool(record.get("isAdmin")) or bool(set(groups) & set(settings.admin_groups)),
            casdoor_org=str(record.get("owner") or user.casdoor_org or ""),
            casdoor_name=str(record.get("name") or user.casdoor_name or ""),
        )
    return values


def apply_casdoor_user(settings, user, record, *, source, now=None):
    """Make ``user`` hold what Casdoor's ``record`` says now; return the names of what changed.

    A deleted, forbidden or no-longer-admitted person loses every session (API
    tokens included) and their streaming answers stop, on every call: applying
    the same record twice (a retried webhook, the next sync) changes nothing more.

    :param record: Casdoor's answer to ``/api/get-user`` (None: Casdoor has no such user).
    :param source: "webhook", "sync" or "backchannel", for the log.
    """
    now = now or utcnow()
    before = casdoor_facts(user)
    values = casdoor_values(settings, user, record)
    changed = [name for name, value in values.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, values[name])
    if changed or user.casdoor_state_read_at is None:
        # Only a change moves the mark: tokens minted before it carry outdated claims.
        user.casdoor_state_read_at = now
    reason = values["casdoor_blocked_reason"]
    if "casdoor_blocked_reason" in changed and reason:
        record_event("access-revoked", user=user, source=source, reason=reason)
    if reason:
        ended = revoke_user_sessions(user, source=source, reason=f"Casdoor: {reason}")
        access_revoked.send(user.id, reason=reason)
        if ended or "casdoor_blocked_reason" in changed:
            log.warning("Casdoor %s %s (%s): access revoked, %d session(s) ended (%s)",
                        reason, user.username, user.casdoor_sub, ended, source)
    if changed:
        # Only a change is written (a sync reads thousands of unchanged people).
        db.session.flush()
        record_casdoor_changes(user, before, source=source)
        log.info("Applied Casdoor's record of %s from the %s: %s", user.username, source, ", ".join(changed))
    return changed


def end_casdoor_sessions(user, signed_out_at, *, source):
    """Single sign-out: ``user`` signed out in Casdoor at ``signed_out_at``.

    The sessions they opened through Casdoor before then end, and Casdoor tokens
    issued before then stop authenticating. Sessions opened later (a new
    sign-in) are kept, so a replayed sign-out changes nothing. Returns how many
    sessions ended.
    """
    signed_out_at = min(signed_out_at, utcnow())
    if user.casdoor_signed_out_at is None or user.casdoor_signed_out_at < signed_out_at:
        user.casdoor_signed_out_at = signed_out_at
    ended = revoke(sa.and_(Session.user_id == user.id, Session.auth_method.in_(sorted(CASDOOR_METHODS)),
                           Session.created_at <= signed_out_at))
    log.info("Casdoor sign-out of %s (%s): %d session(s) ended", user.username, source, ended)
    if ended:
        record_event("session-revoked", user=user, source=source, sessions=ended, reason="signed out in Casdoor")
    db.session.flush()
    return ended


def find_linked(subject):
    """The local account linked to Casdoor user id ``subject``, or None."""
    if not subject:
        return None
    return db.session.execute(sa.select(User).filter_by(casdoor_sub=str(subject))).scalar_one_or_none()


def read_named_user(api, owner, name):
    """``[(user, record)]``: the local accounts Casdoor's user ``owner/name`` concerns, each with
    what Casdoor says of it now (``record`` None: deleted).

    By name first; a name Casdoor no longer knows is looked up by the Casdoor id
    of the local accounts last seen under it (a rename, or a deletion).

    :raises CasdoorUnavailable, CasdoorError: Casdoor could not say (nothing is concluded).
    """
    record = api.get_user(name=name, owner=owner)
    if record is not None:
        user = find_linked(record.get("id"))
        return [(user, record)] if user is not None else []
    found = []
    candidates = db.session.execute(
        sa.select(User).where(User.casdoor_org == owner, User.casdoor_name == name, User.casdoor_sub.is_not(None))
        .order_by(User.id).limit(MAX_ACCOUNTS_PER_NAME)).scalars().all()
    for user in candidates:
        found.append((user, api.get_user(user_id=user.casdoor_sub, owner=owner)))
    return found


def read_user_by_id(api, owner, subject):
    """``[(user, record)]`` for Casdoor user id ``subject`` (empty: no local account)."""
    user = find_linked(subject)
    if user is None:
        return []
    return [(user, api.get_user(user_id=subject, owner=owner or user.casdoor_org))]
