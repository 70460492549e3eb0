"""The JSON sign-in API under ``/api/v1/`` (the paths and payloads of the Notechondria runbook).

Local: ``auth/login/``, ``auth/logout/``, ``me/``. Casdoor: ``auth/casdoor/config/``
(whether SSO is on, never the secret), ``exchange/`` (a code for a session, like a local
sign-in), ``bind/`` (link or unlink the signed-in account). Every view commits once.
"""
from flask import g, jsonify

from webapp.auth import current, identities, service
from webapp.auth import schemas as auth_schemas
from webapp.auth.casdoor_views import encrypted_id_token
from webapp.auth.decorators import login_required
from webapp.auth.oidc import exchange_code
from webapp.auth.ratelimit import limit_failed_signins
from webapp.casdoor import get_casdoor, require_casdoor
from webapp.casdoor.claims import identity_from_claims
from webapp.casdoor.errors import IdentityConflict
from webapp.core.bodies import parse_body
from webapp.extensions import db


@limit_failed_signins(success_status=200)
def login():
    """Email/password sign-in for API clients; answers the session payload."""
    data = parse_body(auth_schemas.PasswordSignIn)
    user = service.authenticate_local(data.email, data.password)
    key = current.sign_in(user, "password", api=True)
    db.session.commit()
    return jsonify(current.session_payload(user, key))


@login_required
def logout():
    current.sign_out()
    db.session.commit()
    return jsonify(ok=True)


@login_required
def me():
    return jsonify(user=current.user_payload(g.user), auth_method=g.auth_method)


def casdoor_config():
    """Whether SSO is on, and what a front end needs to start it. Never the secret."""
    casdoor = get_casdoor()
    if casdoor is None:
        return jsonify(configured=False, endpoint=None, client_id=None, organization=None, application=None,
                       signin_url=None)
    settings = casdoor.settings
    metadata = casdoor.api.cached_metadata()
    return jsonify(
        configured=True,
        endpoint=settings.endpoint,
        client_id=settings.client_id,
        organization=settings.organization,
        application=settings.application,
        signin_url=metadata.get("authorization_endpoint") or f"{settings.endpoint}/login/oauth/authorize",
    )


def _verified_identity(casdoor):
    data = parse_body(auth_schemas.CasdoorCode)
    token = exchange_code(casdoor.oauth, data.code, data.redirect_uri, data.code_verifier)
    claims = casdoor.verifier.verify(token["id_token"], nonce=data.nonce)
    return identity_from_claims(casdoor.settings, claims, casdoor.api, token.get("access_token")), token


def casdoor_exchange():
    """Code -> session payload, like a local sign-in. 503 unconfigured, 401 verification, 403 group gate."""
    casdoor = require_casdoor()
    identity, token = _verified_identity(casdoor)
    try:
        user = identities.resolve_sign_in(casdoor.settings, identity)
    except identities.LinkRequired as exc:
        raise IdentityConflict(
            f"A Storehouse account ({exc.candidate.username}) already uses this email or username. Sign in to "
            "it with its password and bind Casdoor (POST /api/v1/auth/casdoor/bind/), or sign in on the web "
            "to create a separate account.", error="casdoor_link_required") from exc
    key = current.sign_in(user, "casdoor", api=True, casdoor_id_token=encrypted_id_token(token))
    db.session.commit()
    return jsonify(current.session_payload(user, key))


@login_required
def casdoor_bind():
    """Link the Casdoor identity behind ``code`` to the signed-in user; 409 when linked elsewhere."""
    casdoor = require_casdoor()
    identity, _ = _verified_identity(casdoor)
    identities.link_identity(casdoor.settings, g.user, identity)
    db.session.commit()
    return jsonify(linked=True, casdoor_sub=identity.subject, user=current.user_payload(g.user))


@login_required
def casdoor_unbind():
    identities.unlink_identity(g.user)
    db.session.commit()
    return jsonify(linked=False, user=current.user_payload(g.user))
