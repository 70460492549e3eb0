"""Billing: AI answers charged to the user's balance in Casdoor.

* ``client.py``   Casdoor's transaction API (dry run, add, find by key, listing),
  money as ``Decimal``; both transaction shapes.
* ``models.py``   charges (the outbox), reservations, per-user billing state.
* ``service.py``  reserve before answering, settle with the answer, release.
* ``limits.py``   spending limits per store and per person: what applies, the
  period's spend (the usage rollup + answers in flight), refusals, status.
* ``alerts.py``   a threshold or a limit reached, recorded once per period, and the
  ``billing.limit_alert`` job that POSTs it to ``BILLING_ALERT_WEBHOOK_URL``.
* ``delivery.py`` the ``billing.deliver_charge`` job: check, then send.
* ``reconcile.py`` the local ledger against Casdoor's transactions.
* ``views.py``, ``api.py``, ``cli.py``: the user's and the administrator's pages,
  ``GET /api/v1/billing/charges/``, ``flask billing reconcile | status``.

URLs in ``blueprint.py``.

The chat reaches billing through one seam only, ``webapp.chat.charging``.
"""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webapp.core.errors import ConfigurationError
from webapp.navigation import nav_item

#: Settings with their defaults (``config.py`` reads them from the environment).
DEFAULTS = {
    #: "current" (Casdoor v2.162+) or "legacy" (Casdoor v2.117 - v2.144).
    "BILLING_TRANSACTION_SHAPE": "current",
    #: Casdoor's ``category`` of every charge.
    "BILLING_CATEGORY": "Storehouse Chat",
    #: Casdoor unreachable at the balance check: "refuse" the answer, or "allow" it
    #: while the user's answers in flight stay within BILLING_DOWN_ALLOWANCE.
    "BILLING_WHEN_CASDOOR_DOWN": "refuse",
    "BILLING_DOWN_ALLOWANCE": "0.10",
    #: How long an answer's reservation counts if it is never settled (its process died).
    "BILLING_RESERVATION_SECONDS": 900,
    #: The calendar of the usage rollup's days and the limits' periods.
    "BILLING_TIMEZONE": "UTC",
    #: Where limit alerts are POSTed as JSON (empty: recorded and shown only).
    "BILLING_ALERT_WEBHOOK_URL": "",
}


def init_app(app):
    """Settings, the delivery job, the pages, the API, ``flask billing`` and the menu entries."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if app.config["BILLING_TRANSACTION_SHAPE"] not in ("current", "legacy"):
        raise ConfigurationError("BILLING_TRANSACTION_SHAPE must be 'current' (Casdoor v2.162+) or "
                                 "'legacy' (Casdoor v2.144 and older).")
    if app.config["BILLING_WHEN_CASDOOR_DOWN"] not in ("refuse", "allow"):
        raise ConfigurationError("BILLING_WHEN_CASDOOR_DOWN must be 'refuse' or 'allow'.")
    try:
        ZoneInfo(app.config["BILLING_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"BILLING_TIMEZONE {app.config['BILLING_TIMEZONE']!r} is no time zone "
                                 "(write one such as 'UTC' or 'Europe/Berlin').") from None
    from webapp.billing import alerts, delivery  # noqa: F401  (register billing.deliver_charge, billing.limit_alert)
    from webapp.billing.blueprint import api_bp, limit_pages, limits_api, pages
    from webapp.billing.cli import billing_cli

    app.register_blueprint(pages)
    app.register_blueprint(api_bp)
    app.register_blueprint(limits_api)
    app.register_blueprint(limit_pages)
    app.cli.add_command(billing_cli)
    nav_item(app, "account", "billing.my_charges", "Billing", "receipt", order=30, store_scoped=False,
             testid="billing-link")
    nav_item(app, "admin", "billing.admin_overview", "Billing", "receipt", order=40, admin_only=True,
             store_scoped=False, also_current=("billing.admin_user_ledger", "billing.admin_limits"),
             testid="admin-billing-link")
    nav_item(app, "store", "billing_limits.store_limits", "Limits", "receipt", order=45, admin_only=True,
             also_current=("billing_limits.person_limit",), testid="nav-limits")
