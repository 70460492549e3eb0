"""The limit on failed sign-ins, shared by every route that checks a password."""
from flask import current_app

from webapp.extensions import limiter


def limit_failed_signins(*, success_status, methods=None):
    """Count only failed attempts towards SIGNIN_FAILURE_LIMIT (per client address).

    :param success_status: the status a successful sign-in answers with (302
        for pages, 200 for the API); every other answer counts as a failure.
    :param methods: limit only these methods (pages limit POST, not the form).
    """
    return limiter.limit(
        lambda: current_app.config["SIGNIN_FAILURE_LIMIT"],
        methods=methods,
        deduct_when=lambda response: response.status_code != success_status,
    )
