"""The only code that maps a provider identity to a Storehouse user.

Rules:
- a known ``casdoor_sub`` signs in as its user;
- an unknown one whose email or username matches a local account is never
  linked silently (whoever controls a Casdoor record with that email would get
  the account): ``LinkRequired`` asks the person to prove the local account
  (its password) or to create a separate one;
- otherwise a new account is provisioned. The username is set once and never
  rewritten from claims.

Services flush; the caller commits.
"""
import logging
import re
from datetime import UTC, timedelta

from sqlalchemy.exc import IntegrityError

from webapp.audit import casdoor_facts, record_casdoor_changes, record_event
from webapp.auth.errors import AccountDisabled
from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import (
    AccessRevoked,
    GroupGateError,
    IdentityConflict,
    SignedOutAtCasdoor,
    SignInError,
)
from webapp.core.clock import utcnow
from webapp.database import savepoint
from webapp.extensions import db
from webapp.users import service as accounts
from webapp.users.models import User

log = logging.getLogger("webapp.auth.casdoor")

PROFILE_SYNC_INTERVAL = timedelta(minutes=5)
#: A fresh Bearer verification refreshes ``casdoor_last_login_at`` at most this often
#: (every write would queue concurrent requests of one user on the row lock).
LOGIN_TOUCH_INTERVAL = timedelta(minutes=5)


class LinkRequired(Exception):
    """An unknown Casdoor identity matches an existing local account."""

    def __init__(self, identity, candidate):
        super().__init__(candidate.username)
        self.identity = identity
        self.candidate = candidate


def check_group_gate(settings, identity):
    """:raises GroupGateError: CASDOOR_REQUIRED_GROUPS is set and the user is in none (exact match)."""
    if settings.required_groups and not set(identity.groups) & set(settings.required_groups):
        log.warning("Refused Casdoor sign-in of %s (%s): not in any required group %s (has %s)",
                    identity.username, identity.subject, settings.required_groups, identity.groups)
        raise GroupGateError(identity.username, settings.required_groups)


def check_linked_account_gate(user):
    """The gate for a Casdoor-linked account judged on what Storehouse knows of it: the
    account signing in another way (its local password), or a token older than that knowledge.

    :raises AccessRevoked: Casdoor deleted or forbade the person (as last read).
    :raises GroupGateError: outside every required group (the groups last read or sent).
    """
    if user.casdoor_blocked_reason:
        raise AccessRevoked(user.casdoor_blocked_reason)
    casdoor = get_casdoor()
    required = casdoor.settings.required_groups if casdoor is not None else []
    if required and not set(user.casdoor_groups or []) & set(required):
        log.warning("Refused password sign-in of Casdoor-linked %s: not in any required group %s",
                    user.username, required)
        raise GroupGateError(user.casdoor_name or user.username, required)


def token_predates(moment, issued_at):
    """True when a token issued at ``issued_at`` (epoch seconds) may be older than ``moment``.

    ``iat`` has whole seconds: a token of the same second as ``moment`` counts as
    older (the safe side), and so does one without ``iat``.
    """
    if moment is None:
        return False
    if issued_at is None:
        return True
    return issued_at <= int(moment.replace(tzinfo=UTC).timestamp())


def check_casdoor_state(settings, user, identity):
    """Hold a token of ``user`` to what Storehouse last learnt from Casdoor; True when the
    token is newer than that, so its claims may be applied.

    What Storehouse last read from Casdoor's API (a webhook, the sync) outranks the
    claims of a token minted before it: an old token must not bring back an old
    Homepage or group, nor let a deleted or forbidden person in, and a token from
    before a sign-out in Casdoor no longer counts.

    :raises SignedOutAtCasdoor: the token predates the person's sign-out in Casdoor.
    :raises AccessRevoked, GroupGateError: the token predates the last read, which refuses them.
    :raises GroupGateError: a newer token outside every required group.
    """
    if token_predates(user.casdoor_signed_out_at, identity.issued_at):
        raise SignedOutAtCasdoor()
    if token_predates(user.casdoor_state_read_at, identity.issued_at):
        check_linked_account_gate(user)
        return False
    check_group_gate(settings, identity)
    return True


def find_by_subject(subject):
    return db.session.execute(db.select(User).filter_by(casdoor_sub=subject)).scalar_one_or_none()


def sync_profile(user, identity, now=None, *, force=False):
    """Copy the profile claims onto ``user``, at most once every 5 minutes.

    The username is never touched. An email that another account already uses
    is skipped (and logged) rather than stolen.
    """
    now = now or utcnow()
    if not force and user.casdoor_profile_synced_at and now - user.casdoor_profile_synced_at < PROFILE_SYNC_INTERVAL:
        return False
    user.display_name = identity.display_name or user.display_name or user.username
    user.avatar_url = identity.avatar_url
    user.first_name = identity.first_name
    user.last_name = identity.last_name
    email = accounts.normalize_email(identity.email)
    if email and email != user.email:
        owner = accounts.find_user_by_email(email)
        if owner is None:
            user.email = email
        else:
            log.warning("Not syncing email of %s from Casdoor: %s belongs to %s", user.username, email, owner.username)
    user.casdoor_profile_synced_at = now
    return True


def casdoor_columns(settings, identity):
    """The columns of a user that a Casdoor sign-in with ``identity`` sets."""
    return dict(casdoor_homepage=identity.homepage or None,
                casdoor_groups=list(identity.groups),
                casdoor_is_admin=bool(identity.is_admin) or bool(set(identity.groups) & set(settings.admin_groups)),
                casdoor_org=identity.organization,
                casdoor_name=identity.casdoor_name or identity.username)


def sign_in_changes_nothing(settings, user, identity, now=None):
    """True when a non-interactive sign-in of ``user`` with ``identity`` (a Bearer token verified
    again) would write nothing: the caller may skip its transaction.

    :raises SignedOutAtCasdoor, AccessRevoked, GroupGateError: as ``check_casdoor_state``.
    """
    now = now or utcnow()
    last = user.casdoor_last_login_at
    if last is None or now - last >= LOGIN_TOUCH_INTERVAL:
        return False
    if not check_casdoor_state(settings, user, identity):
        return True  # an older token: only the login time could change, and it is not due
    if user.casdoor_blocked_reason:
        return False
    synced = user.casdoor_profile_synced_at
    if synced is None or now - synced >= PROFILE_SYNC_INTERVAL:
        return False
    return all(getattr(user, name) == value for name, value in casdoor_columns(settings, identity).items())


def _assign(user, **values):
    """Set only what differs, so an unchanged sign-in writes nothing."""
    for name, value in values.items():
        if getattr(user, name) != value:
            setattr(user, name, value)


def apply_sign_in(settings, user, identity, now=None, *, interactive=True):
    """What every Casdoor sign-in refreshes: binding (Homepage), groups, admin flag, profile.

    :param interactive: a person signing in (always recorded) rather than a
        Bearer token being verified again (recorded at most every 5 minutes).
    """
    now = now or utcnow()
    # A first sign-in (no id yet) creates the account: its binding is no change to log.
    before = casdoor_facts(user) if user.id is not None and user.casdoor_last_login_at else None
    _assign(user, **casdoor_columns(settings, identity))
    last = user.casdoor_last_login_at
    if interactive or last is None or now - last >= LOGIN_TOUCH_INTERVAL:
        user.casdoor_last_login_at = now
    sync_profile(user, identity, now)
    db.session.flush()
    if before is not None:
        record_casdoor_changes(user, before, source="sign-in")


def touch_login(user, now=None, *, interactive=True):
    """Record a sign-in whose token carries nothing newer than the account already holds."""
    now = now or utcnow()
    last = user.casdoor_last_login_at
    if interactive or last is None or now - last >= LOGIN_TOUCH_INTERVAL:
        user.casdoor_last_login_at = now
        db.session.flush()


def _free_username(wanted):
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", wanted or "").strip("-.")[:56] or "user"
    candidate, n = base, 1
    while accounts.find_user_by_username(candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def provision_user(settings, identity, *, keep_email=True, interactive=True):
    """Create the local account for a new Casdoor identity.

    Two first sign-ins of one person can race (two tabs, parallel API calls):
    the insert runs in a savepoint, and the loser adopts the account the winner
    created instead of failing.
    """
    email = accounts.normalize_email(identity.email) if keep_email else None
    if email and accounts.find_user_by_email(email):
        email = None
    for _ in range(5):
        now = utcnow()
        user = User(username=_free_username(identity.username), email=email,
                    display_name=identity.display_name or identity.username,
                    casdoor_sub=identity.subject, casdoor_linked_at=now)
        try:
            with savepoint():
                db.session.add(user)
                db.session.flush()
        except IntegrityError:
            existing = find_by_subject(identity.subject)
            if existing is not None:
                log.info("Casdoor user %s was provisioned by a parallel sign-in; using it", identity.subject)
                apply_sign_in(settings, existing, identity, interactive=interactive)
                return existing
            email = None if email and accounts.find_user_by_email(email) else email
            continue  # the username (or email) was taken meanwhile: pick again
        apply_sign_in(settings, user, identity, now, interactive=interactive)
        log.info("Provisioned %s for Casdoor user %s (%s)", user.username, identity.username, identity.subject)
        return user
    raise SignInError("Cannot sign in: could not create your account (the names kept clashing). Try again.")


def resolve_sign_in(settings, identity, *, interactive=True):
    """The user this Casdoor identity signs in as.

    :raises GroupGateError: outside the required groups.
    :raises AccountDisabled: the linked local account is disabled.
    :raises LinkRequired: unknown identity matching an existing local account.
    """
    user = find_by_subject(identity.subject)
    if user is not None:
        if not user.is_active:
            raise AccountDisabled()
        if check_casdoor_state(settings, user, identity):
            # Casdoor minted this token after Storehouse last read the person: it lets them in.
            _assign(user, casdoor_blocked_reason=None)
            apply_sign_in(settings, user, identity, interactive=interactive)
        else:
            touch_login(user, interactive=interactive)
        return user
    check_group_gate(settings, identity)
    candidate = accounts.find_user_by_email(identity.email) or accounts.find_user_by_username(identity.username)
    if candidate is not None:
        if candidate.casdoor_sub == identity.subject:
            # A parallel first sign-in of the same person created it a moment ago.
            apply_sign_in(settings, candidate, identity, interactive=interactive)
            return candidate
        raise LinkRequired(identity, candidate)
    return provision_user(settings, identity, interactive=interactive)


def link_identity(settings, user, identity):
    """Link ``identity`` to ``user`` (from a signed-in session, or after password proof).

    :raises IdentityConflict: the identity is linked to another account, or
        ``user`` is linked to a different Casdoor identity.
    :raises GroupGateError: outside the required groups.
    """
    check_group_gate(settings, identity)
    owner = find_by_subject(identity.subject)
    if owner is not None and owner.id != user.id:
        raise IdentityConflict(
            "This Casdoor account is already linked to another Storehouse account. Unlink it there "
            "first, or sign in with it directly through Casdoor SSO."
        )
    if user.casdoor_sub and user.casdoor_sub != identity.subject:
        raise IdentityConflict("Your account is linked to a different Casdoor account. Unlink that one first.")
    if user.casdoor_sub is None:
        user.casdoor_sub = identity.subject
        user.casdoor_linked_at = utcnow()
        log.info("Linked Casdoor user %s (%s) to %s", identity.username, identity.subject, user.username)
        db.session.flush()
        record_event("account-linked", user=user, source="self", casdoor=f"{identity.organization}/"
                     f"{identity.casdoor_name or identity.username}")
    apply_sign_in(settings, user, identity)
    return user


def unlink_identity(user):
    """Remove the Casdoor link.

    :raises IdentityConflict: Casdoor is the only way this user can sign in.
    """
    if user.casdoor_sub is None:
        raise IdentityConflict("Your account is not linked to Casdoor.")
    if not user.has_password:
        raise IdentityConflict(
            "Casdoor is the only way you can sign in to this account, so it cannot be unlinked. "
            "Set a local password first (Connected accounts > Set a password), then unlink."
        )
    log.info("Unlinked Casdoor user %s (%s) from %s", user.casdoor_name, user.casdoor_sub, user.username)
    user.casdoor_sub = None
    user.casdoor_linked_at = None
    # The Homepage (store binding) stays: unlinking must not be a way out of a
    # binding. Privileges that came from Casdoor go, the safe direction.
    user.casdoor_is_admin = False
    user.casdoor_profile_synced_at = None
    db.session.flush()
    record_event("account-unlinked", user=user, source="self")
