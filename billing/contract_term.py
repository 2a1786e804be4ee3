"""A contract's term and renewal, as dates: which term is running on a day, when it ends, whether it
renews, and by when notice of non-renewal is due. Pure — no Django.

The rule (``term`` of a contract document, :class:`billing.pricing.terms.ContractTerm`):

- the first term runs ``months`` months from ``starts`` and ends the day before the same day
  ``months`` later (1 Jan 2026 for 12 months ends on 31 Dec 2026); each renewal's end is counted
  from ``starts`` too, so a start on the 31st never drifts to the 28th;
- ``renewal = "auto"``: at each end a new term of ``renewal_months`` begins, unless either side gave
  notice at least ``notice_days`` before that end (notice is recorded by saving a version whose
  ``renewal`` is ``none``);
- ``renewal = "none"``: the contract ends with its first term. Prices do not stop: the last version
  keeps governing month to month until a new contract is saved — the vendor sees the account
  flagged ("ended, no renewal") on the renewals page.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from billing.pricing.terms import ContractTerm

NOTICE_SOON_DAYS = 30  # the renewals page flags a notice deadline this close (or an end, for "none")


def months_after(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day where it is shorter."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


@dataclass(frozen=True, slots=True)
class TermState:
    """The term running on ``on`` (or the last one, after an end without renewal)."""

    on: date
    number: int  # 1 for the first term, 2 after the first renewal…
    starts: date
    last_day: date  # the term's last day (inclusive)
    renews: bool  # True: a new term of ``renewal_months`` begins the day after ``last_day``
    renewal_months: int
    notice_by: date | None  # the last day to give notice of non-renewal (renewing terms only)
    not_started: bool  # ``on`` is before the first term
    ended: bool  # the contract ended (renewal none) before ``on``

    @property
    def next_day(self) -> date:
        """The first day after the term: a renewal's start, or the first day out of contract."""
        return self.last_day + timedelta(days=1)

    @property
    def days_left(self) -> int:
        return max((self.last_day - self.on).days + 1, 0)

    def notice_soon(self, within: int = NOTICE_SOON_DAYS) -> bool:
        """A decision is due soon: a notice deadline (renewing) or an end (not renewing) within ``within`` days."""
        if self.ended or self.not_started:
            return False
        due = self.notice_by if self.renews else self.last_day
        return due is not None and 0 <= (due - self.on).days <= within


def term_state(term: ContractTerm, *, on: date) -> TermState:
    """Where ``term`` stands on the day ``on``."""
    number, starts, months = 1, term.starts, term.months
    end = months_after(term.starts, months)  # the first day after the term
    renews = term.renewal == "auto"
    if renews and end <= on:
        # Skip the renewals before ``on`` at once (whole renewal lengths), then step to the one holding it.
        elapsed = (on.year - end.year) * 12 + on.month - end.month
        number = 1 + max(elapsed // term.renewal_months, 0)
        while True:
            starts = months_after(term.starts, months + (number - 2) * term.renewal_months)
            end = months_after(term.starts, months + (number - 1) * term.renewal_months)
            if end > on:
                break
            number += 1
    last_day = end - timedelta(days=1)
    return TermState(
        on=on,
        number=number,
        starts=starts,
        last_day=last_day,
        renews=renews,
        renewal_months=term.renewal_months,
        notice_by=end - timedelta(days=term.notice_days) if renews else None,
        not_started=on < term.starts,
        ended=not renews and on > last_day,
    )
