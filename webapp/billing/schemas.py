"""JSON bodies of the billing API (spending limits), checked strictly by ``parse_body``."""
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from webapp.billing.models import PERIODS
from webapp.core.bodies import Body
from webapp.providers.service import CURRENCIES

FLOAT_REFUSED = ('must be an exact amount: a string such as "25.00" or a whole number '
                 "(a number with a fraction would be a float, which is not exact)")


def _exact_amount(value):
    """A limit's amount as a Decimal, from a string ("25.00") or a whole number; never a float."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(FLOAT_REFUSED)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError('must be an amount such as "25.00"') from None
        if not amount.is_finite():
            raise ValueError('must be an amount such as "25.00"')
        return amount
    raise ValueError(FLOAT_REFUSED)


#: At least 0, at most 8 decimal places (Casdoor's), fits ``Numeric(18, 8)``.
Amount = Annotated[Decimal, BeforeValidator(_exact_amount), Field(ge=0, max_digits=18, decimal_places=8)]


class LimitBody(Body):
    period: Literal[PERIODS]
    amount: Amount
    currency: Literal[CURRENCIES]
    #: Percent of the amount at which people are warned.
    alert_at: Annotated[int, Field(ge=1, le=100)] = 80

    def values(self):
        return {"period": self.period, "amount": self.amount, "currency": self.currency, "alert_at": self.alert_at}


class StoreLimitsBody(Body):
    """``PUT /api/v1/s/<store>/limits``: a field sent as an object sets that limit, as null removes
    it; a field left out stays as it is."""

    store: LimitBody | None = None
    per_person: LimitBody | None = None
