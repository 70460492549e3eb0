"""Signing certificates: RSA key pairs with a self-signed X.509 certificate each.

A Casdoor ``Cert`` carries a PEM ``certificate`` (what JWKS and the SDK's
``parse_jwt_token`` read) and a PEM ``privateKey`` (what signs tokens). Keys are
generated on first start and written to ``state_dir`` so a restart keeps the
same keys, and therefore keeps previously issued tokens verifiable.
"""
import base64
import datetime
import functools
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def generate_key_pair(common_name, bit_size=2048):
    """Return ``(private_key_pem, certificate_pem)`` for a new self-signed RSA cert."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bit_size)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devcasdoor"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 20))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return private_pem, cert_pem


def ensure_key_material(cert, state_dir):
    """Fill ``cert['privateKey']`` / ``cert['certificate']`` in place.

    PEMs given in the seed win. Otherwise the pair stored in ``state_dir`` is
    loaded, or generated and stored there.
    """
    if cert.get("privateKey") and cert.get("certificate"):
        return cert
    base = os.path.join(state_dir, "certs", _SAFE_NAME.sub("_", cert["name"]))
    key_path, cert_path = base + ".key.pem", base + ".crt.pem"
    if os.path.exists(key_path) and os.path.exists(cert_path):
        with open(key_path) as f:
            cert["privateKey"] = f.read()
        with open(cert_path) as f:
            cert["certificate"] = f.read()
        return cert
    return replace_key_material(cert, state_dir)


def replace_key_material(cert, state_dir):
    """Generate a new key pair for ``cert``, store it in ``state_dir``, and return the cert."""
    private_pem, cert_pem = generate_key_pair(cert["name"], int(cert.get("bitSize") or 2048))
    base = os.path.join(state_dir, "certs", _SAFE_NAME.sub("_", cert["name"]))
    os.makedirs(os.path.dirname(base), exist_ok=True)
    key_path = base + ".key.pem"
    # The private key file is a secret even in development: owner-only.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private_pem)
    with open(base + ".crt.pem", "w") as f:
        f.write(cert_pem)
    cert["privateKey"] = private_pem
    cert["certificate"] = cert_pem
    return cert


def signing_key(cert):
    """The joserfc private key of a cert."""
    return _import_private_key(cert["privateKey"])


@functools.lru_cache(maxsize=32)
def _import_private_key(pem):
    # Loading an RSA private key validates it, which costs tens of milliseconds;
    # keyed by the PEM itself, so a rotated key is never served from the cache.
    return RSAKey.import_key(pem)


def public_jwk(cert):
    """The JWKS entry of a cert, keyed the way go-jose serialises it.

    ``kid`` is the cert's *name* (Casdoor does not derive it from the key), so
    replacing a cert's key keeps the kid.
    """
    certificate = x509.load_pem_x509_certificate(cert["certificate"].encode())
    public = RSAKey.import_key(certificate.public_key()).as_dict(private=False)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return {
        "use": "sig",
        "kty": "RSA",
        "kid": cert["name"],
        "alg": cert.get("cryptoAlgorithm") or "RS256",
        "n": public["n"],
        "e": public["e"],
        "x5c": [base64.b64encode(der).decode()],
    }
