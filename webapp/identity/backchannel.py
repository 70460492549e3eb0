"""OpenID Connect Back-Channel Logout 1.0: the provider tells Storehouse that a person signed out.

The ``logout_token`` is verified like an ID token (``webapp.casdoor.tokens``),
its ``jti`` is kept until the token could no longer be accepted anyway, so a
replay is refused, and the sessions the person opened through the provider
before the token was issued end (Bearer tokens issued before it stop counting).
Storehouse does not keep the provider's ``sid`` per session, so a token naming
a ``sub`` ends all of that person's provider sessions, the safe superset; a
token naming only a ``sid`` ends nothing and says so in the log.
"""
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.casdoor.errors import TokenVerificationError
from webapp.casdoor.tokens import LEEWAY_SECONDS, LOGOUT_TOKEN_MAX_AGE
from webapp.core.clock import utcnow
from webapp.database import savepoint
from webapp.extensions import db
from webapp.identity import service
from webapp.identity.models import LogoutTokenId

log = logging.getLogger("webapp.identity")


def _remember(jti, issued_at):
    """Keep ``jti`` while a token carrying it could still be accepted.

    :raises TokenVerificationError: it was used before (a replay).
    """
    expires = issued_at + timedelta(seconds=LOGOUT_TOKEN_MAX_AGE + 2 * LEEWAY_SECONDS)
    db.session.execute(sa.delete(LogoutTokenId).where(LogoutTokenId.expires_at < utcnow()))
    try:
        with savepoint():
            db.session.add(LogoutTokenId(jti=jti[:255], expires_at=expires))
            db.session.flush()
    except IntegrityError:
        raise TokenVerificationError("this logout token was used before (its 'jti' is not new)") from None


def accept_logout_token(casdoor, token):
    """Verify ``token`` and end the sessions it names (flushes; the caller commits).

    Returns how many sessions ended.

    :raises TokenVerificationError: the token is not a valid, fresh logout token for us.
    """
    claims = casdoor.verifier.verify_logout_token(token)
    issued_at = min(datetime.fromtimestamp(claims["iat"], UTC).replace(tzinfo=None), utcnow())
    _remember(claims["jti"], issued_at)
    user = service.find_linked(claims.get("sub"))
    if user is None:
        log.info("Back-channel logout for %s: no linked account (sid %s)", claims.get("sub"), claims.get("sid"))
        return 0
    return service.end_casdoor_sessions(user, issued_at, source="backchannel")
