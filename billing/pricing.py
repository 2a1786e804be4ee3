"""Pricing: (contract terms, the period's decided events as aggregates) → priced invoice lines.

A pure function — no Django, no database, no clock. The services aggregate the period's
events in SQL (one GROUP BY), call :func:`price_period`, and store what it returns; the
same inputs always give the same lines, whatever order the events arrived in.

Each line that bills events carries an :class:`Alloc`: which events it bills (period,
outcome type, complexity, resolved and/or unresolved attempts, and a rank range in
occurrence order). Finalization links exactly those events to the line, in one UPDATE.

Rounding: see :mod:`outcomeportal.core.money` — one rounding per line, totals are sums of lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from billing.contracts import COMPLEXITIES, Terms, TypePrice
from outcomeportal.core.money import ROUNDING, ZERO, price_display, round_event, round_line
from outcomeportal.core.periods import period_add, period_first_day, period_of

# Line kinds. Outcome-dependent kinds change with the events; the fixed ones do not.
FIXED_KINDS = frozenset({"platform_fee", "implementation_fee", "commitment_prepaid", "topup", "credit_note"})
EVENT_KINDS = frozenset({"outcome", "included", "late"})


@dataclass(frozen=True, slots=True)
class Group:
    """The decided events of one outcome type and reported complexity in a period."""

    outcome_type: str
    tier: str = ""  # the complexity the events reported ("" for none)
    resolved: int = 0  # decided billable: the outcome happened
    unresolved: int = 0  # attempts that did not resolve (contracts.ATTEMPT_REASONS)
    # Gain-share types: Σ over resolved events of each event's share, percent × max(value − baseline, 0),
    # rounded to 6 places per event — what each event is stamped with, so a line is the sum of its events.
    gain: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Carry:
    """What one period hands to the next."""

    credits: Decimal = ZERO  # unused included (plan) credits rolled over
    committed_spend: Decimal = ZERO  # outcome charges counted against the commitment so far in its term
    # Prepaid credits left (top-ups, dispute credits, adjustments): used after the plan's credits,
    # never expire. The credit ledger's balance after a period is credits + purchased.
    purchased: Decimal = ZERO

    def as_dict(self) -> dict:
        return {
            "credits": str(self.credits),
            "committed_spend": str(self.committed_spend),
            "purchased": str(self.purchased),
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Carry:
        data = data or {}
        return cls(
            Decimal(data.get("credits", "0")),
            Decimal(data.get("committed_spend", "0")),
            Decimal(data.get("purchased", "0")),
        )


@dataclass(frozen=True, slots=True)
class PrepaidIn:
    """A credit-ledger entry that adds to (or, for an adjustment, takes from) the prepaid balance
    in this period: a top-up (with the price paid, billed on this invoice), a dispute credit, an
    adjustment."""

    ref: int  # the ledger entry's id
    kind: str  # "topup", "dispute_credit", "adjustment"
    credits: Decimal  # signed
    amount: Decimal | None = None  # top-ups: the pack's price, already rounded to the currency
    description: str = ""


@dataclass(frozen=True, slots=True)
class CreditUse:
    """A period's credits, as the ledger posts them when the invoice is final.

    Consumption order: the plan's credits (rolled over + included), then prepaid credits, then
    overage billed in money. The period's own outcomes draw first, late outcomes of earlier
    periods after them.
    """

    rolled_in: Decimal  # plan credits carried in
    granted: Decimal  # plan credits included this period
    purchased_in: Decimal  # prepaid credits carried in
    added: Decimal  # prepaid credits added in the period (top-ups, dispute credits, adjustments)
    used: Decimal  # credits used by the period's own outcomes
    used_late: Decimal  # credits used by late outcomes of earlier periods billed now
    from_plan: Decimal
    from_purchased: Decimal
    overage: Decimal  # credits beyond the balance, billed in money
    expired: Decimal  # plan credits that expire at the end of the period
    rolled_out: Decimal  # plan credits carried to the next period
    purchased_out: Decimal  # prepaid credits carried to the next period

    @property
    def drawn(self) -> Decimal:
        return self.from_plan + self.from_purchased


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
    prepaid: tuple[PrepaidIn, ...] = ()  # the period's prepaid credit entries (credit ledger)


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
    credit_use: CreditUse | None = None  # None: no credits in play this period


# --- helpers ---------------------------------------------------------------------------


def _n(value: int | Decimal) -> str:
    """1,000 — also for a normalized Decimal (Decimal("1E+3") formats as "1,000", never "1E+3")."""
    if isinstance(value, Decimal):
        return f"{value.normalize():,f}"
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
        gain = ZERO
        resolved = unresolved = 0
        for g in groups:
            if g.outcome_type != code:
                continue
            tier = _effective_tier(price, g.tier)
            per_tier[tier] = per_tier.get(tier, 0) + g.resolved + (g.unresolved if attempts else 0)
            gain += g.gain
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
                         round_line(gain, currency), Decimal(resolved), None, code,
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


def _credits_draw(
    terms: Terms | None, lines: list[Line], carry_in: Carry, added: Decimal, late_demands: tuple[Decimal, ...]
) -> tuple[CreditUse | None, Decimal, list[Decimal]]:
    """Draw the period's credits: plan (rolled over + included), then prepaid, then overage.

    Returns the period's :class:`CreditUse` (None when no credit is in play), the credits of the
    period's own outcomes beyond the balance, and, per late demand, its credits beyond the balance.
    The period's own outcomes draw first; late outcomes of earlier periods draw what is left.
    """
    in_credits = terms is not None and terms.in_credits
    used = sum((ln.credits for ln in lines if ln.credits), ZERO) if in_credits else ZERO
    granted = terms.platform_fee.included_credits if in_credits and terms.platform_fee else ZERO
    plan = carry_in.credits + granted if in_credits else ZERO  # plan credits lapse under a money contract
    purchased = carry_in.purchased + added
    usable = plan + max(purchased, ZERO)
    own_over = max(used - usable, ZERO)
    left = usable - (used - own_over)
    late_over = []
    for demand in late_demands:
        cover = min(demand, left)
        left -= cover
        late_over.append(demand - cover)
    if not (in_credits or carry_in.credits or carry_in.purchased or added or late_demands):
        return None, ZERO, late_over
    late_used = sum(late_demands, ZERO)
    from_plan = min(used + late_used, plan)
    from_purchased = min(used + late_used - from_plan, max(purchased, ZERO))
    rollover = bool(in_credits and terms.platform_fee and terms.platform_fee.rollover)
    rolled_out = plan - from_plan if rollover else ZERO
    use = CreditUse(
        rolled_in=carry_in.credits,
        granted=granted,
        purchased_in=carry_in.purchased,
        added=added,
        used=used,
        used_late=late_used,
        from_plan=from_plan,
        from_purchased=from_purchased,
        overage=own_over + sum(late_over, ZERO),
        expired=(plan - from_plan - rolled_out) if in_credits else carry_in.credits,
        rolled_out=rolled_out,
        purchased_out=purchased - from_purchased,
    )
    return use, own_over, late_over


def _credits_note(use: CreditUse, rollover: bool) -> str:
    prepaid = use.purchased_in + use.added
    text = f"Credits: {_n(use.rolled_in.normalize())} rolled over + {_n(use.granted.normalize())} included"
    if prepaid:
        text += f" + {_n(prepaid.normalize())} prepaid"
    text += f", {_n(use.used.normalize())} used"
    if use.used_late:
        text += f" (+ {_n(use.used_late.normalize())} by late outcomes of earlier months)"
    plan_left = use.rolled_out + use.expired
    text += f"; {_n(plan_left.normalize())} " + (
        "roll over to next month." if rollover else "expire at the end of the month."
    )
    if prepaid or use.purchased_out:
        text += f" Prepaid credits left: {_n(use.purchased_out.normalize())} (they do not expire)."
    return text


def _after_outcomes(
    inp: PeriodInput,
    terms: Terms | None,
    period: str,
    lines: list[Line],
    carry_in: Carry,
    added: Decimal = ZERO,
    late_demands: tuple[Decimal, ...] = (),
) -> tuple[list[Line], Carry, list[str], CreditUse | None, list[Decimal]]:
    """Credits, price lock, minimum and commitment: the lines that follow the outcome charges.

    Also returns the period's credit use and, per late credit demand, its credits beyond the balance.
    """
    currency = inp.currency
    extra: list[Line] = []
    notes: list[str] = []
    committed = carry_in.committed_spend
    use, over, late_over = _credits_draw(terms, lines, carry_in, added, late_demands)
    purchased_out = use.purchased_out if use else ZERO
    if terms is None:
        if use and use.purchased_out:
            notes.append(f"Prepaid credits left: {_n(use.purchased_out.normalize())} (they do not expire).")
        return extra, Carry(purchased=purchased_out), notes, use, late_over

    credits = ZERO
    if terms.in_credits:
        if over:
            extra.append(
                Line(f"{period}:credit_overage", "credit_overage",
                     f"Credits beyond the plan: {_n(over.normalize())} × "
                     f"{_price_text(terms.credit_price, currency, False)} per credit",
                     round_line(over * terms.credit_price, currency), over, terms.credit_price)
            )  # fmt: skip
        rollover = bool(terms.platform_fee and terms.platform_fee.rollover)
        notes.append(_credits_note(use, rollover))
        credits = use.rolled_out
    elif use and use.purchased_out:
        notes.append(f"Prepaid credits left: {_n(use.purchased_out.normalize())} (they do not expire).")

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
    return extra, Carry(credits=credits, committed_spend=committed, purchased=purchased_out), notes, use, late_over


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
    if ob is not None and ob.implementation_fee and period_of(ob.starts) == period:
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
    extra, carry_out, notes, _, _ = _after_outcomes(inp, terms, period, outcome, carry)
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
                old.gain + g.gain)  # fmt: skip
    return tuple(sorted(acc.values(), key=lambda g: (g.outcome_type, g.tier)))


@dataclass(frozen=True, slots=True)
class _LateCredits:
    """A late line priced in credits: its money depends on what the balance still covers."""

    key: str
    description: str
    code: str
    qty: int
    credits: Decimal
    unit_credits: Decimal
    credit_price: Decimal
    alloc: Alloc


_CREDIT_PLACES = Decimal("0.0001")  # credits are kept to 4 places (ledger, lines, events)


def _credit_priced(terms: Terms | None, listed: TypePrice | None) -> bool:
    return bool(terms and terms.in_credits and listed is not None and listed.model not in ("gain_share", "helpdesk"))


def _credits_of(inp: PeriodInput, batch: LateBatch, groups: tuple[Group, ...]) -> Decimal:
    return sum((ln.credits for ln in _outcome_lines(inp, batch.terms, groups, batch.period) if ln.credits), ZERO)


def _late_lines(inp: PeriodInput) -> list[Line | _LateCredits]:
    """Late outcomes of a finalized period: the exact extra they cost under that period's contract.

    For each type (in code order), the line is what the period's outcome-dependent charges
    become with these events added, minus what they were without them — so tiers, included
    allowances, the price lock and minimums of *that* period apply as if the events had been
    on time, and the earlier invoice is never touched.

    Types priced in credits use that period's credit prices, but draw their credits from the
    balance as it is *now* (that period's leftover credits rolled over or expired when its
    invoice was final): the line's money is what the balance no longer covers (see price_period).
    """
    names = dict(inp.type_names)
    lines: list[Line | _LateCredits] = []
    for batch in sorted(inp.late, key=lambda b: b.period):
        done: list[Group] = []
        before = _variable_total(inp, batch, _merge(batch.billed))
        for code in sorted({g.outcome_type for g in batch.late}):
            mine = [g for g in batch.late if g.outcome_type == code]
            listed = batch.terms.price_for(code) if batch.terms else None
            in_credits = _credit_priced(batch.terms, listed)
            credits = ZERO
            if in_credits:
                credits = _credits_of(inp, batch, _merge(batch.billed, done, mine)) - _credits_of(
                    inp, batch, _merge(batch.billed, done)
                )
            after = _variable_total(inp, batch, _merge(batch.billed, done, mine))
            done.extend(mine)
            price = listed or TypePrice(code)
            attempts = _counts_attempts(batch.terms, price)
            qty = sum(g.resolved + (g.unresolved if attempts else 0) for g in mine)
            if not qty:
                before = after
                continue
            amount = after - before
            before = after
            text = f"Late: {names.get(code, code)} from {batch.period}, decided after that invoice was final"
            classes = "RA" if attempts else "R"
            if in_credits:
                each = (credits / qty).quantize(_CREDIT_PLACES, rounding=ROUNDING)
                alloc = Alloc(batch.period, code, None, classes, event_credits=each,
                              event_amount=round_event(each * batch.terms.credit_price))  # fmt: skip
                lines.append(
                    _LateCredits(f"late:{batch.period}:{code}", text, code, qty, credits, each,
                                 batch.terms.credit_price, alloc)
                )  # fmt: skip
                continue
            unit = round_event(amount / qty)
            lines.append(
                Line(f"late:{batch.period}:{code}", "late", text, amount, Decimal(qty), unit, code,
                     alloc=Alloc(batch.period, code, None, classes, event_amount=unit))
            )  # fmt: skip
    return lines


def _late_credit_line(late: _LateCredits, over: Decimal, currency: str) -> Line:
    text = f"{late.description} — {_n(late.credits.normalize())} credits"
    if over:
        text += (f", {_n(over.normalize())} beyond your credit balance × "
                 f"{_price_text(late.credit_price, currency, False)} per credit")  # fmt: skip
    else:
        text += ", drawn from your credit balance"
    return Line(late.key, "late", text, round_line(over * late.credit_price, currency), Decimal(late.qty), ZERO,
                late.code, credits=late.credits, unit_credits=late.unit_credits, alloc=late.alloc)  # fmt: skip


def _topup_lines(inp: PeriodInput) -> list[Line]:
    """Top-ups bought in the period: each a fixed line at the price paid (already rounded)."""
    return [
        Line(
            f"topup:{p.ref}",
            "topup",
            p.description or f"Top-up: {_n(p.credits.normalize())} credits",
            p.amount,
            Decimal(1),
            p.amount,
            ref=p.ref,
        )
        for p in sorted(inp.prepaid, key=lambda p: p.ref)
        if p.amount is not None
    ]


def price_period(inp: PeriodInput) -> PricedInvoice:
    """Price one account's period: the invoice's lines, subtotal, credits applied and total."""
    terms = inp.terms
    outcome = _outcome_lines(inp, terms, inp.groups, inp.period)
    late = _late_lines(inp)
    pending = [x for x in late if isinstance(x, _LateCredits)]
    added = sum((p.credits for p in inp.prepaid), ZERO)
    extra, carry_out, notes, use, late_over = _after_outcomes(
        inp, terms, inp.period, outcome, inp.carry_in, added, tuple(x.credits for x in pending)
    )
    over_of = {x.key: over for x, over in zip(pending, late_over, strict=True)}
    late_lines = [x if isinstance(x, Line) else _late_credit_line(x, over_of[x.key], inp.currency) for x in late]
    lines = _fixed_lines(inp, terms, inp.period) + _topup_lines(inp) + outcome + extra + late_lines
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
        credit_use=use,
    )


@dataclass(frozen=True, slots=True)
class Posting:
    """One credit-ledger line a finalized invoice posts."""

    kind: str  # bundle_grant, usage, expiry, rollover
    credits: Decimal  # signed: + adds to the balance, − takes from it
    note: str


def credit_postings(use: CreditUse, *, period: str, plan_name: str = "your plan") -> tuple[Posting, ...]:
    """What a final invoice posts to the credit ledger for its period (pure: the ledger and the
    invoice come from the same :class:`CreditUse`, so they agree to the credit).

    The ledger's running balance after these postings is ``rolled_out + purchased_out``.
    """
    out = []
    if use.granted:
        out.append(Posting("bundle_grant", use.granted,
                           f"{_n(use.granted.normalize())} credits included in {plan_name} for {period}"))  # fmt: skip
    if use.used or use.used_late:
        parts = [f"{_n(use.used.normalize())} credits used by outcomes of {period}"]
        if use.used_late:
            parts.append(f"{_n(use.used_late.normalize())} by late outcomes of earlier months")
        text = " + ".join(parts) + f": {_n(use.from_plan.normalize())} from the plan, "
        text += f"{_n(use.from_purchased.normalize())} from prepaid credits"
        if use.overage:
            text += f"; {_n(use.overage.normalize())} beyond the balance, billed as overage"
        out.append(Posting("usage", -use.drawn, text))
    if use.expired:
        out.append(Posting("expiry", -use.expired,
                           f"{_n(use.expired.normalize())} unused plan credits of {period} expire"))  # fmt: skip
    if use.rolled_out:
        out.append(Posting("rollover", ZERO,
                           f"{_n(use.rolled_out.normalize())} unused plan credits of {period} roll over to "
                           f"{period_add(period, 1)}"))  # fmt: skip
    return tuple(out)


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


def marginal_bound(
    terms: Terms | None,
    outcome_type: str,
    *,
    tier: str,
    attempt: bool,
    amount: Decimal | None,
    default_price: Decimal,
) -> Decimal | None:
    """At most what one more outcome (``attempt``: one more charged attempt) can add to a period's
    own charges (fees, outcomes, adjustments) under ``terms`` — whatever the period holds already.

    Lets the cap admit a batch far from the cap without pricing the period: the sum of these over a
    batch bounds what the batch adds. None when no such bound exists: volume pricing, where one more
    unit reprices every unit of the month. Allowances, the price lock and commitments only ever
    lower a charge; a monthly minimum absorbs it; credits beyond the plan cost at most the
    outcome's credits at the credit price.
    """
    price = terms.price_for(outcome_type) if terms else None
    if price is None:
        if attempt and not (terms is not None and terms.basis == "per_conversation"):
            return ZERO
        return round_event(default_price)
    if price.model == "volume":
        return None
    if price.model == "helpdesk":
        return price.item_fee if attempt else price.item_fee + price.automation_fee
    if price.model == "gain_share":
        return ZERO if attempt else (amount or ZERO)
    if price.model == "complexity":
        unit = max(p for _, p in price.tiers)
    elif price.model == "graduated":
        unit = max(b.price for b in price.bands)
    else:
        unit = price.price
    return unit * terms.credit_price if terms.in_credits else unit
