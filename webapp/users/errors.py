"""Account errors: why an account could not be created."""
from webapp.core.errors import StorehouseError


class SignupError(StorehouseError):
    status_code = 409
    error = "signup_failed"
