"""Casdoor settings: shadow mode, start-up errors that name the variable, PEM handling."""
import pytest

from tests.support.casdoor import casdoor_config, certificate_pem
from webapp.casdoor.settings import CasdoorSettings, normalize_pem
from webapp.core.errors import ConfigurationError

BASE = {"CASDOOR_ENDPOINT": "https://auth.example.com", "CASDOOR_CLIENT_ID": "id",
        "CASDOOR_ORG_NAME": "org", "CASDOOR_APP_NAME": "app"}


@pytest.mark.parametrize("missing", sorted(BASE))
def test_any_required_value_missing_means_shadow_mode(missing):
    assert CasdoorSettings.from_config({**BASE, missing: ""}) is None


def test_endpoint_without_scheme_stops_the_app(make_app, migrated):
    with pytest.raises(ConfigurationError, match="CASDOOR_ENDPOINT"):
        make_app(**{**BASE, "CASDOOR_ENDPOINT": "auth.example.com"})


def test_malformed_pem_stops_the_app(make_app, migrated):
    with pytest.raises(ConfigurationError, match="CASDOOR_CERTIFICATE"):
        make_app(**BASE, CASDOOR_CERTIFICATE="-----BEGIN CERTIFICATE-----\\nnot base64\\n-----END CERTIFICATE-----")


def test_single_line_pem_is_normalised():
    assert normalize_pem('"-----BEGIN X-----\\nabc\\n-----END X-----"') == "-----BEGIN X-----\nabc\n-----END X-----\n"


def test_configured_certificate_verifies_sign_in(make_app, migrated, casdoor, db):
    from tests.support.casdoor import sso_sign_in
    from tests.support.database import clear_tables
    escaped = certificate_pem(casdoor).replace("\n", "\\n")
    app = make_app(**casdoor_config(casdoor, CASDOOR_CERTIFICATE=escaped))
    with app.app_context():
        try:
            assert sso_sign_in(app.test_client(), "bob").status_code == 302
        finally:
            db.session.remove()
            clear_tables()


def test_a_certificate_that_does_not_match_fails_with_the_runbook_message(make_app, migrated, casdoor, db):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wrong cert")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    from tests.support.casdoor import sso_sign_in
    from tests.support.database import clear_tables
    app = make_app(**casdoor_config(casdoor, CASDOOR_CERTIFICATE=pem))
    with app.app_context():
        try:
            response = sso_sign_in(app.test_client(), "bob")
            assert response.status_code == 401
            text = response.get_data(as_text=True)
            assert "Cannot sign in: JWT verification failed (bad signature)" in text
            assert "CASDOOR_CERTIFICATE may not match" in text
        finally:
            db.session.remove()
            clear_tables()
