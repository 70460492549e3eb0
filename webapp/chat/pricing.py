"""What an answer costs, in exact decimals.

``price = (prompt_tokens × input price + completion_tokens × output price) / 1,000,000``,
computed in ``Decimal`` and rounded half-up to 8 places (the ``Numeric(18, 8)``
columns and Casdoor's precision). 1,234 prompt + 567 completion tokens at
0.15 / 0.60 per million cost exactly 0.00052530.
"""
from decimal import ROUND_HALF_UP, Decimal

PLACES = Decimal("0.00000001")
MILLION = Decimal(1_000_000)


def to_decimal(value):
    """``value`` as a Decimal; floats go through their shortest repr, never their binary value."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def answer_price(prompt_tokens, completion_tokens, input_price, output_price):
    """The price of an answer, a Decimal with 8 places."""
    total = (Decimal(prompt_tokens) * to_decimal(input_price)
             + Decimal(completion_tokens) * to_decimal(output_price)) / MILLION
    return total.quantize(PLACES, rounding=ROUND_HALF_UP)


def money(value):
    """A price for JSON and CSV: its exact decimal string with 8 places."""
    return format(to_decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP), "f")


def display(value):
    """A price for people: exact, without trailing zeros past the cents (0.15, 0.0005253, 0.00)."""
    text = format(to_decimal(value).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
