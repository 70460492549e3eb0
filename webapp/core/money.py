"""Money as exact decimals: never a float, 8 places where it is stored or sent.

``Numeric(18, 8)`` columns and Casdoor's transactions carry 8 decimal places.
Amounts are computed in ``Decimal``, rounded half-up to those places, sent as
strings (``exact``) and shown to people without trailing zeros past the cents
(``display``). Pure: no Flask, no database.
"""
from decimal import ROUND_HALF_UP, Decimal

#: The stored precision: 8 decimal places.
PLACES = Decimal("0.00000001")


def to_decimal(value):
    """``value`` as a Decimal; floats go through their shortest repr, never their binary value."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def quantize(value):
    """``value`` rounded half-up to 8 places."""
    return to_decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP)


def exact(value):
    """An amount for JSON and CSV: its exact decimal string with 8 places (``"0.00052530"``)."""
    return format(quantize(value), "f")


def display(value):
    """An amount for people: every significant digit, at least two decimals, never an exponent.

    ``0.00052530`` -> ``0.0005253``, ``5`` -> ``5.00``, ``None`` -> ``0.00``.
    """
    text = format(to_decimal(value if value is not None else 0).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
