"""Verification of Casdoor JWTs (the id_token at sign-in, Bearer tokens on the API).

One verifier serves both paths so they cannot drift apart:

- only asymmetric algorithms are accepted; ``none`` and HMAC are refused, so a
  token "signed" with the public key as an HMAC secret gets nowhere;
- the key is the configured CASDOOR_CERTIFICATE when there is one, else
  Casdoor's JWKS, parsed once per fetch; a ``kid`` we do not know refetches
  the JWKS (so a key rotation at Casdoor needs no restart), at most once per
  ``JWKS_REFETCH_SECONDS``, and unknown kids are remembered meanwhile, so a
  stream of forged kids cannot make us hammer Casdoor;
- ``iss`` must be Casdoor's issuer (CASDOOR_ISSUER, else discovery's ``issuer``;
  never the endpoint as typed), ``aud`` (a JSON array, as Casdoor sends it)
  must contain our client id, ``exp``/``nbf``/``iat`` hold with a small
  leeway, and ``nonce`` must match when the sign-in sent one;
- a refresh token is not a credential: only access/ID tokens are accepted;
- with CASDOOR_BEARER_INTROSPECT, a Bearer token is also checked with Casdoor's
  introspection endpoint at each fresh verification, so a token revoked or a
  user forbidden at Casdoor stops working before ``exp``.
"""
import hashlib
import threading
import time

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet, import_key

from webapp.casdoor.errors import TokenVerificationError
from webapp.core import clock

#: A forced key-set refetch (unknown kid) happens at most this often.
JWKS_REFETCH_SECONDS = 60
#: Token types Casdoor puts in ``tokenType`` that may authenticate a request.
CREDENTIAL_TOKEN_TYPES = {"access-token", "id-token"}

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60
#: A back-channel logout token older than this is refused (and its jti need not be kept longer).
LOGOUT_TOKEN_MAX_AGE = 600
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _configured_key(public_key):
    pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    if isinstance(public_key, rsa.RSAPublicKey):
        return import_key(pem, "RSA")
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return import_key(pem, "EC")
    raise TokenVerificationError("CASDOOR_CERTIFICATE holds a key type Casdoor does not sign with")


class TokenVerifier:
    def __init__(self, settings, client):
        self.settings = settings
        self.client = client
        public_key = settings.public_key
        self._configured = _configured_key(public_key) if public_key is not None else None
        self._lock = threading.Lock()
        self._keys = None
        self._keys_source = None
        self._last_forced = 0.0
        self._unknown_kids = {}

    def _key_set(self, force=False):
        """The imported key set, parsed once per fetch of the JWKS."""
        jwks = self.client.jwks(force=force)
        with self._lock:
            if self._keys is None or self._keys_source is not jwks:
                self._keys, self._keys_source = KeySet.import_key_set(jwks), jwks
            return self._keys

    def _decode(self, token):
        if self._configured is not None:
            return jwt.decode(token, self._configured, algorithms=ASYMMETRIC_ALGORITHMS)
        try:
            return jwt.decode(token, self._key_set(), algorithms=ASYMMETRIC_ALGORITHMS)
        except InvalidKeyIdError:
            kid = _header_kid(token)
            now = time.monotonic()
            with self._lock:
                # At most one forced refetch per JWKS_REFETCH_SECONDS, whatever the kid,
                # and a kid just found unknown stays unknown for that long.
                if now - self._unknown_kids.get(kid, -JWKS_REFETCH_SECONDS) < JWKS_REFETCH_SECONDS or \
                        now - self._last_forced < JWKS_REFETCH_SECONDS:
                    raise
                self._last_forced = now
            # Casdoor may have rotated its signing key: refetch.
            try:
                return jwt.decode(token, self._key_set(force=True), algorithms=ASYMMETRIC_ALGORITHMS)
            except InvalidKeyIdError:
                with self._lock:
                    if len(self._unknown_kids) >= 1000:
                        self._unknown_kids.clear()
                    self._unknown_kids[kid] = time.monotonic()
                raise

    def issuer(self):
        """Casdoor's issuer: CASDOOR_ISSUER, else the discovery document's (fetched when needed)."""
        return self.settings.issuer or self.client.metadata()["issuer"]

    def verify(self, token, *, nonce=None, bearer=False):
        """Return the verified claims of ``token``.

        :param nonce: the nonce sent with the authorization request, when there was one.
        :param bearer: the token authenticates an API request (introspected when configured).
        :raises TokenVerificationError: with the precise reason.
        :raises CasdoorUnavailable: the keys were needed and Casdoor did not answer.
        """
        decoded = self._verified_signature(token)
        claims = decoded.claims
        self._check_claims(claims, nonce)
        token_types = {str(value) for key, value in claims.items() if key.lower() == "tokentype"}
        if token_types - CREDENTIAL_TOKEN_TYPES:
            raise TokenVerificationError(f"a {', '.join(sorted(token_types - CREDENTIAL_TOKEN_TYPES))} is not a "
                                         "credential; send the access token")
        if bearer and self.settings.bearer_introspect and not self.client.introspect(token):
            raise TokenVerificationError("Casdoor says this token is no longer active (revoked, or the user "
                                         "was forbidden)")
        return claims

    def verify_logout_token(self, token):
        """The claims of an OpenID Connect back-channel ``logout_token`` (Back-Channel Logout 1.0 §2.6).

        Verified like an ID token (signature, ``iss``, ``aud``, ``iat`` not in the future and
        at most LOGOUT_TOKEN_MAX_AGE old, ``exp`` when present), and it must carry the
        back-channel ``events`` member, a ``jti``, a ``sub`` or ``sid``, and no ``nonce``
        (so an ID token cannot be replayed as a logout token). Whether the ``jti`` was seen
        before is the caller's to check.

        :raises TokenVerificationError: with the precise reason.
        """
        claims = self._verified_signature(token).claims
        issuer = self.issuer()
        if claims.get("iss") != issuer:
            raise TokenVerificationError(f"issued by {claims.get('iss')!r}, expected {issuer!r}")
        audience = claims.get("aud")
        if self.settings.client_id not in (audience if isinstance(audience, list) else [audience]):
            raise TokenVerificationError(f"issued for {audience!r}, not for client {self.settings.client_id}")
        issued_at, now = claims.get("iat"), clock.epoch()
        if not isinstance(issued_at, int | float) or isinstance(issued_at, bool):
            raise TokenVerificationError("missing claim 'iat'")
        if issued_at > now + LEEWAY_SECONDS or issued_at < now - LOGOUT_TOKEN_MAX_AGE:
            raise TokenVerificationError("'iat' is not recent: a logout token is used when it is issued")
        expires = claims.get("exp")
        if expires is not None and (not isinstance(expires, int | float) or expires < now - LEEWAY_SECONDS):
            raise TokenVerificationError("the token has expired")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise TokenVerificationError(f"missing the 'events' claim with {BACKCHANNEL_LOGOUT_EVENT}")
        if "nonce" in claims:
            raise TokenVerificationError("a logout token carries no 'nonce' (this looks like an ID token)")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise TokenVerificationError("missing claim 'jti'")
        if not claims.get("sub") and not claims.get("sid"):
            raise TokenVerificationError("a logout token names a 'sub' or a 'sid'")
        return claims

    def _verified_signature(self, token):
        """The decoded token once its signature holds (asymmetric algorithms only)."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenVerificationError("not a signed JWT")
        try:
            decoded = self._decode(token)
        except InvalidKeyIdError:
            raise TokenVerificationError("signed with a key Casdoor does not publish (unknown kid)") from None
        except UnsupportedAlgorithmError:
            raise TokenVerificationError("algorithm not allowed; only asymmetric signatures are accepted") from None
        except BadSignatureError:
            raise TokenVerificationError("bad signature") from None
        except JoseError as exc:
            raise TokenVerificationError(f"malformed token: {exc.error}") from exc
        except ValueError as exc:
            raise TokenVerificationError(f"malformed token: {exc}") from exc
        if decoded.header.get("alg") not in ASYMMETRIC_ALGORITHMS:
            raise TokenVerificationError("algorithm not allowed; only asymmetric signatures are accepted")
        return decoded

    def _check_claims(self, claims, nonce):
        issuer = self.issuer()
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenVerificationError("the token has expired") from None
        except MissingClaimError as exc:
            raise TokenVerificationError(f"missing claim '{exc.claim}'") from exc
        except InvalidClaimError as exc:
            if exc.claim == "iss":
                raise TokenVerificationError(f"issued by {claims.get('iss')!r}, expected {issuer!r}") from exc
            raise TokenVerificationError(f"invalid '{exc.claim}' claim: {exc.description}") from exc
        except JoseError as exc:
            raise TokenVerificationError(exc.description or exc.error) from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.client_id not in audiences:
            raise TokenVerificationError(f"issued for {audience!r}, not for client {self.settings.client_id}")
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenVerificationError("nonce mismatch (a replayed or foreign sign-in)")


def _header_kid(token):
    import base64
    import json

    try:
        header = token.split(".", 1)[0]
        return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("kid")
    except (ValueError, AttributeError):
        return None


class VerifiedTokenCache:
    """Verified claims by token hash, for CASDOOR_TOKEN_CACHE_TTL seconds (never past ``exp``).

    A busy client sends the same Bearer token hundreds of times; verifying a
    signature each time is wasted work. The key is a SHA-256 of the token, so
    the cache holds no usable credential.
    """

    def __init__(self, ttl, max_entries=10_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(token):
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token):
        if self.ttl <= 0:
            return None
        now = clock.epoch()
        with self._lock:
            entry = self._entries.get(self.key(token))
            if entry is None:
                return None
            value, expires = entry
            if expires <= now:
                del self._entries[self.key(token)]
                return None
            return value

    def put(self, token, value, exp):
        if self.ttl <= 0:
            return
        now = clock.epoch()
        expires = min(now + self.ttl, float(exp or now))
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[self.key(token)] = (value, expires)

    def clear(self):
        with self._lock:
            self._entries.clear()
