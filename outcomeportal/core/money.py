"""Money: the one rounding policy of OutcomePortal.

The rule, once, for every amount a customer is billed:

* Amounts are :class:`~decimal.Decimal` from end to end. A float never touches money
  (:func:`to_decimal` refuses one).
* Per-event amounts and unit prices keep up to 6 decimal places (``EVENT_PLACES``); they
  are never rounded to the currency on their own.
* An invoice line is rounded **once**, to its currency's minor unit (USD 2 places, JPY 0,
  KWD 3, … as :mod:`outcomeportal.core.currencies` gives them), **half away from zero**
  (``ROUND_HALF_UP``): ``quantity × unit price`` — or the line's exact sum for gain-share and
  derived lines — goes in, the line amount comes out.
* An invoice's subtotal, credits applied and total are plain sums of already-rounded
  lines, so they never need rounding and the total always equals the sum of its lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from outcomeportal.core import formatting
from outcomeportal.core.currencies import minor_units

EVENT_PLACES = 6  # per-event amounts and unit prices: sub-cent precision, never rounded to the currency
_EVENT_QUANTUM = Decimal(1).scaleb(-EVENT_PLACES)
ROUNDING = ROUND_HALF_UP
ZERO = Decimal(0)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_line(amount: Decimal, currency: str) -> Decimal:
    """THE rounding: a line amount to the currency's minor unit, half away from zero."""
    return to_decimal(amount).quantize(quantum(currency), rounding=ROUNDING)


def round_event(amount: Decimal) -> Decimal:
    """A per-event amount or unit price kept at 6 places (half away from zero)."""
    return to_decimal(amount).quantize(_EVENT_QUANTUM, rounding=ROUNDING)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """A Decimal from a Decimal, an int or a decimal string — never from a float."""
    if isinstance(value, float):
        raise TypeError("Money never passes through float; use a decimal string.")
    if isinstance(value, Decimal):
        return value
    return Decimal(value)


def money_str(amount: Decimal, currency: str) -> str:
    """The amount as the API writes it: a decimal string with the currency's places ("47.52")."""
    return str(round_line(amount, currency))


def money_display(amount: Decimal, currency: str) -> str:
    """For people, rounded to the currency as an invoice line is: "$1,500.00", "¥12,000", "12.50 CHF"
    (the words are :func:`outcomeportal.core.formatting.money`'s)."""
    return formatting.money(round_line(amount, currency), currency)


def price_display(amount: Decimal, currency: str) -> str:
    """A unit price for people: at least the currency's places, more only when the price has them."""
    return formatting.money(to_decimal(amount), currency)
