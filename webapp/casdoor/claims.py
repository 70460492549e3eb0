"""Claims -> ``ProviderIdentity``, through the ``CASDOOR_CLAIM_*`` lists.

Casdoor applications choose a token format (JWT, JWT-Custom, JWT-Standard,
JWT-Empty). Homepage (the store binding), groups (the group gate) and isAdmin
are absent from some formats; then the user is fetched from Casdoor with the
application's credentials instead of guessing.
"""
import logging
from dataclasses import asdict, dataclass, field

from webapp.casdoor.errors import NotCasdoor, SignInError

log = logging.getLogger("webapp.auth.casdoor")

#: JWT bookkeeping, not facts about the person.
BOOKKEEPING_CLAIMS = {"iss", "aud", "exp", "nbf", "iat", "jti", "nonce", "azp", "tokenType", "TokenType",
                      "scope", "password", "passwordSalt", "hash", "preHash", "totpSecret", "recoveryCodes"}


@dataclass
class ProviderIdentity:
    provider: str
    subject: str
    username: str
    display_name: str = ""
    email: str = ""
    avatar_url: str = ""
    first_name: str = ""
    last_name: str = ""
    homepage: str = ""
    groups: list = field(default_factory=list)
    is_admin: bool = False
    organization: str = ""
    casdoor_name: str = ""
    #: The token's ``iat`` (epoch seconds): facts older than what Storehouse last read
    #: from Casdoor's API do not overwrite it (see ``webapp.auth.identities``).
    issued_at: int | None = None

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)


def first_claim(claims, names):
    """The first non-empty value among ``names``; a JSON list counts when non-empty."""
    for name in names:
        value = claims.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def as_groups(value):
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value or []]


def identity_from_claims(settings, claims, client, access_token=None):
    """Map verified claims to a ``ProviderIdentity``, fetching what the token left out.

    Missing profile claims (a JWT-Empty token, or a plain OpenID Connect
    provider) come from the standard userinfo endpoint when an access token is
    at hand; Homepage, groups and the admin flag, when missing, from Casdoor's
    ``/api/get-user``. A server without that API (not a Casdoor) signs people in
    unbound, with the groups its tokens or userinfo carry (the group gate then
    decides, with its own message).

    :raises SignInError: Casdoor no longer has the user, or the user is forbidden.
    :raises CasdoorUnavailable: a fetch was needed and the server did not answer.
    """
    issued_at = claims.get("iat")
    claims = {k: v for k, v in claims.items() if k not in BOOKKEEPING_CLAIMS}
    subject = str(claims["sub"])
    if access_token and not all(first_claim(claims, names) for names in
                                (settings.claim_email, settings.claim_username)):
        extra = client.userinfo(access_token)
        if str(extra.get("sub")) == subject:
            claims = {**{k: v for k, v in extra.items() if k not in BOOKKEEPING_CLAIMS}, **claims}
    organization = claims.get("owner") or settings.organization
    homepage_present = any(name in claims for name in settings.claim_homepage)
    groups_present = any(name in claims for name in settings.claim_groups)
    profile = {}
    if not (homepage_present and groups_present and "isAdmin" in claims):
        try:
            profile = client.get_user(user_id=subject, owner=organization)
        except NotCasdoor:
            log.info("%s has no Casdoor user API: signing %s in without a Homepage binding",
                     settings.endpoint, subject)
            profile = {}
        else:
            if profile is None:
                raise SignInError(f"Cannot sign in: Casdoor has no user with id {subject} in organization "
                                  f"'{organization}' (deleted?). Ask your Casdoor administrator.")
    if claims.get("isForbidden") or profile.get("isForbidden") or profile.get("isDeleted"):
        raise SignInError("Cannot sign in: this Casdoor account is forbidden or deleted. "
                          "Ask your Casdoor administrator.")

    casdoor_name = claims.get("name") if "preferred_username" not in claims else claims["preferred_username"]
    casdoor_name = profile.get("name") or casdoor_name or ""
    username = first_claim(claims, settings.claim_username) or casdoor_name or subject
    homepage = first_claim(claims, settings.claim_homepage) if homepage_present else profile.get("homepage")
    groups = first_claim(claims, settings.claim_groups) if groups_present else profile.get("groups")
    is_admin = claims["isAdmin"] if "isAdmin" in claims else profile.get("isAdmin", False)
    return ProviderIdentity(
        provider="casdoor",
        subject=subject,
        username=str(username),
        display_name=str(first_claim(claims, settings.claim_display_name) or profile.get("displayName") or ""),
        email=str(first_claim(claims, settings.claim_email) or profile.get("email") or ""),
        avatar_url=str(first_claim(claims, settings.claim_avatar) or profile.get("avatar") or ""),
        first_name=str(claims.get("firstName") or profile.get("firstName") or ""),
        last_name=str(claims.get("lastName") or profile.get("lastName") or ""),
        homepage=str(homepage or ""),
        groups=as_groups(groups),
        is_admin=bool(is_admin),
        organization=organization,
        casdoor_name=str(casdoor_name),
        issued_at=int(issued_at) if isinstance(issued_at, int | float) else None,
    )
