"""Billing periods: whole calendar months in the account's time zone, named "YYYY-MM".

A period is half-open, ``[first instant, first instant of the next month)``, computed in the
account's zone; instants are stored in UTC. One module for every app (billing's invoices and
caps, metering's dashboards), so no two screens can cut a month differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from outcomeportal.core.formatting import month


def period_of(day: date) -> str:
    """The period of a local date."""
    return f"{day.year:04d}-{day.month:02d}"


def period_at(at: datetime, tz: str | ZoneInfo) -> str:
    """The period of an instant, in a time zone (an IANA name or a ZoneInfo)."""
    local = at.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"  # strftime costs three times as much


def period_add(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def period_first_day(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def period_days(period: str) -> tuple[date, date]:
    """The period's local dates, half-open: [first day, first day of the next month)."""
    return period_first_day(period), period_first_day(period_add(period, 1))


def period_bounds(period: str, tz: str) -> tuple[datetime, datetime]:
    """The period's [start, end) as aware instants: whole local months of the zone."""
    zone = ZoneInfo(tz)
    first, nxt = period_days(period)
    return datetime.combine(first, time(), tzinfo=zone), datetime.combine(nxt, time(), tzinfo=zone)


# A period as written: "YYYY-MM", ASCII digits, 1970-01 to 9999-12 (the OpenAPI schema's pattern too).
PERIOD_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


def period_parse(value: object) -> str | None:
    """``value`` when it is a period ("YYYY-MM", 1970–9999), else None."""
    return value if isinstance(value, str) and _PERIOD.match(value) else None


def periods_between(first: str, last: str) -> list[str]:
    """Every period from ``first`` to ``last``, both included, oldest first."""
    out = []
    period = first
    while period <= last:
        out.append(period)
        period = period_add(period, 1)
    return out


@dataclass(frozen=True, slots=True)
class Period:
    """A period with its bounds in the account's zone, as the portal's pages show it."""

    start: datetime
    end: datetime

    @classmethod
    def named(cls, key: str, tz: str) -> Period:
        return cls(*period_bounds(key, tz))

    @classmethod
    def containing(cls, at: datetime, tz: str) -> Period:
        return cls.named(period_at(at, tz), tz)

    @property
    def key(self) -> str:
        return period_of(self.start.date())

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def end_day(self) -> date:
        """The first local day after the period (exclusive bound)."""
        return self.end.date()

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def label(self) -> str:
        return month(self.start.year, self.start.month)

    def previous(self) -> Period:
        return Period.named(period_add(self.key, -1), str(self.start.tzinfo))
