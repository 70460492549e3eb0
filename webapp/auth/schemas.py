"""JSON bodies of the sign-in API (``webapp.auth.api``, ``webapp.auth.api``)."""
from pydantic import Field

from webapp.core.bodies import Body, Secret, line


class PasswordSignIn(Body):
    """``POST /api/v1/auth/login/``."""

    email: line(255)
    #: Checked against the hash only; the cap keeps hashing cheap.
    password: Secret = Field(max_length=1024)


class CasdoorCode(Body):
    """``POST /api/v1/auth/casdoor/exchange/`` and ``/bind/``: the code from Casdoor's redirect."""

    code: line(2048)
    #: The redirect_uri the code was issued for, exactly as sent to Casdoor's authorize page.
    redirect_uri: line(2048)
    #: The PKCE verifier, when the authorize request had a code_challenge.
    code_verifier: line(256) = None
    #: The nonce of the authorize request, checked against the ID token's.
    nonce: line(256) = None
