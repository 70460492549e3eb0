"""Sign-in errors. Each message tells the person what happened and what to do."""
from webapp.core.errors import StorehouseError


class AuthError(StorehouseError):
    status_code = 401
    error = "unauthorized"


class InvalidCredentials(AuthError):
    def __init__(self):
        super().__init__("Wrong email or password. Check both and try again.", error="invalid_credentials")


class AccountDisabled(AuthError):
    status_code = 403

    def __init__(self):
        super().__init__("This account is disabled. Ask an administrator to re-enable it.",
                         error="account_disabled")
