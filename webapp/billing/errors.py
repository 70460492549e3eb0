"""Billing errors. Each says what happened and what a person can do about it.

Casdoor being unreachable is not a billing error: the client raises
``webapp.casdoor.errors.CasdoorUnavailable`` for it, and for a charge that means
"outcome unknown" (Casdoor may have recorded it), never "not charged".
"""
from decimal import Decimal

from webapp.core.errors import StorehouseError
from webapp.core.money import display


class BillingError(StorehouseError):
    """Base of the billing errors.

    ``may_be_recorded`` is True when the refusal answered a real (not dry-run)
    add: Casdoor inserts the transaction before it checks the user and the
    balance, so a refused add may have left its row behind. Look the key up
    before deciding anything about the charge.
    """

    status_code = 502
    error = "billing_error"

    def __init__(self, message, *, casdoor_message="", may_be_recorded=False, **kwargs):
        super().__init__(message, **kwargs)
        #: Casdoor's own text, untranslated, when Casdoor gave one.
        self.casdoor_message = casdoor_message
        self.may_be_recorded = may_be_recorded


class InsufficientBalance(BillingError):
    """The user's Casdoor balance does not cover the amount.

    :param needed: the amount that was asked for (the price, positive), in ``currency``.
    :param balance: the user's balance as Casdoor reported it, or None when
        Casdoor did not say. Casdoor counts balances in the user's balance
        currency; the figure is exact when that is ``currency`` (one currency per
        deployment, as Storehouse runs), and in the balance currency otherwise.
    :param credit_limit: how far below zero the balance may go (Casdoor's
        ``balanceCredit``; 0 when there is none), or None when not known.
    """

    status_code = 402
    error = "insufficient_balance"

    def __init__(self, needed, balance=None, *, currency, credit_limit=None, message=None, **kwargs):
        self.needed = needed
        self.balance = balance
        self.currency = currency
        self.credit_limit = credit_limit
        if message is None:
            message = self._describe()
        super().__init__(message, **kwargs)

    @property
    def available(self):
        """What may still be spent (balance minus credit limit), or None when unknown."""
        if self.balance is None:
            return None
        return max(self.balance - (self.credit_limit or Decimal(0)), Decimal(0))

    def _describe(self):
        needed = f"{display(self.needed)} {self.currency}"
        if self.available is None:
            return (f"Your Casdoor balance does not cover {needed}. Top up your balance in "
                    "Casdoor, or ask your administrator.")
        return (f"This needs {needed}, and your Casdoor balance has "
                f"{display(self.available)} {self.currency} left. Top up your balance in "
                "Casdoor, or ask your administrator.")


class BillingRejected(BillingError):
    """Casdoor refused the transaction for a reason that retrying will not change
    (unknown user, a refused field, a Casdoor that speaks another transaction
    shape than configured). ``casdoor_message`` holds Casdoor's reason."""

    error = "billing_rejected"
