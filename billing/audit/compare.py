"""The dashboard's comparison: this period so far against the same days of the previous period, and
the previous period whole.

Days are the account's local days (both rollups are kept by local day), so "1–7 Dec" means the
same seven days on every screen. Every figure is read from the rollups, never from events:

* **charges** — the period's own charges (fixed fees, outcome charges, adjustments) over those days,
  priced as the invoice prices them (:func:`billing.pricing.price_period` over the ledger's
  ``ChargeRollup``, the inputs of :mod:`billing.charges`): this period's figure is the dashboard's
  "month so far" and :attr:`billing.charges.PeriodCharges.spend`, to the cent. Outcomes still in
  their measurement window are not charged yet, on either side;
* **outcomes** — billable, not billable and attainment (billable ÷ decided, sandbox excluded), by the
  status customers see (:func:`billing.audit.counts.shown_counts`: metering's ``DailyRollup`` with the
  ledger's moves), as the dashboard's own counts.

Six small statements for the lot, whatever the number of events: the counts by day, each range's
charge rollup rows summed in the database (:func:`billing.charges.rollup_rows_between`, the reader
the invoice's pricing uses for whole periods), the contract versions, the reference-data stamp, and the two of
:func:`billing.charges.own_inputs` (the previous invoice's carry, prepaid credits). The words ("Up 12.4% (+$48.20) vs
1–7 Nov 2026") are written here with the portal's formatting rules, so a change is never told by
colour alone; a zero or missing base says "new" or "—", never divides by zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts import refcache
from accounts.models import Account
from billing.audit.counts import shown_counts
from billing.audit.summaries import status_tally
from billing.charges import Charging, counts_of, own_inputs, own_spend, rollup_rows_between
from billing.invoices.models import ContractVersion
from billing.pricing import price_period
from billing.selectors import contract_for_period
from outcomeportal.core import formatting
from outcomeportal.core.periods import Period

MONEY, COUNT, RATE = "money", "count", "rate"


@dataclass(frozen=True, slots=True)
class Figures:
    """One range of local days, both included, within one period."""

    first_day: date
    last_day: date
    spend: Decimal  # the period's own charges over these days, as the invoice prices them
    billable: int  # outcomes charged or to be charged (billable, invoiced, disputed)
    not_billable: int
    pending: int  # still in their measurement window: not decided yet
    attempted: int  # decided outcomes, sandbox excluded
    total: int  # every outcome of these days, whatever its status

    @property
    def attainment(self) -> float | None:
        return self.billable / self.attempted if self.attempted else None

    @property
    def label(self) -> str:
        return formatting.day_range(self.first_day, self.last_day)

    @property
    def empty(self) -> bool:
        return not (self.spend or self.total)


@dataclass(frozen=True, slots=True)
class Change:
    """One figure this period, on the same days of the previous one and over the previous one whole."""

    key: str  # "spend", "billable", "attainment" or "not_billable"
    label: str
    kind: str  # MONEY, COUNT or RATE
    now: Decimal | int | float | None
    before: Decimal | int | float | None
    whole: Decimal | int | float | None
    direction: str  # "up", "down", "same", "new" or "none" (nothing to compare)
    words: str  # the change in words and numbers, e.g. "Up 12.4% (+$48.20) vs 1–7 Nov 2026"
    now_text: str
    before_text: str
    whole_text: str


@dataclass(frozen=True, slots=True)
class PeriodComparison:
    period: Period
    previous: Period
    current: Figures  # this period, from its first day to today
    same_days: Figures | None  # the previous period's first days, as many as this one's so far; None: no previous
    whole: Figures | None  # the previous period, all of it; None when it had nothing at all
    changes: tuple[Change, ...]

    @property
    def has_previous(self) -> bool:
        return self.same_days is not None


def period_comparison(*, account: Account, now: datetime | None = None) -> PeriodComparison:
    """This period so far (to ``now``'s local day) against the same days of the previous period."""
    now = now or timezone.now()
    period = Period.containing(now, account.timezone)
    previous = period.previous()
    today = timezone.localtime(now, ZoneInfo(account.timezone)).date()
    same_last = min(previous.first_day + (today - period.first_day), previous.last_day)
    ranges = {
        "current": (period, period.first_day, today),
        "same_days": (previous, previous.first_day, same_last),
        "whole": (previous, previous.first_day, previous.last_day),
    }
    end_day = today + timedelta(days=1)
    first_day = previous.first_day
    counts = shown_counts(account_id=account.pk, first_day=first_day, end_day=end_day, group="day, status, reason")
    spends = _spends(account=account, ranges=ranges)
    figures = {}
    for name, (_, first, last) in ranges.items():
        by_status, charged, attempted = status_tally((s, r, n) for d, s, r, n in counts if first <= d <= last)
        figures[name] = Figures(
            first_day=first,
            last_day=last,
            spend=spends[name],
            billable=charged,
            not_billable=by_status.get("non_billable", 0),
            pending=by_status.get("pending", 0),
            attempted=attempted,
            total=sum(by_status.values()),
        )
    current = figures["current"]
    same, whole = (None, None) if figures["whole"].empty else (figures["same_days"], figures["whole"])
    return PeriodComparison(period, previous, current, same, whole, _changes(account, current, same, whole))


def _spends(*, account: Account, ranges: dict) -> dict[str, Decimal]:
    """Each range's own charges: its ledger rollup rows (:func:`billing.charges.rollup_rows_between`,
    as the invoice's pricing reads a period's) priced with its period's terms and inputs."""
    rows = rollup_rows_between({name: (account.pk, first, last + timedelta(days=1))
                                for name, (_, first, last) in ranges.items()})  # fmt: skip
    with refcache.pinned():  # the catalogue and the terms' charging are read under one stamp
        versions = list(ContractVersion.objects.filter(account=account))
        keys = [(account.pk, p.key) for p in {r[0].key: r[0] for r in ranges.values()}.values()]
        terms = {k: contract_for_period(account_id=account.pk, period=k[1], versions=versions)[1] for k in keys}
        inputs = own_inputs(keys=keys, terms=terms, currency={account.pk: account.currency})
        out = {}
        for name, (period, _, _) in ranges.items():
            key = (account.pk, period.key)
            settled = counts_of(rows.get(name, ()), Charging.of(terms[key])).settled
            out[name] = own_spend(price_period(replace(inputs[key], groups=settled)))
    return out


def _changes(account: Account, now: Figures, same: Figures | None, whole: Figures | None) -> tuple[Change, ...]:
    def of(figures: Figures | None, read):
        return None if figures is None else read(figures)

    return tuple(
        _change(key, label, kind, read(now), of(same, read), of(whole, read), since=same, currency=account.currency)
        for key, label, kind, read in (
            ("spend", "Charges so far", MONEY, lambda f: f.spend),
            ("billable", "Billable outcomes", COUNT, lambda f: f.billable),
            ("attainment", "Attainment", RATE, lambda f: f.attainment),
            ("not_billable", "Not billable", COUNT, lambda f: f.not_billable),
        )
    )


def _text(kind: str, value, currency: str) -> str:
    if kind == MONEY:
        return formatting.money(value, currency)
    if kind == RATE:
        return formatting.percent(value)
    return formatting.count(value)


def _signed(kind: str, delta, currency: str) -> str:
    """``+$48.20``, ``-$4.00``, ``+120``: a difference with its sign always written."""
    text = _text(kind, delta, currency)
    return text if text.startswith("-") else f"+{text}"


def _change(key, label, kind, now, before, whole, *, since: Figures | None, currency: str) -> Change:
    direction, words = _words(kind, now, before, since=since, currency=currency)
    texts = [_text(kind, value, currency) for value in (now, before, whole)]
    return Change(key, label, kind, now, before, whole, direction, words, *texts)


def _words(kind, now, before, *, since: Figures | None, currency: str) -> tuple[str, str]:
    """(direction, the change in words and numbers) of ``now`` against ``before``."""
    if since is None:
        return "none", "No earlier period to compare with"
    vs = f"vs {since.label}"
    if kind == RATE:
        if now is None:
            return "none", "Nothing decided yet"
        if before is None:
            return "new", f"New: nothing decided on {since.label}"
        points = ((Decimal(str(now)) - Decimal(str(before))) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if points == 0:
            return "same", f"No change {vs}"
        word, direction = ("Up", "up") if points > 0 else ("Down", "down")
        return direction, f"{word} {formatting.plural(abs(points), 'point')} {vs}"
    delta = now - before
    if delta == 0:
        return "same", f"No change {vs}"
    if not before:  # nothing then: a share of nothing is no number
        return "new", f"New: none on {since.label}"
    word, direction = ("Up", "up") if delta > 0 else ("Down", "down")
    share = formatting.percent(abs(Decimal(delta) / Decimal(before)))
    return direction, f"{word} {share} ({_signed(kind, delta, currency)}) {vs}"
