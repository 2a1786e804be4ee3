"""The presentation vocabulary (outcomeportal.core.formatting): one rule per kind of value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from outcomeportal.core import formatting as f
from outcomeportal.core.money import money_display, price_display
from outcomeportal.core.periods import Period


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (D("1527.75"), "USD", "$1,527.75"),
        (D("1500"), "USD", "$1,500.00"),
        (D("0"), "USD", "$0.00"),
        (0, "EUR", "€0.00"),
        (D("-12.5"), "USD", "-$12.50"),
        (D("-1527.75"), "GBP", "-£1,527.75"),
        (D("12000"), "JPY", "¥12,000"),
        (D("-12000"), "JPY", "-¥12,000"),
        (D("0.495"), "USD", "$0.495"),  # a per-event price keeps its precision
        (D("0.990000"), "USD", "$0.99"),  # stored places are not precision
        (D("1.5"), "KWD", "1.500 KWD"),
        (D("12.5"), "CHF", "12.50 CHF"),
        (D("1234567.891234"), "CAD", "CA$1,234,567.891234"),
        ("4.00", "usd", "$4.00"),
        (D("-0.0000001"), "USD", "$0.000000"),  # rounds to nothing: no sign on a zero
        (None, "USD", "—"),
    ],
)
def test_money(amount, currency, text):
    assert f.money(amount, currency) == text


def test_money_display_rounds_like_an_invoice_line_and_price_display_keeps_precision():
    assert money_display(D("0.125"), "USD") == "$0.13"  # half away from zero, the one rounding rule
    assert money_display(D("-0.125"), "USD") == "-$0.13"
    assert money_display(D("12000.4"), "JPY") == "¥12,000"
    assert price_display(D("0.495"), "EUR") == "€0.495"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1, "1"), (1000, "1,000"), (18480, "18,480"), (36361, "36,361"), (-4065, "-4,065"),
     (D("1000.0000"), "1,000"), (D("1234.50"), "1,234.5"), ("18480", "18,480"), (None, "—")],
)  # fmt: skip
def test_count(value, text):
    assert f.count(value) == text


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (0, "0.0%"),
        (D("0.0333"), "3.3%"),
        (D("0.5"), "50.0%"),
        (1, "100.0%"),
        (D(1) / D(36361), "0.003%"),  # 1 of 36,361: never "0.00%"
        (1 / 36361, "0.003%"),
        (D("0.0004"), "0.04%"),
        (D("0.99999"), "99.999%"),  # short of the whole: never "100.0%"
        (D("-0.05"), "-5.0%"),
        (D("-0.00001"), "-0.001%"),
        (D("12.345"), "1,234.5%"),
        (None, "—"),
    ],
)
def test_percent_never_hides_a_non_zero_rate(fraction, text):
    assert f.percent(fraction) == text


def test_percent_with_more_places():
    assert f.percent(D("0.012345"), 2) == "1.23%"


@pytest.mark.parametrize(
    ("n", "noun", "text"),
    [(0, "outcome", "0 outcomes"), (1, "outcome", "1 outcome"), (2, "outcome", "2 outcomes"),
     (4065, "outcome", "4,065 outcomes"), (1, "entry", "1 entry"), (3, "entry", "3 entries"),
     (2, "batch", "2 batches"), (2, "day", "2 days"), (D("1"), "credit", "1 credit"),
     (D("12.5"), "credit", "12.5 credits"),
     (1, "dispute is,disputes are", "1 dispute is"), (3, "dispute is,disputes are", "3 disputes are"),
     (None, "event", "0 events")],
)  # fmt: skip
def test_plural(n, noun, text):
    assert f.plural(n, noun) == text
    assert "(s)" not in text


def test_plural_noun_alone():
    assert f.plural(1, "is,are", with_count=False) == "is"
    assert f.plural(36361, "event", with_count=False) == "events"


def test_day_and_moment():
    assert f.day(date(2026, 9, 1)) == "1 Sep 2026"  # not "Sept. 1, 2026"
    assert f.day(datetime(2026, 12, 6, 23, 59)) == "6 Dec 2026"
    assert f.day(None) == "—"
    at = datetime(2026, 12, 6, 19, 55, 7, tzinfo=UTC)
    assert f.moment(at, "America/New_York") == "6 Dec 2026, 14:55"  # not "Dec 6 14:55"
    assert f.moment(at, ZoneInfo("Asia/Tokyo")) == "7 Dec 2026, 04:55"
    assert f.moment(at) == "6 Dec 2026, 19:55"
    assert f.moment(at, "America/New_York", with_zone=True) == "6 Dec 2026, 14:55 EST"
    assert f.moment(at, "America/New_York", exact=True) == "6 Dec 2026, 14:55:07 EST"
    assert f.moment(datetime(2026, 12, 6, 14, 55)) == "6 Dec 2026, 14:55"  # naive: as it is
    assert f.moment(None) == "—"


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2026, 12, 1), date(2027, 1, 1), "December 2026"),  # not "1 Dec 2026 – 1 Jan 2027 (end excluded)"
        (date(2026, 2, 1), date(2026, 3, 1), "February 2026"),
        (date(2026, 12, 1), date(2026, 12, 16), "1–15 Dec 2026"),
        (date(2026, 11, 28), date(2026, 12, 4), "28 Nov – 3 Dec 2026"),
        (date(2026, 12, 28), date(2027, 1, 4), "28 Dec 2026 – 3 Jan 2027"),
        (date(2026, 12, 6), date(2026, 12, 7), "6 Dec 2026"),
        (datetime(2026, 12, 1), datetime(2027, 1, 1), "December 2026"),  # midnight: its day excluded
        (datetime(2026, 12, 1, 9), datetime(2026, 12, 6, 14, 55), "1–6 Dec 2026"),
    ],
)
def test_span_reads_the_half_open_bounds_as_days(start, end, text):
    assert f.span(start, end) == text


def test_days_and_day_range():
    assert f.days(date(2026, 12, 1), date(2026, 12, 31)) == "December 2026"
    assert f.day_range(date(2026, 12, 1), date(2026, 12, 31)) == "1–31 Dec 2026"
    assert f.days(date(2026, 12, 2), date(2026, 12, 31)) == "2–31 Dec 2026"


def test_periods_by_name():
    assert f.period_key("2026-12") == "December 2026"
    assert f.period_key("2026-01") == "January 2026"
    assert f.period_key("not a period") == "not a period"
    period = Period.named("2026-12", "America/New_York")
    assert period.label == "December 2026"
    assert f.days(period.first_day, period.last_day) == "December 2026"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0 min"),
        (timedelta(seconds=20), "1 min"),
        (timedelta(minutes=35), "35 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, hours=4, minutes=30), "1 day 4 h"),
        (timedelta(days=2), "2 days"),
        (timedelta(hours=-7), "7 h"),  # the length: callers say "late" or "ago"
        (12000, "3 h 20 min"),
        (None, "—"),
    ],
)
def test_duration(value, text):
    assert f.duration(value) == text


def test_as_number_reads_what_templates_pass():
    assert f.as_number("1,000") == D(1000)
    assert f.as_number("\u22121,200") == D(-1200)
    assert f.as_number(D("2.5")) == D("2.5")
    assert [f.as_number(v) for v in (None, "", "abc", "NaN", True)] == [None] * 5
