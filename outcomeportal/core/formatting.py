"""How the portal writes numbers, dates and nouns for people: one rule for each, written once.

Every page, CSV header note, email and notification formats through this module (the templates
through the filters of ``billing/templatetags/portal.py``), so that a figure reads the same
wherever it appears. Pure Python, no Django: a caller converts a datetime to the zone it wants
shown, or passes the zone.

The house style (English, locale-independent — the month names are this module's, not the C
library's):

==============  ============================================================================
money           ``$1,527.75``, ``¥12,000``, ``€0.99``, ``12.50 CHF``; the currency's minor unit
                (USD 2 places, JPY 0, KWD 3) and more only when the amount has them (a per-event
                price of ``$0.495``); a negative amount puts its sign first: ``-$12.50``.
count           ``36,361``: thousands separated by commas; a fractional count keeps its
                decimals (``1,234.5`` credits).
percent         a fraction as a percentage with one decimal: ``3.3%``. A rate that is not zero
                never reads ``0.0%`` and one short of the whole never reads ``100.0%``: more
                decimals are shown until the first significant digit appears (1 of 36,361 is
                ``0.003%``).
day             ``6 Dec 2026``.
moment          ``6 Dec 2026, 14:55`` — in the zone the caller names (the account's); an email
                names the zone (``6 Dec 2026, 14:55 EST``), an audit record's exact instant adds
                the seconds: ``6 Dec 2026, 14:55:07 EST``.
period          a whole calendar month is its name: ``December 2026``; any other range of days
                is ``1–15 Dec 2026``, ``28 Nov – 3 Dec 2026``, ``28 Dec 2026 – 3 Jan 2027``,
                both days included (the half-open ``[start, end)`` of the database is never
                shown as such).
duration        coarse, the two largest units: ``35 min``, ``3 h 20 min``, ``1 day 4 h``,
                ``2 days``; under a minute but not zero reads ``1 min``.
plural          ``1 outcome``, ``2 outcomes``, ``36,361 outcomes`` — never ``outcome(s)``.
none            a missing value (None) is ``—`` for every rule.
==============  ============================================================================
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from outcomeportal.core.currencies import minor_units

NONE = "—"  # what every rule writes for a missing value
EN_DASH = "–"

# Symbols written before the amount; any other currency is written after it, by its code.
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
MONTHS_SHORT = tuple(m[:3] for m in MONTHS)
MAX_PLACES = 6  # the finest amount the portal stores (per-event prices, money.EVENT_PLACES)
PERCENT_PLACES = 1


def _decimal(value: Decimal | int | float | str) -> Decimal:
    """A Decimal of a number; a float through its shortest repr (a display never needs more)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value) if isinstance(value, float) else value)


# --- Numbers -----------------------------------------------------------------------------------


def money(amount: Decimal | int | str | None, currency: str) -> str:
    """``$1,527.75``: the currency's places, more when the amount has them (up to six)."""
    if amount is None:
        return NONE
    value = _decimal(amount)
    if not value.is_finite():
        return str(amount)
    exponent = value.normalize().as_tuple().exponent
    places = min(max(minor_units(currency), -exponent if isinstance(exponent, int) else 0), MAX_PLACES)
    shown = abs(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{shown:,.{places}f}"
    sign = "-" if value < 0 and shown != 0 else ""
    code = (currency or "").upper()
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {code}".rstrip()


def count(value: Decimal | int | float | str | None) -> str:
    """``36,361``; a fractional count keeps its decimals, without trailing zeros (``1,234.5``)."""
    if value is None:
        return NONE
    number = _decimal(value)
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    exact = number.normalize()
    return f"{exact:,.{-exact.as_tuple().exponent}f}"


def percent(fraction: Decimal | int | float | str | None, places: int = PERCENT_PLACES) -> str:
    """A fraction as a percentage (0.0333 → ``3.3%``); never ``0.0%`` for a non-zero rate, never
    ``100.0%`` for one short of the whole: decimals are added until the first significant digit shows."""
    if fraction is None:
        return NONE
    value = _decimal(fraction) * 100
    if not value.is_finite():
        return NONE
    shown = places
    while shown < 10:
        rounded = _round(value, shown)
        too_small = value != 0 and rounded == 0
        too_whole = abs(value) < 100 and abs(rounded) >= 100
        if not (too_small or too_whole):
            break
        shown += 1
    rounded = _round(value, shown)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{abs(rounded):,.{shown}f}%"


def _round(value: Decimal, places: int) -> Decimal:
    """Half away from zero, as money rounds (a display never rounds half to even)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# --- Nouns -------------------------------------------------------------------------------------


def plural_of(noun: str) -> str:
    """The regular English plural: outcome → outcomes, entry → entries, batch → batches."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return f"{noun}es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return f"{noun[:-1]}ies"
    return f"{noun}s"


def plural(n: Decimal | int | None, singular: str, plural_form: str | None = None, *, with_count: bool = True) -> str:
    """``1 outcome``, ``2 outcomes``, ``36,361 outcomes``; ``with_count=False`` gives the noun alone.

    ``singular`` may carry both forms, comma-separated (``"dispute is,disputes are"``).
    """
    if plural_form is None and "," in singular:
        singular, plural_form = (part.strip() for part in singular.split(",", 1))
    n = 0 if n is None else n
    noun = singular if _decimal(n) == 1 else (plural_form or plural_of(singular))
    return f"{count(n)} {noun}" if with_count else noun


# --- Dates and times ---------------------------------------------------------------------------


def day(value: date | datetime | None) -> str:
    """``6 Dec 2026`` (a datetime: its own date — convert it to the zone to show first)."""
    if value is None:
        return NONE
    return f"{value.day} {MONTHS_SHORT[value.month - 1]} {value.year}"


def moment(
    value: datetime | None, zone: str | tzinfo | None = None, *, exact: bool = False, with_zone: bool = False
) -> str:
    """``6 Dec 2026, 14:55`` in ``zone`` (a name or a tzinfo); without one, as the datetime is.
    ``with_zone`` names the zone (``6 Dec 2026, 14:55 EST``: an email, read anywhere); ``exact`` also
    adds the seconds (``6 Dec 2026, 14:55:07 EST``: audit records)."""
    if value is None:
        return NONE
    if zone is not None and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)
    text = f"{day(value)}, {value:%H:%M:%S}" if exact else f"{day(value)}, {value:%H:%M}"
    abbreviation = value.tzname() if (exact or with_zone) and value.tzinfo is not None else None
    return f"{text} {abbreviation}" if abbreviation else text


def month(year: int, number: int) -> str:
    """``December 2026``."""
    return f"{MONTHS[number - 1]} {year}"


def period_key(key: str) -> str:
    """A period key (``2026-12``) by its name: ``December 2026``; anything else as it is."""
    try:
        year, number = (int(part) for part in key.split("-"))
        return month(year, number)
    except (ValueError, IndexError):
        return key


def days(first: date, last: date) -> str:
    """The days from ``first`` to ``last``, both included: a whole calendar month by its name
    (``December 2026``), any other range as :func:`day_range` writes it."""
    whole_month = (
        first.day == 1 and (first.year, first.month) == (last.year, last.month) and (last + timedelta(days=1)).day == 1
    )
    return month(first.year, first.month) if whole_month else day_range(first, last)


def day_range(first: date, last: date) -> str:
    """``1–31 Dec 2026``, ``28 Nov – 3 Dec 2026``, ``28 Dec 2026 – 3 Jan 2027``, ``6 Dec 2026``:
    both days included, the shared month and year written once."""
    if first == last:
        return day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{EN_DASH}{last.day} {MONTHS_SHORT[last.month - 1]} {last.year}"
    if first.year == last.year:
        return f"{first.day} {MONTHS_SHORT[first.month - 1]} {EN_DASH} {day(last)}"
    return f"{day(first)} {EN_DASH} {day(last)}"


def span(start: date | datetime, end: date | datetime) -> str:
    """A half-open ``[start, end)`` as the days it covers: ``1 Dec 2026 – 1 Jan 2027`` (end excluded)
    reads ``December 2026``. Datetimes must already be in the zone to show; an end at midnight
    excludes its day."""
    first = start.date() if isinstance(start, datetime) else start
    if isinstance(end, datetime):
        last = end.date() - timedelta(days=1) if end.time() == datetime.min.time() else end.date()
    else:
        last = end - timedelta(days=1)
    return days(first, max(first, last))


def duration(value: timedelta | int | float | None) -> str:
    """A length (a timedelta or seconds) in its two largest units: ``35 min``, ``3 h 20 min``,
    ``1 day 4 h``, ``2 days``. The absolute length: callers say "ago", "left" or "late"."""
    if value is None:
        return NONE
    seconds = abs(value.total_seconds() if isinstance(value, timedelta) else float(value))
    minutes = int(seconds // 60)
    if minutes == 0:
        return "0 min" if seconds == 0 else "1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    whole_days, hours = divmod(hours, 24)
    text = plural(whole_days, "day")
    return f"{text} {hours} h" if hours else text


def as_number(value: object) -> Decimal | None:
    """A Decimal of what a template passes: a number, or a numeric string as people or the API write it
    (``"1000"``, ``"1,000"``, ``"−12.5"``); None if it is not one."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().replace(",", "").replace("\u2212", "-")
    try:
        number = _decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None
