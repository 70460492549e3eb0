"""Casdoor errors. Every message says what happened and what a person can do."""
from webapp.core.errors import StorehouseError


class CasdoorError(StorehouseError):
    """Casdoor answered, but not with what we asked for (an error envelope, a bad reply)."""

    status_code = 502
    error = "casdoor_error"


class CasdoorRefused(CasdoorError):
    """Casdoor answered with an error envelope (``status: "error"``, HTTP 200).

    ``casdoor_message`` keeps Casdoor's own ``msg`` untouched, for callers that
    must tell one refusal from another (billing reads the balance figures in it).
    """

    def __init__(self, message, casdoor_message):
        super().__init__(message)
        self.casdoor_message = casdoor_message


class NotCasdoor(CasdoorError):
    """The server has no such Casdoor REST endpoint (HTTP 404/405, or an answer that is
    not Casdoor's envelope): a plain OpenID Connect provider behind the CASDOOR_* settings."""


class CasdoorNotConfigured(CasdoorError):
    status_code = 503
    error = "casdoor_not_configured"

    def __init__(self):
        super().__init__(
            "Casdoor single sign-on is not configured on this server: set CASDOOR_ENDPOINT, "
            "CASDOOR_CLIENT_ID, CASDOOR_ORG_NAME and CASDOOR_APP_NAME, or sign in with email and password."
        )


class CasdoorUnavailable(CasdoorError):
    status_code = 503
    error = "casdoor_unavailable"

    def __init__(self, endpoint, reason):
        super().__init__(
            f"Casdoor at {endpoint} did not answer ({reason}). Try again in a minute; if it keeps "
            "failing, check that Casdoor is running and reachable from this server."
        )


class SignInError(CasdoorError):
    """Sign-in through Casdoor was refused; the message starts with "Cannot sign in"."""

    status_code = 401
    error = "casdoor_signin_failed"


class TokenVerificationError(SignInError):
    error = "jwt_verification_failed"

    def __init__(self, reason):
        self.reason = reason
        super().__init__(
            f"Cannot sign in: JWT verification failed ({reason}). If this keeps happening, "
            "CASDOOR_CERTIFICATE may not match the application's signing certificate in Casdoor."
        )


class GroupGateError(SignInError):
    status_code = 403
    error = "casdoor_group_required"

    def __init__(self, username, required):
        super().__init__(
            f"Cannot sign in: Casdoor user '{username}' is not a member of any required group "
            f"({', '.join(required)}). Ask your Casdoor administrator to add you to one of them."
        )


class IdentityConflict(CasdoorError):
    status_code = 409
    error = "casdoor_identity_conflict"


#: Why Casdoor no longer lets a person in (``User.casdoor_blocked_reason``), as people read it.
BLOCKED_REASONS = {
    "deleted": "this Casdoor account was deleted",
    "forbidden": "this Casdoor account is forbidden",
    "groups": "this Casdoor account is no longer in any group Storehouse requires",
}


class AccessRevoked(SignInError):
    """Casdoor, as Storehouse last read it, no longer lets this person in."""

    status_code = 403
    error = "casdoor_access_revoked"

    def __init__(self, reason):
        self.reason = reason
        super().__init__(f"Cannot sign in: {BLOCKED_REASONS.get(reason, reason)}. Your Storehouse sessions and "
                         "tokens were ended when Casdoor said so. Ask your Casdoor administrator.")


class SignedOutAtCasdoor(SignInError):
    """A Casdoor token issued before the person signed out in Casdoor."""

    error = "casdoor_signed_out"

    def __init__(self):
        super().__init__("Cannot sign in: you signed out in Casdoor after this token was issued. "
                         "Sign in again to get a new one.")
