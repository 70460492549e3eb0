"""JWT minting in Casdoor's four token formats, and the token rows that back them.

Casdoor stores every issued token as a row; REST bearer checks, refresh,
introspection and logout all work on rows, never on the JWT signature. A row is
a dict with the keys of Casdoor's ``Token`` object plus two private ones
(``_createdAt`` epoch seconds, ``_isApp`` for client_credentials rows).
"""
import base64
import json
import secrets
import time
import uuid

from joserfc import jwt

from . import keys
from .state import now_rfc3339
from .users import build_user

#: Claim keys of the default "JWT" format taken from the user, in Casdoor's struct order.
JWT_USER_CLAIMS = (
    "owner", "name", "createdTime", "updatedTime", "deletedTime", "id", "type", "password",
    "passwordSalt", "passwordType", "displayName", "firstName", "lastName", "avatar",
    "avatarType", "permanentAvatar", "email", "email_verified", "phone", "countryCode",
    "region", "location", "address", "affiliation", "title", "idCardType", "idCard",
    "homepage", "bio", "tag", "language", "gender", "birthday", "education", "score", "karma",
    "ranking", "isDefaultAvatar", "isOnline", "isAdmin", "isForbidden", "isDeleted",
    "signupApplication", "hash", "preHash", "registerType", "registerSource", "github",
    "google", "qq", "wechat", "facebook", "dingtalk", "weibo", "gitee", "linkedin", "wecom",
    "lark", "gitlab", "createdIp", "lastSigninTime", "lastSigninIp", "preferredMfaType",
    "recoveryCodes", "totpSecret", "mfaPhoneEnabled", "mfaEmailEnabled", "ldap", "properties",
    "roles", "permissions", "groups", "lastSigninWrongTime", "signinWrongTimes",
    "managedAccounts",
)

class TokenFormatError(Exception):
    """The application names a token format Casdoor does not know."""


def new_code():
    """A 20-hex authorization code (Casdoor's ``GenerateClientId``)."""
    return secrets.token_hex(10)


def _casdoor_claims(ctx, token_type):
    """``tokenType``, then the omit-if-empty Casdoor claims, in struct order."""
    out = {"tokenType": token_type}
    if ctx.get("nonce"):
        out["nonce"] = ctx["nonce"]
    return out


def _tail_claims(ctx):
    out = {}
    for key in ("scope", "azp", "signinMethod"):
        if ctx.get(key):
            out[key] = ctx[key]
    return out


def _registered(ctx):
    return {"iss": ctx["iss"], "sub": ctx["sub"], "aud": ctx["aud"], "exp": ctx["exp"],
            "nbf": ctx["iat"], "iat": ctx["iat"], "jti": ctx["jti"]}


def _refined_user_value(user, key):
    if key == "email_verified":
        return bool(user.get("emailVerified"))
    if key == "password":
        return ""
    value = user.get(key)
    if key in ("address", "roles", "permissions", "groups") and value is None:
        return []
    if key == "properties" and value is None:
        return {}
    return value


def claims_jwt(user, ctx, token_type):
    """The default "JWT" format: the whole user, then Casdoor and registered claims."""
    claims = {key: _refined_user_value(user, key) for key in JWT_USER_CLAIMS}
    claims.update(_casdoor_claims(ctx, token_type))
    claims.update(_tail_claims(ctx))
    claims.update(_registered(ctx))
    return claims


def claims_empty(user, ctx, token_type):
    """"JWT-Empty": a few identity fields; no homepage, no groups, no tag."""
    claims = {"owner": user["owner"], "name": user["name"], "id": user["id"],
              "displayName": user["displayName"], "avatar": user["avatar"],
              "email": user["email"]}
    if user.get("emailVerified"):
        claims["email_verified"] = True
    claims["phone"] = user.get("phone", "")
    claims.update(_casdoor_claims(ctx, token_type))
    claims.update(_tail_claims(ctx))
    claims.update(_registered(ctx))
    return claims


def _scopes(scope):
    scope = scope or ""
    return [s for s in (scope.split(",") if "," in scope else scope.split(" ")) if s]


def claims_standard(user, ctx, token_type):
    """"JWT-Standard": OIDC claim names, omit-if-empty; ``address`` always present."""
    scopes = _scopes(ctx.get("scope"))
    claims = {"owner": user["owner"]}
    optional = (("preferred_username", user["name"]), ("id", user["id"]),
                ("name", user["displayName"]), ("picture", user["avatar"]),
                ("email", user["email"]), ("email_verified", bool(user.get("emailVerified"))))
    for key, value in optional:
        if value or key == "id":
            claims[key] = value
    if "phone" in scopes and user.get("phone"):
        claims["phone_number"] = user["phone"]
        claims["phone_number_verified"] = True
    if "profile" in scopes and user.get("gender"):
        claims["gender"] = user["gender"]
    claims.update(_casdoor_claims(ctx, token_type))
    if ctx.get("scope"):
        claims["scope"] = ctx["scope"]
    claims["address"] = {"formatted": "", "street_address": "", "locality": "", "region": "",
                         "postal_code": "", "country": ""}
    if "address" in scopes:
        claims["address"]["street_address"] = ", ".join(user.get("address") or [])
    if ctx.get("azp"):
        claims["azp"] = ctx["azp"]
    claims.update(_registered(ctx))
    return claims


def _field_claim_name(field):
    return field[:1].lower() + field[1:]


def _user_field(user, field):
    """A user field by its Go name (``DisplayName``)."""
    return user.get(_field_claim_name(field))


def claims_custom(user, ctx, app, token_type):
    """"JWT-Custom": registered claims plus the application's tokenFields/tokenAttributes.

    ``tokenFields`` are user fields by their Go names; of the ``tokenAttributes``
    only the "Existing Field" category (a user field under another claim name)
    is reproduced, the one the demo seed uses. Casdoor builds this format as a
    Go map, which encodes with sorted keys, so the claims are returned sorted.
    """
    claims = _registered(ctx)
    claims["tokenType"] = "access-token"
    claims["nonce"] = ctx.get("nonce") or ""
    claims["scope"] = ctx.get("scope") or ""
    if ctx.get("azp"):
        claims["azp"] = ctx["azp"]
    for field in app.get("tokenFields") or []:
        claims[_field_claim_name(field)] = _user_field(user, field)
    for attribute in app.get("tokenAttributes") or []:
        if attribute.get("category") == "Existing Field":
            claims[attribute["name"]] = _user_field(user, attribute.get("value", ""))
    if token_type == "refresh-token":
        # Casdoor adds a second, capitalised key and leaves tokenType alone.
        claims["TokenType"] = "refresh-token"
    return dict(sorted(claims.items()))


def build_claims(app, user, ctx, token_type):
    token_format = app.get("tokenFormat") or "JWT"
    if token_format == "JWT":
        return claims_jwt(user, ctx, token_type)
    if token_format == "JWT-Empty":
        return claims_empty(user, ctx, token_type)
    if token_format == "JWT-Standard":
        return claims_standard(user, ctx, token_type)
    if token_format == "JWT-Custom":
        return claims_custom(user, ctx, app, token_type)
    raise TokenFormatError(f"unknown application TokenFormat: {token_format}")


def sign(claims, cert, header=None):
    """Sign ``claims`` with a cert; the header is ``{"alg","kid"=cert name,"typ":"JWT"}``."""
    protected = {"alg": cert.get("cryptoAlgorithm") or "RS256", "kid": cert["name"], "typ": "JWT"}
    protected.update(header or {})
    return jwt.encode(protected, claims, keys.signing_key(cert),
                      algorithms=[protected["alg"]], default_type=None)


def application_pseudo_user(app):
    """The subject of a ``client_credentials`` token: ``admin/<app>``, type application."""
    user = {"owner": "admin", "name": app["name"], "id": f"admin/{app['name']}",
            "type": "application", "displayName": app.get("displayName", app["name"])}
    return build_user(user)


def mint_token_row(state, app, user, *, issuer, scope="", nonce="", code="",
                   code_challenge="", signin_method=""):
    """Mint access and refresh JWTs for ``user`` and store them as a token row.

    The JWTs are final here: ``iat``, ``iss`` and ``nonce`` of a code flow are
    those of the sign-in request, not of the later token request. The caller
    holds ``state.lock``.

    :raises TokenFormatError: for an unknown ``tokenFormat``.
    """
    now = int(time.time())
    expires_in = int(float(app.get("expireInHours") or 168) * 3600)
    refresh_hours = float(app.get("refreshExpireInHours") or 0) or float(app.get("expireInHours") or 168)
    is_app = user.get("type") == "application"
    ctx = {"iss": issuer, "sub": user["id"], "aud": [app["clientId"]],
           "iat": now, "exp": now + expires_in, "jti": f"admin/{uuid.uuid4()}",
           "nonce": nonce, "scope": scope, "azp": app["clientId"], "signinMethod": signin_method}
    cert = state.cert_for_application(app)
    access = sign(build_claims(app, user, ctx, "access-token"), cert)
    refresh = ""
    if not is_app:
        refresh_ctx = dict(ctx, exp=now + int(refresh_hours * 3600))
        refresh = sign(build_claims(app, user, refresh_ctx, "refresh-token"), cert)
    name = str(uuid.uuid4())
    row = {
        "owner": "admin", "name": name, "createdTime": now_rfc3339(),
        "application": app["name"], "organization": user["owner"], "user": user["name"],
        "code": code, "accessToken": access, "refreshToken": refresh,
        "expiresIn": expires_in, "scope": scope, "tokenType": "Bearer",
        "codeChallenge": code_challenge, "codeIsUsed": False,
        "codeExpireIn": now + 5 * 60,
        "_createdAt": now, "_isApp": is_app,
    }
    state.tokens[name] = row
    return row


def token_wrapper(row):
    """Casdoor's ``TokenWrapper``: ``id_token`` is the access token, byte for byte."""
    return {"access_token": row["accessToken"], "id_token": row["accessToken"],
            "refresh_token": row["refreshToken"], "token_type": row["tokenType"],
            "expires_in": row["expiresIn"], "scope": row["scope"]}


def decode_unverified(token):
    """The claims of a JWT without checking anything (for logs and dev controls)."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))
