"""``Authorization: Bearer <Casdoor JWT>`` on the API.

A fresh verification counts as a sign-in: binding, groups and admin flag are
refreshed from the token (and the group gate applied), so an API client is
held to the same store binding as the browser, unless Storehouse has read the
person from Casdoor since the token was minted (a webhook, the sync): then that
read outranks the token's claims, and a deleted, forbidden or signed-out
person's token is refused, cached or not. The result is cached by token
hash for CASDOOR_TOKEN_CACHE_TTL seconds; within that window a request costs
no signature check and, with the user cache warm, no query at all.

The sign-in refresh is its own unit of work: it runs in a database session of
its own and commits there, so the view's transaction starts clean and remains
the view's alone.
"""
from flask import current_app, request

from webapp.auth import identities
from webapp.cache import make_cache
from webapp.casdoor import get_casdoor
from webapp.casdoor.claims import ProviderIdentity, identity_from_claims
from webapp.casdoor.errors import SignInError
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.users.cache import get_user


def _in_own_transaction(work):
    """Run ``work()`` in a fresh app context (its own database session) and commit it."""
    with current_app.app_context():
        try:
            result = work()
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def _sign_in(casdoor, identity):
    def work():
        try:
            user = identities.resolve_sign_in(casdoor.settings, identity, interactive=False)
        except identities.LinkRequired:
            raise SignInError("Cannot sign in: this Casdoor account matches an existing Storehouse account that "
                              "is not linked to it. Sign in on the web once and link it under Connected accounts.",
                              error="casdoor_link_required") from None
        return user.id

    return _in_own_transaction(work)


def _sync_if_due(casdoor, user_id, identity):
    def work():
        user = identities.find_by_subject(identity.subject)
        if user is not None and identities.sync_profile(user, identity):
            db.session.flush()

    _in_own_transaction(work)


def _subjects(casdoor):
    """Casdoor ``sub`` -> user id, for AUTH_CACHE_SECONDS (a link changes rarely; the user row is checked)."""
    if getattr(casdoor, "subject_cache", None) is None:
        casdoor.subject_cache = make_cache(current_app, "casdoor-subjects", current_app.config["AUTH_CACHE_SECONDS"])
    return casdoor.subject_cache


def _known_and_unchanged(casdoor, identity):
    """The user of ``identity`` when re-verifying its token would change nothing, else None.

    A cold token cache (a new token, another worker, CASDOOR_TOKEN_CACHE_TTL=0) then costs
    the signature check and two cache hits instead of a transaction of its own: the
    profiling of the cold Bearer path found the sign-in refresh's app context, SELECT and
    COMMIT to be most of its cost beyond the RS256 verification.

    :raises SignedOutAtCasdoor, AccessRevoked, GroupGateError: what Storehouse knows refuses the token.
    """
    user_id = _subjects(casdoor).get(identity.subject)
    user = get_user(user_id) if user_id is not None else None
    if user is None or not user.is_active or user.casdoor_sub != identity.subject:
        return None
    return user if identities.sign_in_changes_nothing(casdoor.settings, user, identity) else None


def load_bearer_user():
    """The user of a valid Casdoor Bearer token, None without one.

    :raises TokenVerificationError, SignInError, GroupGateError: a Bearer token
        was sent and must not authenticate; the API answers with the reason.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    casdoor = get_casdoor()
    cached = casdoor.token_cache.get(token)
    if cached is not None:
        identity = ProviderIdentity.from_dict(cached["identity"])
        user = get_user(cached["user_id"])
        if user is not None and user.is_active:
            # The user row (cache dropped on every change, in every process with CACHE_URL)
            # says what Casdoor last told Storehouse; it outranks this token's claims.
            identities.check_casdoor_state(casdoor.settings, user, identity)
            synced = user.casdoor_profile_synced_at
            if synced is None or utcnow() - synced >= identities.PROFILE_SYNC_INTERVAL:
                _sync_if_due(casdoor, user.id, identity)
            return user
    claims = casdoor.verifier.verify(token, bearer=True)
    identity = identity_from_claims(casdoor.settings, claims, casdoor.api, token)
    user = _known_and_unchanged(casdoor, identity)
    if user is not None:
        casdoor.token_cache.put(token, {"identity": identity.to_dict(), "user_id": user.id}, claims.get("exp"))
        return user
    user_id = _sign_in(casdoor, identity)
    _subjects(casdoor).set(identity.subject, user_id)
    casdoor.token_cache.put(token, {"identity": identity.to_dict(), "user_id": user_id}, claims.get("exp"))
    return get_user(user_id)
