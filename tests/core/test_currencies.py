"""ISO 4217 in the kernel: which codes are currencies, and the minor unit money rounds to."""

from __future__ import annotations

from decimal import Decimal

import pytest

from outcomeportal.core import money
from outcomeportal.core.currencies import MINOR_UNITS, is_currency

# What money.py held before the table moved to currencies.py: every code whose minor unit is not 2.
MINOR_UNITS_BEFORE = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "JPY", "KWD", "CLF", "CHF", "INR", "ZWG", "XCG", "SLE"])
def test_active_codes_are_currencies(code):
    assert is_currency(code)


@pytest.mark.parametrize(
    "code",
    [
        "QQQ",  # no such code
        "XXX",  # "no currency is involved"
        "XTS",  # reserved for testing
        "XAU",  # gold: no minor unit
        "XDR",  # special drawing right: no minor unit
        "HRK",  # withdrawn (Croatia uses the euro since 2023)
        "usd",  # codes are upper case
        "US",
        "",
    ],
)
def test_other_codes_are_not(code):
    assert not is_currency(code)


def test_the_table_holds_the_active_list():
    assert len(MINOR_UNITS) == 165
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in MINOR_UNITS)
    assert set(MINOR_UNITS.values()) == {0, 2, 3, 4}


def test_money_takes_every_minor_unit_from_the_table():
    for code, places in MINOR_UNITS.items():
        assert money.minor_units(code) == places, code
        assert money.round_line(Decimal("1.23456"), code).as_tuple().exponent == -places


def test_money_rounds_as_before_for_every_currency():
    assert {code: places for code, places in MINOR_UNITS.items() if places != 2} == MINOR_UNITS_BEFORE


@pytest.mark.parametrize(("code", "rounded"), [("USD", "12.35"), ("jpy", "12"), ("KWD", "12.346"), ("CLF", "12.3457")])
def test_round_line_per_currency(code, rounded):
    assert money.round_line(Decimal("12.34567"), code) == Decimal(rounded)


def test_a_code_the_table_does_not_hold_keeps_two_places():
    # Only an account from before codes were checked could carry one; it rounds as it always did.
    assert money.minor_units("HRK") == 2
    assert money.money_str(Decimal("1.005"), "HRK") == "1.01"
