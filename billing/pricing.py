"""Pricing: (contract terms, the period's decided events as aggregates) → priced invoice lines.

A pure function — no Django, no database, no clock. The services aggregate the period's
events in SQL (one GROUP BY), call :func:`price_period`, and store what it returns; the
same inputs always give the same lines, whatever order the events arrived in.

Each line that bills events carries an :class:`Alloc`: which events it bills (period,
outcome type, complexity, resolved and/or unresolved attempts, and a rank range in
occurrence order). Finalization links exactly those events to the line, in one UPDATE.

Rounding: see :mod:`billing.money` — one rounding per line, totals are sums of lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from billing.contracts import COMPLEXITIES, Terms, TypePrice, period_add, period_first_day
from billing.money import ZERO, price_display, round_event, round_line

# Line kinds. Outcome-dependent kinds change with the events; the fixed ones do not.
FIXED_KINDS = frozenset({"platform_fee", "implementation_fee", "commitment_prepaid", "credit_note"})
EVENT_KINDS = frozenset({"outcome", "included", "late"})


@dataclass(frozen=True, slots=True)
class Group:
    """The decided events of one outcome type and reported complexity in a period."""

    outcome_type: str
    tier: str = ""  # the complexity the events reported ("" for none)
    resolved: int = 0  # decided billable: the outcome happened
    unresolved: int = 0  # attempts that did not resolve (contracts.ATTEMPT_REASONS)
    value_above: Decimal = ZERO  # Σ max(value_amount − baseline, 0) over resolved (gain-share types)


@dataclass(frozen=True, slots=True)
class Carry:
    """What one period hands to the next."""

    credits: Decimal = ZERO  # unused included credits rolled over
    committed_spend: Decimal = ZERO  # outcome charges counted against the commitment so far in its term

    def as_dict(self) -> dict:
        return {"credits": str(self.credits), "committed_spend": str(self.committed_spend)}

    @classmethod
    def from_dict(cls, data: dict | None) -> Carry:
        data = data or {}
        return cls(Decimal(data.get("credits", "0")), Decimal(data.get("committed_spend", "0")))


@dataclass(frozen=True, slots=True)
class CreditNoteIn:
    id: int
    number: str
    remaining: Decimal  # not yet applied to a finalized invoice


@dataclass(frozen=True, slots=True)
class LateBatch:
    """Events of an earlier, already finalized period that were decided after it closed."""

    period: str
    terms: Terms | None
    carry_in: Carry
    billed: tuple[Group, ...]  # what that period's invoices already billed
    late: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class PeriodInput:
    period: str  # YYYY-MM
    currency: str
    terms: Terms | None  # None: no contract — catalogue prices per resolution
    groups: tuple[Group, ...]
    default_prices: tuple[tuple[str, Decimal], ...] = ()  # catalogue unit price per type code
    type_names: tuple[tuple[str, str], ...] = ()
    carry_in: Carry = field(default_factory=Carry)
    late: tuple[LateBatch, ...] = ()
    credit_notes: tuple[CreditNoteIn, ...] = ()


@dataclass(frozen=True, slots=True)
class Alloc:
    """The events a line bills. Ranks count the type's events in (occurred_at, id) order."""

    segment: str  # the period the events belong to
    outcome_type: str
    tier: str | None  # effective complexity; None: all
    classes: str  # events linked to the line: "R" resolved, "A" unresolved attempts, "RA" both
    rank_from: int = 1
    rank_to: int | None = None
    event_amount: Decimal | None = None  # each linked event's amount (6 places)
    event_credits: Decimal | None = None
    gain_share: tuple[Decimal, Decimal] | None = None  # (percent, baseline): amount computed per event
    show: str = ""  # classes shown on drill-down when wider than the linked ones ("RA" for ticket fees)


@dataclass(frozen=True, slots=True)
class Line:
    key: str  # stable identity within the invoice (drafts keep line ids across refreshes)
    kind: str
    description: str
    amount: Decimal  # rounded to the currency — the only rounding
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    outcome_type: str | None = None
    credits: Decimal | None = None  # credit contracts: credits this line uses
    unit_credits: Decimal | None = None
    alloc: Alloc | None = None
    ref: int | None = None  # credit_note id for credit lines


@dataclass(frozen=True, slots=True)
class PricedInvoice:
    lines: tuple[Line, ...]
    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal
    carry_out: Carry
    notes: tuple[str, ...] = ()


# --- helpers ---------------------------------------------------------------------------


def _n(value: int | Decimal) -> str:
    return f"{value:,}"


def _price_text(price: Decimal, currency: str, in_credits: bool) -> str:
    if in_credits:
        return f"{price.normalize():,f} credits"
    return price_display(price, currency)


def _order_types(terms: Terms | None, groups: Iterable[Group]) -> list[str]:
    present = {g.outcome_type for g in groups}
    listed = [p.outcome_type for p in terms.prices] if terms else []
    return [t for t in listed if t in present] + sorted(present - set(listed))


def _effective_tier(price: TypePrice, tier: str) -> str | None:
    if price.model != "complexity":
        return None
    return tier if tier in COMPLEXITIES else price.default_tier


def _counts_attempts(terms: Terms | None, price: TypePrice) -> bool:
    if price.model == "gain_share":
        return False
    return price.model == "helpdesk" or (terms is not None and terms.basis == "per_conversation")


def _bands(price: TypePrice, start: int, qty: int) -> list[tuple[int, int, Decimal]]:
    """Graduated: (first rank, last rank, price) of each band touched by quantities start+1..start+qty."""
    out = []
    lower = 0
    for band in price.bands:
        upper = band.up_to if band.up_to is not None else 10**18
        a, b = max(lower + 1, start + 1), min(upper, start + qty)
        if a <= b:
            out.append((a, b, band.price))
        lower = upper
    return out


def _volume_price(price: TypePrice, qty: int) -> Decimal:
    for band in price.bands:
        if band.up_to is None or qty <= band.up_to:
            return band.price
    return price.bands[-1].price


def _in_lock(terms: Terms, period: str) -> bool:
    lock = terms.price_lock
    if lock is None:
        return False
    first, nxt = period_first_day(period), period_first_day(period_add(period, 1))
    return first < lock.ends and nxt > lock.starts


# --- the core ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    code: str
    tier: str | None
    classes: str
    segment: str
    currency: str
    credit_price: Decimal | None  # set when the prices are in credits


def _unit_line(spec: _Spec, suffix: str, text: str, q: int, unit: Decimal, first: int, last: int) -> Line:
    alloc = Alloc(spec.segment, spec.code, spec.tier, spec.classes, first, last)
    if spec.credit_price is not None:
        # Credits: the line uses credits; money comes from the plan (and credit overage, if any).
        each = round_event(unit * spec.credit_price)
        return Line(f"{spec.key}:{suffix}", "outcome", f"{text} — {_n(q)} × {_price_text(unit, spec.currency, True)}",
                    ZERO, Decimal(q), ZERO, spec.code, credits=unit * q, unit_credits=unit,
                    alloc=replace(alloc, event_amount=each, event_credits=unit))  # fmt: skip
    return Line(f"{spec.key}:{suffix}", "outcome", text, round_line(unit * q, spec.currency), Decimal(q), unit,
                spec.code, alloc=replace(alloc, event_amount=round_event(unit)))  # fmt: skip


def _outcome_lines(inp: PeriodInput, terms: Terms | None, groups: tuple[Group, ...], segment: str) -> list[Line]:
    """Lines for the outcomes themselves: included, per-unit, tiers, fees, gain-share."""
    currency = inp.currency
    names = dict(inp.type_names)
    defaults = dict(inp.default_prices)
    in_credits = bool(terms and terms.in_credits)
    pf = terms.platform_fee if terms else None
    included_left = pf.included_outcomes if pf and not in_credits else 0
    lines: list[Line] = []
    for code in _order_types(terms, groups):
        listed = terms.price_for(code) if terms else None
        price = listed or TypePrice(code, "unit", price=defaults.get(code, ZERO))
        credits_unit = in_credits and listed is not None and price.model not in ("gain_share", "helpdesk")
        name = names.get(code, code)
        attempts = _counts_attempts(terms, price)
        classes = "RA" if attempts else "R"
        noun = "conversations" if attempts and price.model != "helpdesk" else "outcomes"
        # Quantities per effective tier (complexity model) or for the whole type.
        per_tier: dict[str | None, int] = {}
        value_above = ZERO
        resolved = unresolved = 0
        for g in groups:
            if g.outcome_type != code:
                continue
            tier = _effective_tier(price, g.tier)
            per_tier[tier] = per_tier.get(tier, 0) + g.resolved + (g.unresolved if attempts else 0)
            value_above += g.value_above
            resolved += g.resolved
            unresolved += g.unresolved
        key = f"{segment}:{code}"

        if price.model == "helpdesk":
            tickets = resolved + unresolved
            if tickets:
                lines.append(
                    Line(f"{key}:ticket", "outcome", f"{name} — ticket fee, every ticket", round_line(
                        price.item_fee * tickets, currency), Decimal(tickets), price.item_fee, code,
                        alloc=Alloc(segment, code, None, "A", event_amount=round_event(price.item_fee), show="RA"))
                )  # fmt: skip
            if resolved:
                lines.append(
                    Line(f"{key}:automation", "outcome", f"{name} — automation fee, resolved by the AI",
                         round_line(price.automation_fee * resolved, currency), Decimal(resolved),
                         price.automation_fee, code,
                         alloc=Alloc(segment, code, None, "R",
                                     event_amount=round_event(price.item_fee + price.automation_fee)))
                )  # fmt: skip
            continue
        if price.model == "gain_share":
            if resolved:
                lines.append(
                    Line(f"{key}:gain_share", "outcome",
                         f"{name} — {price.percent.normalize():f} % of value above "
                         f"{_price_text(price.baseline, currency, False)} per outcome",
                         round_line(price.percent / 100 * value_above, currency), Decimal(resolved), None, code,
                         alloc=Alloc(segment, code, None, "R", gain_share=(price.percent, price.baseline)))
                )  # fmt: skip
            continue

        tiers = [t for t in (*COMPLEXITIES, None) if per_tier.get(t)]
        for tier in tiers:
            qty = per_tier[tier]
            tkey = f"{key}:{tier or 'all'}"
            label = f"{name} ({tier})" if tier else name
            rank = 0
            covered = pf is not None and (not pf.included_types or code in pf.included_types)
            if included_left and covered:
                inc = min(qty, included_left)
                included_left -= inc
                lines.append(
                    Line(f"{tkey}:included", "included", f"{label} — included in {pf.name}", ZERO, Decimal(inc),
                         ZERO, code, alloc=Alloc(segment, code, tier, classes, 1, inc, event_amount=ZERO))
                )  # fmt: skip
                rank, qty = inc, qty - inc
                label = f"{label} — beyond the {_n(pf.included_outcomes)} included"
            if not qty:
                continue

            spec = _Spec(tkey, code, tier, classes, segment, currency, terms.credit_price if credits_unit else None)
            if price.model == "graduated":
                for a, b, unit in _bands(price, 0, qty):
                    lines.append(_unit_line(spec, f"band{a}", f"{label} — {noun} {_n(a)}–{_n(b)} of the month",
                                            b - a + 1, unit, rank + a, rank + b))  # fmt: skip
            elif price.model == "volume":
                lines.append(_unit_line(spec, "volume", f"{label} — volume price for {_n(qty)} {noun}", qty,
                                        _volume_price(price, qty), rank + 1, rank + qty))  # fmt: skip
            else:
                unit = price.tier_price(tier) if price.model == "complexity" else price.price
                text = label + (" — per conversation" if attempts else "")
                lines.append(_unit_line(spec, "unit", text, qty, unit, rank + 1, rank + qty))
    return lines


def _after_outcomes(
    inp: PeriodInput, terms: Terms | None, period: str, lines: list[Line], carry_in: Carry
) -> tuple[list[Line], Carry, list[str]]:
    """Credits, price lock, minimum and commitment: the lines that follow the outcome charges."""
    currency = inp.currency
    extra: list[Line] = []
    notes: list[str] = []
    credits = carry_in.credits
    committed = carry_in.committed_spend
    if terms is None:
        return extra, Carry(), notes

    if terms.in_credits:
        used = sum((ln.credits for ln in lines if ln.credits), ZERO)
        granted = terms.platform_fee.included_credits if terms.platform_fee else ZERO
        available = credits + granted
        over = max(used - available, ZERO)
        if over:
            extra.append(
                Line(f"{period}:credit_overage", "credit_overage",
                     f"Credits beyond the plan: {_n(over.normalize())} × "
                     f"{_price_text(terms.credit_price, currency, False)} per credit",
                     round_line(over * terms.credit_price, currency), over, terms.credit_price)
            )  # fmt: skip
        left = available - min(used, available)
        rollover = bool(terms.platform_fee and terms.platform_fee.rollover)
        notes.append(
            f"Credits: {_n(credits.normalize())} rolled over + {_n(granted.normalize())} included, "
            f"{_n(used.normalize())} used; {_n(left.normalize())} "
            + ("roll over to next month." if rollover else "expire at the end of the month.")
        )
        credits = left if rollover else ZERO
    else:
        credits = ZERO

    outcome_total = sum((ln.amount for ln in lines), ZERO) + sum((ln.amount for ln in extra), ZERO)
    lock = terms.price_lock
    if lock is not None and _in_lock(terms, period) and outcome_total > lock.previous_plan_cost:
        discount = outcome_total - lock.previous_plan_cost
        extra.append(
            Line(f"{period}:price_lock", "price_lock",
                 f"Price lock until {lock.ends.isoformat()}: outcome charges capped at your previous plan's "
                 f"{_price_text(lock.previous_plan_cost, currency, False)} a month",
                 round_line(-discount, currency), Decimal(1), round_line(-discount, currency))
        )  # fmt: skip
        outcome_total -= discount
    if terms.monthly_minimum is not None and outcome_total < terms.monthly_minimum:
        top_up = terms.monthly_minimum - outcome_total
        extra.append(
            Line(f"{period}:minimum", "minimum",
                 f"Monthly minimum of {_price_text(terms.monthly_minimum, currency, False)}: top-up",
                 round_line(top_up, currency), Decimal(1), round_line(top_up, currency))
        )  # fmt: skip
        outcome_total += top_up

    cm = terms.commitment
    if cm is not None and period in cm.periods():
        if period == cm.start:
            committed = ZERO
        remaining = max(cm.amount - committed, ZERO)
        if cm.prepaid:
            draw = min(outcome_total, remaining)
            if draw:
                extra.append(
                    Line(f"{period}:drawdown", "commitment_drawdown",
                         f"Drawn from your prepaid commitment ({_price_text(remaining, currency, False)} "
                         f"remaining before this invoice)", round_line(-draw, currency), Decimal(1),
                         round_line(-draw, currency))
                )  # fmt: skip
        committed += outcome_total
        notes.append(
            f"Commitment: {_price_text(min(committed, cm.amount), currency, False)} of "
            f"{_price_text(cm.amount, currency, False)} used in the term {cm.start} – {cm.periods()[-1]}."
        )
        if not cm.prepaid and period == cm.periods()[-1] and committed < cm.amount:
            shortfall = cm.amount - committed
            extra.append(
                Line(f"{period}:true_up", "true_up",
                     f"Commitment true-up: {_price_text(cm.amount, currency, False)} committed for "
                     f"{cm.start} – {period}, {_price_text(committed, currency, False)} used",
                     round_line(shortfall, currency), Decimal(1), round_line(shortfall, currency))
            )  # fmt: skip
    else:
        committed = ZERO
    return extra, Carry(credits=credits, committed_spend=committed), notes


def _fixed_lines(inp: PeriodInput, terms: Terms | None, period: str) -> list[Line]:
    if terms is None:
        return []
    currency = inp.currency
    lines = []
    if terms.platform_fee is not None and terms.platform_fee.amount:
        pf = terms.platform_fee
        what = ""
        if pf.included_outcomes:
            what = f" (includes {_n(pf.included_outcomes)} outcomes)"
        elif pf.included_credits:
            what = f" (includes {_n(pf.included_credits.normalize())} credits)"
        lines.append(
            Line(f"{period}:platform_fee", "platform_fee", f"{pf.name}{what}", round_line(pf.amount, currency),
                 Decimal(1), pf.amount)
        )  # fmt: skip
    ob = terms.onboarding
    if ob is not None and ob.implementation_fee and f"{ob.starts.year:04d}-{ob.starts.month:02d}" == period:
        lines.append(
            Line(f"{period}:implementation_fee", "implementation_fee", "Implementation fee (one-off)",
                 round_line(ob.implementation_fee, currency), Decimal(1), ob.implementation_fee)
        )  # fmt: skip
    cm = terms.commitment
    if cm is not None and cm.prepaid and period == cm.start:
        lines.append(
            Line(f"{period}:commitment", "commitment_prepaid",
                 f"Committed spend, prepaid: {cm.months} months from {cm.start}", round_line(cm.amount, currency),
                 Decimal(1), cm.amount)
        )  # fmt: skip
    return lines


def _charges(inp: PeriodInput, terms: Terms | None, period: str, groups: tuple[Group, ...], carry: Carry):
    outcome = _outcome_lines(inp, terms, groups, period)
    extra, carry_out, notes = _after_outcomes(inp, terms, period, outcome, carry)
    return outcome, extra, carry_out, notes


def _variable_total(inp: PeriodInput, batch: LateBatch, groups: tuple[Group, ...]) -> Decimal:
    outcome, extra, _, _ = _charges(inp, batch.terms, batch.period, groups, batch.carry_in)
    return sum((ln.amount for ln in outcome + extra), ZERO)


def _merge(*parts: Iterable[Group]) -> tuple[Group, ...]:
    acc: dict[tuple[str, str], Group] = {}
    for part in parts:
        for g in part:
            k = (g.outcome_type, g.tier)
            old = acc.get(k)
            acc[k] = g if old is None else Group(
                g.outcome_type, g.tier, old.resolved + g.resolved, old.unresolved + g.unresolved,
                old.value_above + g.value_above)  # fmt: skip
    return tuple(sorted(acc.values(), key=lambda g: (g.outcome_type, g.tier)))


def _late_lines(inp: PeriodInput) -> list[Line]:
    """Late outcomes of a finalized period: the exact extra they cost under that period's contract.

    For each type (in code order), the line is what the period's outcome-dependent charges
    become with these events added, minus what they were without them — so tiers, included
    allowances, the price lock and minimums of *that* period apply as if the events had been
    on time, and the earlier invoice is never touched.
    """
    names = dict(inp.type_names)
    lines = []
    for batch in sorted(inp.late, key=lambda b: b.period):
        done: list[Group] = []
        before = _variable_total(inp, batch, _merge(batch.billed))
        for code in sorted({g.outcome_type for g in batch.late}):
            mine = [g for g in batch.late if g.outcome_type == code]
            after = _variable_total(inp, batch, _merge(batch.billed, done, mine))
            done.extend(mine)
            price = (batch.terms.price_for(code) if batch.terms else None) or TypePrice(code)
            attempts = _counts_attempts(batch.terms, price)
            qty = sum(g.resolved + (g.unresolved if attempts else 0) for g in mine)
            if not qty:
                before = after
                continue
            amount = after - before
            before = after
            unit = round_event(amount / qty)
            lines.append(
                Line(f"late:{batch.period}:{code}", "late",
                     f"Late: {names.get(code, code)} from {batch.period}, decided after that invoice was final",
                     amount, Decimal(qty), unit, code,
                     alloc=Alloc(batch.period, code, None, "RA" if attempts else "R", event_amount=unit))
            )  # fmt: skip
    return lines


def price_period(inp: PeriodInput) -> PricedInvoice:
    """Price one account's period: the invoice's lines, subtotal, credits applied and total."""
    terms = inp.terms
    outcome, extra, carry_out, notes = _charges(inp, terms, inp.period, inp.groups, inp.carry_in)
    lines = _fixed_lines(inp, terms, inp.period) + outcome + extra + _late_lines(inp)
    subtotal = sum((ln.amount for ln in lines), ZERO)
    applied = ZERO
    for note in sorted(inp.credit_notes, key=lambda c: c.number):
        take = min(note.remaining, subtotal - applied)
        if take <= 0:
            break
        applied += take
        lines.append(
            Line(f"credit_note:{note.id}", "credit_note", f"Credit note {note.number}", -take, Decimal(1), -take,
                 ref=note.id)
        )  # fmt: skip
    return PricedInvoice(
        lines=tuple(lines),
        subtotal=subtotal,
        credits_applied=applied,
        total=subtotal - applied,
        carry_out=carry_out,
        notes=tuple(notes),
    )


def unit_estimate(terms: Terms | None, outcome_type: str, complexity: str, value_amount: Decimal | None,
                  default_price: Decimal) -> tuple[Decimal | None, Decimal | None]:  # fmt: skip
    """What one more resolved outcome is worth at ingestion: (money amount, credits).

    Provisional — the exact per-event amount is recorded when the invoice is final (tiers
    and allowances depend on the month's quantity). Gain-share uses the event's value.
    """
    price = terms.price_for(outcome_type) if terms else None
    if price is None:
        return round_event(default_price), None
    if price.model == "gain_share":
        above = max((value_amount or ZERO) - price.baseline, ZERO)
        return round_event(price.percent / 100 * above), None
    if price.model == "helpdesk":
        return round_event(price.item_fee + price.automation_fee), None
    if price.model == "complexity":
        unit = price.tier_price(complexity if complexity in COMPLEXITIES else "")
    elif price.model in ("graduated", "volume"):
        unit = price.bands[0].price
    else:
        unit = price.price
    if terms.in_credits:
        return round_event(unit * terms.credit_price), unit
    return round_event(unit), None
