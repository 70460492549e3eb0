"""What an answer costs, in exact decimals.

``price = (prompt_tokens × input price + completion_tokens × output price) / 1,000,000``,
computed in ``Decimal`` and rounded half-up to 8 places (the ``Numeric(18, 8)``
columns and Casdoor's precision). 1,234 prompt + 567 completion tokens at
0.15 / 0.60 per million cost exactly 0.00052530.
"""
from decimal import Decimal

from webapp.core.money import quantize, to_decimal

MILLION = Decimal(1_000_000)


def answer_price(prompt_tokens, completion_tokens, input_price, output_price):
    """The price of an answer, a Decimal with 8 places."""
    total = (Decimal(prompt_tokens) * to_decimal(input_price)
             + Decimal(completion_tokens) * to_decimal(output_price)) / MILLION
    return quantize(total)
