"""``Authorization: Bearer <Casdoor JWT>`` on the API.

Verification results are cached by token hash for CASDOOR_TOKEN_CACHE_TTL
seconds. A fresh verification counts as a sign-in (binding, groups and admin
flag refreshed, group gate applied), so an API client is held to the same
store binding as the browser; within the cache window only the throttled
profile sync runs.
"""
from flask import request

from webapp.auth import identities
from webapp.casdoor import get_casdoor
from webapp.casdoor.claims import ProviderIdentity, identity_from_claims
from webapp.casdoor.errors import SignInError
from webapp.extensions import db


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
        identity = ProviderIdentity.from_dict(cached)
        identities.check_group_gate(casdoor.settings, identity)
        user = identities.find_by_subject(identity.subject)
        if user is not None and user.is_active:
            if identities.sync_profile(user, identity):
                db.session.commit()
            return user
    claims = casdoor.verifier.verify(token)
    identity = identity_from_claims(casdoor.settings, claims, casdoor.api)
    try:
        user = identities.resolve_sign_in(casdoor.settings, identity)
    except identities.LinkRequired:
        raise SignInError("Cannot sign in: this Casdoor account matches an existing Storehouse account that "
                          "is not linked to it. Sign in on the web once and link it under Connected accounts.",
                          error="casdoor_link_required")
    db.session.commit()
    casdoor.token_cache.put(token, identity.to_dict(), claims.get("exp"))
    return user
