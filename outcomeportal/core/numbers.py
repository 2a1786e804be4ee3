"""Numbers that come in from outside: the bounds of the database's columns, and decimal strings.

One grammar for every amount a client writes (events' ``value_amount`` / ``cost_amount``, prices,
caps, contract fields): a plain decimal string of ASCII digits, ``"0.99"``, ``"12"``, ``"1500.00"``
— no sign, no exponent, no spaces, no underscores, at most so many digits before and after the
point. What :class:`decimal.Decimal` alone would also take (``" 1"``, ``"1_000"``, ``"1e3"``,
``"-0.5"``, ``"NaN"``) is refused, with a reason a message can name. The OpenAPI schema publishes
the same grammar as a pattern (:func:`decimal_pattern`), so a body valid by the schema is valid
here, and one this refuses is invalid by the schema.

Every amount the API and the portal accept can never be negative; the few signed amounts (an
invoice's discount line) are computed, never written by a client.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

# What PostgreSQL's columns hold: an integer field (``integer``) and a ``bigint``.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# Why a decimal string was refused (callers word their own messages).
NOT_DECIMAL = "not_decimal"  # not a string, or not plain digits with an optional point
NEGATIVE = "negative"
TOO_LARGE = "too_large"  # not finite, or more digits before the point than the column holds
TOO_PRECISE = "too_precise"  # more decimal places than allowed


class DecimalRefused(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@cache
def decimal_pattern(*, whole_digits: int = 12, places: int = 6) -> str:
    """The grammar of a decimal string, as a regular expression (the schema's ``pattern``)."""
    fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
    return rf"^[0-9]{{1,{whole_digits}}}{fraction}$"


@cache
def _matcher(whole_digits: int, places: int):
    return re.compile(decimal_pattern(whole_digits=whole_digits, places=places)).match


_SIGNED = re.compile(r"[+-]?[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?\Z")


def decimal_parse(raw: object, *, whole_digits: int = 12, places: int = 6) -> Decimal:
    """The Decimal a client wrote as ``raw``; :class:`DecimalRefused` with the reason if it is not one.

    ``whole_digits`` bounds the value below 10**whole_digits (what the column holds); ``places`` the
    digits after the point.
    """
    if isinstance(raw, str) and _matcher(whole_digits, places)(raw):
        return Decimal(raw)
    raise DecimalRefused(decimal_refusal(raw, whole_digits=whole_digits, places=places))


def decimal_refusal(raw: object, *, whole_digits: int = 12, places: int = 6) -> str:
    """Why ``raw`` is not a decimal string of the grammar (for a value the grammar refused)."""
    if not isinstance(raw, str) or not raw.isascii():
        return NOT_DECIMAL
    lowered = raw.lower()
    if lowered.lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        return TOO_LARGE
    if not raw or not _SIGNED.match(raw) or not any(c.isdigit() for c in raw.split("e")[0].split("E")[0]):
        return NOT_DECIMAL
    value = Decimal(raw)
    if abs(value) >= Decimal(10) ** whole_digits:
        return TOO_LARGE
    if value < 0:
        return NEGATIVE
    if value.as_tuple().exponent < -places:
        return TOO_PRECISE
    return NOT_DECIMAL  # a sign, an exponent, or a point without digits: not how amounts are written
