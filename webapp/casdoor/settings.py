"""Casdoor settings read from app.config, normalised and checked once at start."""
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from webapp.core.errors import ConfigurationError

#: Needed for any Casdoor surface; one empty = shadow mode.
REQUIRED = ("CASDOOR_ENDPOINT", "CASDOOR_CLIENT_ID", "CASDOOR_ORG_NAME", "CASDOOR_APP_NAME")


def split_list(value):
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def normalize_pem(value):
    """Turn a single-line PEM with literal ``\\n`` escapes back into a PEM block."""
    value = (value or "").strip().strip('"').strip("'")
    return value.replace("\\r\\n", "\n").replace("\\n", "\n").strip() + "\n" if value else ""


def load_public_key(pem):
    """The public key of an X.509 certificate or of a bare public-key PEM.

    :raises ConfigurationError: naming CASDOOR_CERTIFICATE, when neither parses.
    """
    data = pem.encode()
    try:
        if b"BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        if b"BEGIN PUBLIC KEY" in data or b"BEGIN RSA PUBLIC KEY" in data:
            return load_pem_public_key(data)
    except ValueError as exc:
        raise ConfigurationError(f"CASDOOR_CERTIFICATE is not a valid PEM certificate or public key: {exc}") from exc
    raise ConfigurationError(
        "CASDOOR_CERTIFICATE must be the PEM certificate (-----BEGIN CERTIFICATE-----) or public key "
        "of the Casdoor application's cert; on one line, write newlines as \\n."
    )


@dataclass(frozen=True)
class CasdoorSettings:
    endpoint: str
    client_id: str
    client_secret: str
    organization: str
    application: str
    certificate_pem: str = ""
    token_cache_ttl: int = 300
    timeout: float = 10.0
    claim_username: list = field(default_factory=list)
    claim_display_name: list = field(default_factory=list)
    claim_email: list = field(default_factory=list)
    claim_groups: list = field(default_factory=list)
    claim_avatar: list = field(default_factory=list)
    claim_homepage: list = field(default_factory=list)
    required_groups: list = field(default_factory=list)
    admin_groups: list = field(default_factory=list)
    #: The ``iss`` tokens must carry; empty = the discovery document's issuer.
    issuer: str = ""
    #: Ask Casdoor's introspection endpoint about each freshly verified Bearer token.
    bearer_introspect: bool = False

    @property
    def discovery_url(self):
        return f"{self.endpoint}/.well-known/openid-configuration"

    @property
    def public_key(self):
        return load_public_key(self.certificate_pem) if self.certificate_pem else None

    @classmethod
    def from_config(cls, config):
        """Settings from ``app.config``, or None in shadow mode.

        :raises ConfigurationError: a value is present but unusable; the message
            names the variable so the operator knows what to fix.
        """
        if any(not config.get(name) for name in REQUIRED):
            return None
        endpoint = config["CASDOOR_ENDPOINT"].rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"CASDOOR_ENDPOINT must be an absolute URL such as https://auth.example.com "
                f"(got {endpoint!r})."
            )
        pem = normalize_pem(config.get("CASDOOR_CERTIFICATE"))
        if pem:
            load_public_key(pem)  # fail at start, not at the first sign-in
        ttl = config.get("CASDOOR_TOKEN_CACHE_TTL", 300)
        if int(ttl) < 0:
            raise ConfigurationError("CASDOOR_TOKEN_CACHE_TTL must be 0 or more seconds.")
        return cls(
            endpoint=endpoint,
            client_id=config["CASDOOR_CLIENT_ID"],
            client_secret=config.get("CASDOOR_CLIENT_SECRET", ""),
            organization=config["CASDOOR_ORG_NAME"],
            application=config["CASDOOR_APP_NAME"],
            certificate_pem=pem,
            token_cache_ttl=int(ttl),
            timeout=float(config.get("CASDOOR_TIMEOUT", 10)),
            claim_username=split_list(config.get("CASDOOR_CLAIM_USERNAME")),
            claim_display_name=split_list(config.get("CASDOOR_CLAIM_DISPLAY_NAME")),
            claim_email=split_list(config.get("CASDOOR_CLAIM_EMAIL")),
            claim_groups=split_list(config.get("CASDOOR_CLAIM_GROUPS")),
            claim_avatar=split_list(config.get("CASDOOR_CLAIM_AVATAR")),
            claim_homepage=split_list(config.get("CASDOOR_CLAIM_HOMEPAGE")),
            required_groups=split_list(config.get("CASDOOR_REQUIRED_GROUPS")),
            admin_groups=split_list(config.get("CASDOOR_ADMIN_GROUPS")),
            issuer=(config.get("CASDOOR_ISSUER") or "").rstrip("/"),
            bearer_introspect=bool(config.get("CASDOOR_BEARER_INTROSPECT")),
        )
