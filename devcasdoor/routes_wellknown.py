"""OIDC discovery and JWKS, global and per application (``/.well-known/...``)."""
from flask import Blueprint, current_app, request

from . import envelope, keys

bp = Blueprint("wellknown", __name__)

DEFAULT_SCOPES = ["openid", "email", "profile", "address", "phone", "offline_access"]


def current_origins():
    """``(frontend, backend)`` origins for this request (configured or from ``Host``)."""
    return current_app.extensions["devcasdoor"].origins(request.host)


def discovery_document(app=None):
    """The ``OidcDiscovery`` JSON, keys in Casdoor's order."""
    frontend, backend = current_origins()
    jwks_uri = f"{backend}/.well-known/jwks"
    scopes = list(DEFAULT_SCOPES)
    if app is not None:
        jwks_uri = f"{backend}/.well-known/{app['name']}/jwks"
        scopes += [s["name"] for s in app.get("scopes") or [] if s.get("name") not in scopes]
    return {
        # Since v3.94.0 the per-application issuer is the plain backend origin again.
        "issuer": backend,
        "authorization_endpoint": f"{frontend}/login/oauth/authorize",
        "token_endpoint": f"{backend}/api/login/oauth/access_token",
        "userinfo_endpoint": f"{backend}/api/userinfo",
        "device_authorization_endpoint": f"{backend}/api/device-auth",
        "registration_endpoint": f"{backend}/api/oauth/register",
        "jwks_uri": jwks_uri,
        "introspection_endpoint": f"{backend}/api/login/oauth/introspect",
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                                     "token id_token", "code token id_token", "none"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "implicit", "password", "client_credentials",
                                  "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
                                  "urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "RS512", "ES256", "ES384", "ES512"],
        "scopes_supported": scopes,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "ver", "sub", "aud", "iat", "exp", "id", "type", "displayName",
                             "avatar", "permanentAvatar", "email", "phone", "location", "affiliation",
                             "title", "homepage", "bio", "tag", "region", "language", "score",
                             "ranking", "isOnline", "isAdmin", "isForbidden", "signupApplication",
                             "ldap"],
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": ["HS256", "HS384", "HS512"],
        "end_session_endpoint": f"{backend}/api/logout",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "dpop_signing_alg_values_supported": ["RS256", "RS512", "ES256", "ES384", "ES512",
                                              "PS256", "PS384", "PS512"],
    }


def jwks(certs):
    """A JWK set of the certs (every cert holds a certificate: the seed's, or one generated at start)."""
    return {"keys": [keys.public_jwk(cert) for cert in certs]}


def _state():
    return current_app.extensions["devcasdoor"].state


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    return envelope.raw(discovery_document())


@bp.get("/.well-known/<app_name>/openid-configuration")
def application_openid_configuration(app_name):
    with _state().lock:
        app = _state().applications.get(app_name)
    return envelope.raw(discovery_document(app))


@bp.get("/.well-known/jwks")
def global_jwks():
    with _state().lock:
        certs = list(_state().certs.values())
    return envelope.raw(jwks(certs))


@bp.get("/.well-known/<app_name>/jwks")
def application_jwks(app_name):
    state = _state()
    with state.lock:
        app = state.applications.get(app_name)
        cert = state.certs.get(app.get("cert")) if app else None
        # Unknown application or cert: Casdoor falls back to every cert.
        certs = [cert] if cert else list(state.certs.values())
    return envelope.raw(jwks(certs))
