"""The period's charges as they stand: the one money figure that every screen and every cap reads.

An account's period is priced in one place, :func:`period_assemble`: its contract, the outcomes
decided so far grouped by type and complexity, what the previous invoice carries over, late
outcomes of earlier periods, open credit notes and top-ups, through the pure
:func:`billing.pricing.price_period`. The draft invoice stores what it returns; the dashboard,
the Spend page, ``GET …/status``, the vendor overview, the cap forecast and the cap held at
ingestion read :func:`period_charges`, which prices the same inputs with the outcomes read from
the daily rollup instead of the events (a few hundred rows instead of a scan) — so each figure
is the invoice's, to the cent, at any moment (tests/billing/test_money_truth.py): its total, and
the period's own charges (fees, outcomes, adjustments) that a cap holds.

Pending outcomes (their measurement window still open) are not on the invoice yet. Their part
is priced as what the invoice would become if they all settled billable, minus what it is now,
and shown as such; a cap reserves it, so the invoice can never outgrow the cap when they settle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts import refcache
from accounts.models import Account, LifecycleStatus
from accounts.selectors import account_status_at
from billing.audit.counts import period_attainment
from billing.contracts import ATTEMPT_REASONS, Terms
from billing.credits.models import PREPAID_KINDS, CreditKind, CreditLedgerEntry
from billing.invoices.models import ContractVersion, CreditNote, Invoice
from billing.invoices.selection import Selection
from billing.ledger.models import ChargeRollup, charge_class
from billing.ledger.month_rollup import CHARGES
from billing.pricing import (
    Carry,
    CreditNoteIn,
    Group,
    LateBatch,
    PeriodInput,
    PrepaidIn,
    PricedInvoice,
    price_period,
)
from billing.pricing.models import model_of
from billing.selectors import (
    attempt_type_ids,
    catalogue,
    contract_for_period,
    credit_notes_open,
    late_segments,
    period_groups,
    selection_for,
)
from outcomeportal.core.money import ZERO
from outcomeportal.core.periods import period_add, period_at, period_bounds, period_days, period_of, periods_between

FIXED_KINDS = ("platform_fee", "implementation_fee", "commitment_prepaid")
OUTCOME_KINDS = ("outcome", "included")
# guarantee_credit, an outcome guarantee's shortfall credit, adjusts the period's own outcome charges
# (as the price lock does). Only a final invoice carries it — it is priced when the period closes, never
# in a figure of a period under way — so no cap is raised by it: a cap holds the charges before it, and
# late outcomes of a closed month are held by that month's cap at the charges before it too.
ADJUSTMENT_KINDS = ("credit_overage", "guarantee_credit", "price_lock", "minimum", "commitment_drawdown", "true_up")
OWN_KINDS = FIXED_KINDS + OUTCOME_KINDS + ADJUSTMENT_KINDS  # what an invoice charges for its own period


@dataclass
class Assembly:
    """Everything one period's invoice is priced from, and the price."""

    account: Account
    period: str
    version: ContractVersion | None
    terms_by_segment: dict[str, Terms | None]
    selection: Selection
    inp: PeriodInput
    priced: PricedInvoice
    carry_in: Carry
    credit_notes: dict[int, CreditNote] = field(default_factory=dict)
    unbilled: dict[str, tuple[Group, ...]] = field(default_factory=dict)  # what was priced, per segment


def period_assemble(
    *,
    account: Account,
    period: str,
    exclude_invoice_id: int | None = None,
    groups: tuple[Group, ...] | None = None,
    versions: list[ContractVersion] | None = None,
    closing: bool = False,
) -> Assembly:
    """Price ``account``'s ``period`` as its invoice would be now.

    ``groups``: the period's own outcomes, when the caller has them (from the rollup); else they
    are aggregated from the events, as finalization does (one snapshot with the events it bills).
    ``closing``: the period has closed and its invoice is being finalized — a contract's outcome
    guarantee is checked (the period's attainment is read, in the same snapshot); otherwise it is not.
    """
    if versions is None:
        versions = list(ContractVersion.objects.filter(account=account))
    version, terms = contract_for_period(account_id=account.pk, period=period, versions=versions)
    lates = late_segments(account=account, period=period)
    terms_by_segment: dict[str, Terms | None] = {period: terms}
    for seg in lates:
        terms_by_segment[seg] = contract_for_period(account_id=account.pk, period=seg, versions=versions)[1]
    _, end = period_bounds(period, account.timezone)
    selection = selection_for(account=account, segments=[period, *lates], until=end, terms_by_segment=terms_by_segment)
    if groups is None:
        unbilled = period_groups(selection=selection, terms_by_segment=terms_by_segment)
    else:
        unbilled = {period: groups}
        if lates:
            late_only = replace(selection, segments=tuple(lates))
            unbilled.update(period_groups(selection=late_only, terms_by_segment=terms_by_segment))
    billed = period_groups(selection=selection, terms_by_segment=terms_by_segment, billed=True) if lates else {}
    carry_in, late = _carried_and_late(
        account=account, period=period, terms_by_segment=terms_by_segment, unbilled=unbilled, billed=billed
    )
    notes = credit_notes_open(account=account, exclude_invoice_id=exclude_invoice_id)
    types = list(catalogue().values())
    inp = PeriodInput(
        period=period,
        currency=account.currency,
        terms=terms,
        groups=unbilled.get(period, ()),
        default_prices=tuple((code, price) for code, _, price in types),
        type_names=tuple((code, name) for code, name, _ in types),
        carry_in=carry_in,
        late=late,
        credit_notes=tuple(CreditNoteIn(n.pk, n.number, remaining) for n, remaining in notes),
        prepaid=_prepaid_in(account=account, period=period),
        # Plan credits roll over only for an account active at the period's end (its last instant).
        active=account_status_at(account_id=account.pk, at=end - timedelta(microseconds=1)) == LifecycleStatus.ACTIVE,
        attainment=period_attainment(account_id=account.pk, period=period)
        if closing and terms is not None and terms.guarantee is not None
        else None,
    )
    return Assembly(
        account,
        period,
        version,
        terms_by_segment,
        selection,
        inp,
        price_period(inp),
        carry_in,
        {n.pk: n for n, _ in notes},
        unbilled,
    )


def _carried_and_late(
    *, account: Account, period: str, terms_by_segment: dict[str, Terms | None], unbilled: dict, billed: dict
) -> tuple[Carry, tuple[LateBatch, ...]]:
    """What the previous month's invoice carries into ``period``, and the late outcomes of earlier
    months (the segments of ``terms_by_segment`` after the period itself) that it bills, each with
    what its own month's invoice carried in and already billed."""
    lates = [seg for seg in terms_by_segment if seg != period]
    previous = {
        inv.period: inv
        for inv in Invoice.objects.live().filter(account=account, period__in=[period_add(period, -1), *lates])
    }
    prev = previous.get(period_add(period, -1))
    carry_in = Carry.from_dict(prev.carry_out) if prev is not None else Carry()
    late = tuple(
        LateBatch(
            period=seg,
            terms=terms_by_segment[seg],
            carry_in=Carry.from_dict(previous[seg].carry_in),
            billed=billed.get(seg, ()),
            late=unbilled[seg],
        )
        for seg in lates
        if unbilled.get(seg)
    )
    return carry_in, late


def _prepaid_in(*, account: Account, period: str) -> tuple[PrepaidIn, ...]:
    """The period's prepaid credits (plan credits, top-ups), in the order they were granted."""
    return tuple(
        PrepaidIn(e.pk, e.kind, e.credits, e.amount if e.kind == CreditKind.TOPUP else None, e.note)
        for e in CreditLedgerEntry.objects.filter(account=account, period=period, kind__in=PREPAID_KINDS).order_by("pk")
    )


# --- The period's outcomes, from the rollup ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """The period's outcomes as the invoice groups them, settled and pending apart."""

    settled: tuple[Group, ...]
    with_pending: tuple[Group, ...]  # as if every pending outcome settled billable
    resolved: int  # outcomes counted: settled billable (or billed)
    pending: int  # outcomes whose window is still open and that would be billable


def outcome_counts(*, account: Account, period: str, terms: Terms | None) -> OutcomeCounts:
    """The period's outcomes grouped by type and complexity, from the daily rollup.

    The same groups :func:`billing.selectors.period_groups` aggregates from the events for an open
    period: resolved = billable; unresolved = attempts the contract charges for (helpdesk tickets,
    per-conversation), not ruled out by the cap; gain-share = Σ the events' amounts (each event's
    share, as stored at ingestion).
    """
    key = (account.pk, period)
    return counts_of(rollup_rows(keys=[key]).get(key, ()), Charging.of(terms))


def rollup_rows(*, keys: list[tuple[int, str]], grain: str = "day") -> dict[tuple[int, str], list]:
    """Each (account id, period)'s charge rollup rows as :func:`counts_of` reads them — (type id,
    complexity, attempt, state, reason, charges, amount) — in one statement for all the keys. The
    same from the month rollup with ``grain="month"`` (~30 times fewer rows for whole months)."""
    return rollup_rows_between({key: (key[0], *period_days(key[1])) for key in keys}, grain=grain)


def rollup_rows_between(ranges: dict, *, grain: str = "day") -> dict:
    """:func:`rollup_rows` of any day ranges: ``ranges`` maps a label to (account id, first day, end
    day — excluded); the rows come back under their range's label, in one statement. Ranges may
    overlap (a period so far and the same days of the one before, say)."""
    labels = list(ranges)
    table, day = ("billing_chargemonthrollup", "r.month") if grain == "month" else ("billing_chargerollup", "r.day")
    if grain == "month":
        CHARGES.fold()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.i, r.outcome_type_id, r.complexity, r.attempt, r.state, r.reason, "
            "sum(r.charges), sum(r.amount) FROM unnest(%s::int[], %s::bigint[], %s::date[], %s::date[]) "
            f"AS k(i, a, s, e) JOIN {table} r ON r.account_id = k.a AND {day} >= k.s AND {day} < k.e "
            "GROUP BY 1, 2, 3, 4, 5, 6",
            [list(range(len(labels))), *([ranges[label][j] for label in labels] for j in range(3))],
        )
        rows: dict = {}
        for i, *rest in cursor.fetchall():
            rows.setdefault(labels[i], []).append(rest)
    return rows


def counts_of(rows, charging: Charging) -> OutcomeCounts:
    """:class:`OutcomeCounts` from charge rollup rows (type id, complexity, attempt, state, reason, charges,
    amount)."""
    codes = catalogue()
    settled: dict[tuple[str, str], list] = {}
    pending: dict[tuple[str, str], list] = {}
    resolved_n = pending_n = 0
    for type_id, complexity, attempt, state, reason, events, amount in rows:
        code, n = codes[type_id][0], int(events)
        key = (code, complexity)
        gain = amount if code in charging.gain_types else ZERO
        cls = charge_class(attempt, state, reason)
        if cls == "R":
            _add(settled, key, n, 0, gain)
            resolved_n += n
        elif cls == "P":
            _add(pending, key, n, 0, gain)
            pending_n += n
        elif cls == "A" and type_id in charging.attempt_types:
            _add(settled, key, 0, n, ZERO)
    both = {k: list(v) for k, v in settled.items()}
    for key, (r, u, g) in pending.items():
        _add(both, key, r, u, g)
    return OutcomeCounts(_groups(settled), _groups(both), resolved_n, pending_n)


def groups_plus(
    groups: tuple[Group, ...], *, code: str, tier: str, resolved: int = 0, unresolved: int = 0, gain: Decimal = ZERO
) -> tuple[Group, ...]:
    """``groups`` with some outcomes added (or, with negative counts, taken away)."""
    acc = {(g.outcome_type, g.tier): [g.resolved, g.unresolved, g.gain] for g in groups}
    _add(acc, (code, tier), resolved, unresolved, gain)
    return _groups({k: v for k, v in acc.items() if v[0] or v[1] or v[2]})


@dataclass(frozen=True, slots=True)
class Charging:
    """Which of a period's outcomes cost money under its contract, and how they group."""

    attempt_types: frozenset[int]  # types whose unresolved attempts are charged
    gain_types: frozenset[str]  # gain-share types: an outcome adds its own amount

    @classmethod
    def of(cls, terms: Terms | None) -> Charging:
        """Kept per contract terms (frozen, so equal terms hash alike) until reference data changes."""
        kept = refcache.cache("billing.charges.charging")
        charging = kept.get(terms)
        if charging is None:
            charging = kept[terms] = cls._of(terms)
        return charging

    @classmethod
    def _of(cls, terms: Terms | None) -> Charging:
        codes = {entry[0]: pk for pk, entry in catalogue().items()}
        attempts = attempt_type_ids(terms_by_segment={"": terms}, code_to_id=codes)
        gain = {p.outcome_type for p in (terms.prices if terms else ()) if model_of(p).per_event_share}
        return cls(frozenset(attempts), frozenset(gain))

    def charges_attempt(self, *, outcome_type_id: int, reason: str) -> bool:
        return outcome_type_id in self.attempt_types and reason in ATTEMPT_REASONS


def _add(acc: dict, key: tuple[str, str], resolved: int, unresolved: int, gain: Decimal) -> None:
    r, u, g = acc.get(key, (0, 0, Decimal(0)))
    acc[key] = [r + resolved, u + unresolved, g + gain]


def _groups(acc: dict) -> tuple[Group, ...]:
    return tuple(Group(code, tier, r, u, g) for (code, tier), (r, u, g) in sorted(acc.items()))


# --- The figure every screen shows -----------------------------------------------------------


@dataclass(frozen=True)
class PeriodCharges:
    """The upcoming invoice of a period, as it stands — and what pending outcomes would add.

    ``spend`` is what the invoice charges *for the period*: its fixed fees, outcome charges and
    adjustments (price lock, minimum, commitment, credits beyond the plan). ``total`` is the
    invoice's total: that spend, plus late outcomes of earlier months and top-ups bought, less
    credit notes applied — each shown as a part of its own. A cap holds the spend with what pending
    outcomes add (``pending``), so late outcomes count against their own month's cap, never twice.
    """

    account_id: int
    period: str
    currency: str
    fixed: Decimal
    outcomes: Decimal
    adjustments: Decimal
    late: Decimal
    topups: Decimal
    credits_applied: Decimal
    total: Decimal
    pending: Decimal  # what the spend becomes, minus what it is, once pending outcomes settle billable
    resolved: int  # outcomes on the invoice (settled)
    pending_outcomes: int

    @property
    def spend(self) -> Decimal:
        return self.fixed + self.outcomes + self.adjustments

    @property
    def spend_with_pending(self) -> Decimal:
        """What a cap holds: the period's spend with every pending outcome settled billable."""
        return self.spend + self.pending

    @property
    def estimated_invoice(self) -> Decimal:
        """The upcoming invoice as it stands, plus what its pending outcomes add."""
        return self.total + self.pending

    @property
    def outcomes_with_pending(self) -> int:
        return self.resolved + self.pending_outcomes


def _sum(priced: PricedInvoice, kinds: tuple[str, ...]) -> Decimal:
    return sum((ln.amount for ln in priced.lines if ln.kind in kinds), Decimal(0))


def own_spend(priced: PricedInvoice) -> Decimal:
    """What a priced invoice charges for its own period (see :class:`PeriodCharges`)."""
    return _sum(priced, OWN_KINDS)


def charges_of(*, account: Account, period: str, asm: Assembly, counts: OutcomeCounts) -> PeriodCharges:
    """The figures of an assembly priced with the settled groups (and once more with pending)."""
    priced = asm.priced
    pending = ZERO
    if counts.pending:
        pending = own_spend(price_period(replace(asm.inp, groups=counts.with_pending))) - own_spend(priced)
    return PeriodCharges(
        account_id=account.pk,
        period=period,
        currency=account.currency,
        fixed=_sum(priced, FIXED_KINDS),
        outcomes=_sum(priced, OUTCOME_KINDS),
        adjustments=_sum(priced, ADJUSTMENT_KINDS),
        late=_sum(priced, ("late",)),
        topups=_sum(priced, ("topup",)),
        credits_applied=priced.credits_applied,
        total=priced.total,
        pending=pending,
        resolved=counts.resolved,
        pending_outcomes=counts.pending,
    )


def period_charges(*, account: Account, period: str | None = None, now: datetime | None = None) -> PeriodCharges:
    """The period's charges as they stand (default: the period of ``now`` in the account's zone)."""
    period = period or period_at(now or timezone.now(), account.timezone)
    with refcache.pinned():  # the catalogue is read under one stamp
        versions = list(ContractVersion.objects.filter(account=account))
        terms = contract_for_period(account_id=account.pk, period=period, versions=versions)[1]
        counts = outcome_counts(account=account, period=period, terms=terms)
        asm = period_assemble(account=account, period=period, groups=counts.settled, versions=versions)
        return charges_of(account=account, period=period, asm=asm, counts=counts)


# --- What a cap holds, for many periods at once (the ingestion hook) ---------------------------


@dataclass(frozen=True, slots=True)
class CapPeriod:
    """One account's period as the cap prices it: its own charges only (no credit notes, late
    outcomes or top-up lines), from inputs read for a whole batch in three statements."""

    inp: PeriodInput
    counts: OutcomeCounts
    charging: Charging

    def usage(self, groups: tuple[Group, ...]) -> Decimal:
        return own_spend(price_period(replace(self.inp, groups=groups)))


def cap_periods(
    *,
    keys: list[tuple[int, str]],
    terms: dict[tuple[int, str], Terms | None],
    currency: dict[int, str],
    counts: dict[tuple[int, str], OutcomeCounts] | None = None,
) -> dict[tuple[int, str], CapPeriod]:
    """For each (account id, period): what its cap prices — the rollup's outcomes, the previous
    invoice's carry and the period's prepaid credits — in one statement each for all the keys.
    ``counts``: the periods' outcomes when the caller read them already (from the same rollup)."""
    if counts is None:
        rows = rollup_rows(keys=keys)
        counts = {key: counts_of(rows.get(key, ()), Charging.of(terms[key])) for key in keys}
    inputs = own_inputs(keys=keys, terms=terms, currency=currency)
    return {key: CapPeriod(inputs[key], counts[key], Charging.of(terms[key])) for key in keys}


def own_inputs(
    *, keys: list[tuple[int, str]], terms: dict[tuple[int, str], Terms | None], currency: dict[int, str]
) -> dict[tuple[int, str], PeriodInput]:
    """For each (account id, period), what its own charges are priced from besides its outcomes:
    the terms, the previous invoice's carry, the period's prepaid credits — two statements for all."""
    accounts, periods = {k[0] for k in keys}, {k[1] for k in keys}
    previous = {(a, period_add(p, -1)): (a, p) for a, p in keys}
    carries = {
        previous[(a, p)]: carry
        for a, p, carry in Invoice.objects.live()
        .filter(account_id__in=accounts, period__in={p for _, p in previous})
        .values_list("account_id", "period", "carry_out")
        if (a, p) in previous
    }
    prepaid: dict[tuple[int, str], list] = {}
    for entry in CreditLedgerEntry.objects.filter(
        account_id__in=accounts, period__in=periods, kind__in=PREPAID_KINDS
    ).order_by("pk"):
        prepaid.setdefault((entry.account_id, entry.period), []).append(
            PrepaidIn(entry.pk, entry.kind, entry.credits, entry.amount if entry.kind == CreditKind.TOPUP else None)
        )
    defaults = tuple((code, price) for code, _, price in catalogue().values())
    return {
        key: PeriodInput(
            period=key[1],
            currency=currency[key[0]],
            terms=terms[key],
            groups=(),
            default_prices=defaults,
            carry_in=Carry.from_dict(carries.get(key)),
            prepaid=tuple(prepaid.get(key, ())),
        )
        for key in keys
    }


# --- By day, for the dashboard's chart ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyCharges:
    """The period's own charges (fees, outcomes, adjustments) as they grew, day by day.

    ``so_far[i]`` is what those charges came to at the end of ``days[i]`` within its month — the
    invoice's figure as it would have been priced then — and ``per_day[i]`` what that day added (a
    month's first day carries its fixed fees). Credit notes, late outcomes and top-ups are not a
    day's charges; the invoice card shows them beside.
    """

    days: list
    per_day: list[Decimal]
    so_far: list[Decimal]


def charges_by_day(*, account: Account, first_day, end_day) -> DailyCharges:
    """Each day of [first_day, end_day) with the charges it added, priced month by month."""
    days = [first_day + timedelta(days=i) for i in range((end_day - first_day).days)]
    if not days:
        return DailyCharges([], [], [])
    since = first_day.replace(day=1)  # a month is priced from its first day, even when the range starts later
    rows = (
        ChargeRollup.objects.filter(account_id=account.pk, day__gte=since, day__lt=end_day)
        .values_list("day", "outcome_type_id", "complexity", "attempt", "state", "reason")
        .annotate(n=Sum("charges"), amount=Sum("amount"))
        .order_by("day")
    )
    by_day: dict = {}
    for day, *rest in rows:
        by_day.setdefault(day, []).append(rest)
    codes = {pk: entry[0] for pk, entry in catalogue().items()}
    versions = list(ContractVersion.objects.filter(account=account))
    months = periods_between(period_of(since), period_of(end_day - timedelta(days=1)))
    keys = [(account.pk, m) for m in months]
    terms = {key: contract_for_period(account_id=account.pk, period=key[1], versions=versions)[1] for key in keys}
    inputs = own_inputs(keys=keys, terms=terms, currency={account.pk: account.currency})
    per_day: list[Decimal] = []
    so_far: list[Decimal] = []
    month = None
    day = since
    while day < end_day:
        period = period_of(day)
        if period != month:
            month, previous = period, ZERO
            charging = Charging.of(terms[(account.pk, period)])
            inp = inputs[(account.pk, period)]
            acc: dict = {}
        elif day == first_day:  # the month's charges before the range starts
            previous = own_spend(price_period(replace(inp, groups=_groups(acc))))
        for type_id, complexity, attempt, state, reason, n, amount in by_day.get(day, ()):
            code = codes[type_id]
            cls = charge_class(attempt, state, reason)
            if cls == "R":
                _add(acc, (code, complexity), n, 0, amount if code in charging.gain_types else ZERO)
            elif cls == "A" and type_id in charging.attempt_types:
                _add(acc, (code, complexity), 0, n, ZERO)
        if day >= first_day:
            unchanged = day != first_day and day.day != 1 and not by_day.get(day)
            current = previous if unchanged else own_spend(price_period(replace(inp, groups=_groups(acc))))
            per_day.append(current - previous)
            so_far.append(current)
            previous = current
        day += timedelta(days=1)
    return DailyCharges(days, per_day, so_far)


def period_spends(*, account_ids: list[int], now: datetime | None = None) -> dict[int, Decimal]:
    """Each account's charges this period (in its own zone), pending outcomes included — what its
    cap holds and its status says — for many accounts in a handful of statements (the vendor overview)."""
    now = now or timezone.now()
    accounts = list(Account.objects.filter(pk__in=account_ids).only("pk", "timezone", "currency"))
    keys = [(a.pk, period_at(now, a.timezone)) for a in accounts]
    versions: dict[int, list] = {}
    for v in ContractVersion.objects.filter(account_id__in=[a.pk for a in accounts]):
        versions.setdefault(v.account_id, []).append(v)
    terms = {
        key: contract_for_period(account_id=key[0], period=key[1], versions=versions.get(key[0], []))[1] for key in keys
    }
    with refcache.pinned():
        periods = cap_periods(keys=keys, terms=terms, currency={a.pk: a.currency for a in accounts})
        return {key[0]: periods[key].usage(periods[key].counts.with_pending) for key in keys}
