"""Pricing a period: (contract terms, the period's decided events as aggregates) → priced invoice lines.

A pure function — no Django, no database, no clock. The services aggregate the period's
events in SQL (one GROUP BY), call :func:`price_period`, and store what it returns; the
same inputs always give the same lines, whatever order the events arrived in.

Outcome lines come from each type's pricing model (:mod:`billing.pricing.models`); this module
adds what spans the types: fixed fees, credits drawn from the plan and the prepaid balance,
an outcome guarantee's shortfall credit (:mod:`billing.pricing.guarantee`), the price lock, the
monthly minimum, commitments, late outcomes of finalized months, top-ups and credit notes.

Each line that bills events carries an :class:`Alloc`: which events it bills (period,
outcome type, complexity, resolved and/or unresolved attempts, and a rank range in
occurrence order). Finalization links exactly those events to the line, in one UPDATE.

Rounding: see :mod:`outcomeportal.core.money` — one rounding per line, totals are sums of lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from billing.pricing.guarantee import guarantee_check
from billing.pricing.models import model_of
from billing.pricing.models.base import Allowance, TypeContext
from billing.pricing.terms import Proration, Terms, TypePrice
from billing.pricing.types import (
    Alloc,
    Attainment,
    Carry,
    CreditUse,
    Group,
    LateBatch,
    Line,
    PeriodInput,
    PricedInvoice,
    n,
    price_text,
)
from outcomeportal.core import formatting
from outcomeportal.core.money import ROUNDING, ZERO, round_event, round_line
from outcomeportal.core.periods import period_add, period_first_day, period_of


def _order_types(terms: Terms | None, groups: Iterable[Group]) -> list[str]:
    present = {g.outcome_type for g in groups}
    listed = [p.outcome_type for p in terms.prices] if terms else []
    return [t for t in listed if t in present] + sorted(present - set(listed))


def _in_lock(terms: Terms, period: str) -> bool:
    lock = terms.price_lock
    if lock is None:
        return False
    first, nxt = period_first_day(period), period_first_day(period_add(period, 1))
    return first < lock.ends and nxt > lock.starts


def _outcome_lines(inp: PeriodInput, terms: Terms | None, groups: tuple[Group, ...], segment: str) -> list[Line]:
    """Lines for the outcomes themselves, type by type in contract order, each by its model."""
    names = dict(inp.type_names)
    defaults = dict(inp.default_prices)
    in_credits = bool(terms and terms.in_credits)
    pf = terms.platform_fee if terms else None
    allowance = Allowance(pf.included_outcomes if pf and not in_credits else 0)
    lines: list[Line] = []
    for code in _order_types(terms, groups):
        listed = terms.price_for(code) if terms else None
        price = listed or TypePrice(code, "unit", price=defaults.get(code, ZERO))
        model = model_of(price)
        credit_price = terms.credit_price if in_credits and listed is not None and not model.money_only else None
        context = TypeContext(price, code, names.get(code, code), [g for g in groups if g.outcome_type == code],
                              segment, inp.currency, terms, credit_price, pf, allowance)  # fmt: skip
        lines += model.lines(context)
    return lines


def _rolls_over(terms: Terms | None, inp: PeriodInput) -> bool:
    """Unused plan credits roll over: the contract says so and the account was active at the period's end."""
    return bool(terms and terms.in_credits and terms.platform_fee and terms.platform_fee.rollover and inp.active)


def _credits_draw(
    terms: Terms | None,
    lines: list[Line],
    carry_in: Carry,
    added: Decimal,
    late_demands: tuple[Decimal, ...],
    rollover: bool,
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


def _credits_note(use: CreditUse, rollover: bool, *, inactive: bool = False) -> str:
    prepaid = use.purchased_in + use.added
    text = f"Credits: {n(use.rolled_in.normalize())} rolled over + {n(use.granted.normalize())} included"
    if prepaid:
        text += f" + {n(prepaid.normalize())} prepaid"
    text += f", {n(use.used.normalize())} used"
    if use.used_late:
        text += f" (+ {n(use.used_late.normalize())} by late outcomes of earlier months)"
    plan_left = use.rolled_out + use.expired
    text += f"; {n(plan_left.normalize())} " + (
        "roll over to next month."
        if rollover
        else "expire at the end of the month (the account is not active)."
        if inactive
        else "expire at the end of the month."
    )
    if prepaid or use.purchased_out:
        text += f" Prepaid credits left: {n(use.purchased_out.normalize())} (they do not expire)."
    return text


def _after_outcomes(
    inp: PeriodInput,
    terms: Terms | None,
    period: str,
    lines: list[Line],
    carry_in: Carry,
    added: Decimal = ZERO,
    late_demands: tuple[Decimal, ...] = (),
    attainment: tuple[Attainment, ...] | None = None,
) -> tuple[list[Line], Carry, list[str], CreditUse | None, list[Decimal]]:
    """Credits, guarantee credit, price lock, minimum and commitment: the lines that follow the
    outcome charges. The guarantee's credit reduces the outcome charges the lock, the minimum and
    the commitment then see (so an invoice never goes below zero); ``attainment``: the closed
    period's, None when not checked (a draft, or a late batch: its month's credit was final).

    Also returns the period's credit use and, per late credit demand, its credits beyond the balance.
    """
    currency = inp.currency
    extra: list[Line] = []
    notes: list[str] = []
    committed = carry_in.committed_spend
    rollover = _rolls_over(terms, inp)
    use, over, late_over = _credits_draw(terms, lines, carry_in, added, late_demands, rollover)
    purchased_out = use.purchased_out if use else ZERO
    if terms is None:
        if use and use.purchased_out:
            notes.append(f"Prepaid credits left: {n(use.purchased_out.normalize())} (they do not expire).")
        return extra, Carry(purchased=purchased_out), notes, use, late_over

    credits = ZERO
    if terms.in_credits:
        if over:
            extra.append(
                Line(f"{period}:credit_overage", "credit_overage",
                     f"Credits beyond the plan: {n(over.normalize())} × "
                     f"{price_text(terms.credit_price, currency, False)} per credit",
                     round_line(over * terms.credit_price, currency), over, terms.credit_price)
            )  # fmt: skip
        notes.append(_credits_note(use, rollover, inactive=bool(terms.platform_fee and terms.platform_fee.rollover)
                                   and not inp.active))  # fmt: skip
        credits = use.rolled_out
    elif use and use.purchased_out:
        notes.append(f"Prepaid credits left: {n(use.purchased_out.normalize())} (they do not expire).")
    if (g := terms.guarantee) is not None:
        name = dict(inp.type_names).get(g.outcome_type, g.outcome_type)
        credit, note = guarantee_check(g, attainment, lines, period=period, currency=currency, name=name)
        extra += [credit] if credit else []
        notes += [note] if note else []

    outcome_total = sum((ln.amount for ln in lines), ZERO) + sum((ln.amount for ln in extra), ZERO)
    outcome_total = _lock_and_minimum(terms, period, currency, outcome_total, extra)
    committed = _commitment(terms, period, currency, outcome_total, committed, extra, notes)
    return extra, Carry(credits=credits, committed_spend=committed, purchased=purchased_out), notes, use, late_over


def _lock_and_minimum(terms: Terms, period: str, currency: str, outcome_total: Decimal, extra: list[Line]) -> Decimal:
    """The price lock's discount and the monthly minimum's top-up (appended to ``extra``); returns
    the outcome charges after them."""
    lock = terms.price_lock
    if lock is not None and _in_lock(terms, period) and outcome_total > lock.previous_plan_cost:
        discount = outcome_total - lock.previous_plan_cost
        extra.append(
            Line(f"{period}:price_lock", "price_lock",
                 f"Price lock until {formatting.day(lock.ends)}: outcome charges capped at your previous plan's "
                 f"{price_text(lock.previous_plan_cost, currency, False)} a month",
                 round_line(-discount, currency), Decimal(1), round_line(-discount, currency))
        )  # fmt: skip
        outcome_total -= discount
    if terms.monthly_minimum is not None and outcome_total < terms.monthly_minimum:
        top_up = terms.monthly_minimum - outcome_total
        extra.append(
            Line(f"{period}:minimum", "minimum",
                 f"Monthly minimum of {price_text(terms.monthly_minimum, currency, False)}: top-up",
                 round_line(top_up, currency), Decimal(1), round_line(top_up, currency))
        )  # fmt: skip
        outcome_total += top_up
    return outcome_total


def _commitment(terms: Terms, period: str, currency: str, outcome_total: Decimal, committed: Decimal,
                extra: list[Line], notes: list[str]) -> Decimal:  # fmt: skip
    """A commitment's drawdown (prepaid) or true-up (in arrears, at the term's end), appended to
    ``extra``; returns the spend counted against the commitment so far in its term."""
    cm = terms.commitment
    if cm is None or period not in cm.periods():
        return ZERO
    if period == cm.start:
        committed = ZERO
    remaining = max(cm.amount - committed, ZERO)
    if cm.prepaid:
        draw = min(outcome_total, remaining)
        if draw:
            extra.append(
                Line(f"{period}:drawdown", "commitment_drawdown",
                     f"Drawn from your prepaid commitment ({price_text(remaining, currency, False)} "
                     f"remaining before this invoice)", round_line(-draw, currency), Decimal(1),
                     round_line(-draw, currency))
            )  # fmt: skip
    committed += outcome_total
    notes.append(
        f"Commitment: {price_text(min(committed, cm.amount), currency, False)} of "
        f"{price_text(cm.amount, currency, False)} used in the term {cm.start} – {cm.periods()[-1]}."
    )
    if not cm.prepaid and period == cm.periods()[-1] and committed < cm.amount:
        shortfall = cm.amount - committed
        extra.append(
            Line(f"{period}:true_up", "true_up",
                 f"Commitment true-up: {price_text(cm.amount, currency, False)} committed for "
                 f"{cm.start} – {period}, {price_text(committed, currency, False)} used",
                 round_line(shortfall, currency), Decimal(1), round_line(shortfall, currency))
        )  # fmt: skip
    return committed


def _fixed_lines(inp: PeriodInput, terms: Terms | None, period: str) -> list[Line]:
    if terms is None:
        return []
    currency = inp.currency
    lines = []
    if terms.proration is not None:
        lines += _prorated_fee_lines(terms.proration, period, currency)
    elif terms.platform_fee is not None and terms.platform_fee.amount:
        pf = terms.platform_fee
        what = ""
        if pf.included_outcomes:
            what = f" (includes {n(pf.included_outcomes)} outcomes)"
        elif pf.included_credits:
            what = f" (includes {n(pf.included_credits.normalize())} credits)"
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


def _prorated_fee_lines(pr: Proration, period: str, currency: str) -> list[Line]:
    """A month whose contract changed inside it: each contract's fee for its days (billing.pricing.proration)."""
    first, last = period_first_day(period), pr.changed_on - timedelta(days=1)
    lines = []
    for key, share, start, end, when in (
        ("platform_fee_before", pr.before, first, last, f"before the change of {_day(pr.changed_on)}"),
        ("platform_fee", pr.after, pr.changed_on, _last_day(period), "from the change"),
    ):
        if not share.amount:
            continue
        includes = ""
        if share.included_outcomes:
            includes = f"; includes {n(share.included_outcomes)} outcomes"
        elif share.included_credits:
            includes = f"; includes {n(share.included_credits.normalize())} credits"
        lines.append(
            Line(f"{period}:{key}", "platform_fee",
                 f"{share.name}, {when}: {start.day}–{_day(end)}, {share.days} of {pr.days_in_period} days, "
                 f"prorated{includes}", share.amount, Decimal(1), share.amount)
        )  # fmt: skip
    return lines


def _day(d) -> str:
    return f"{d.day} {d:%b %Y}"


def _last_day(period: str):
    return period_first_day(period_add(period, 1)) - timedelta(days=1)


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
    return bool(terms and terms.in_credits and listed is not None and not model_of(listed).money_only)


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
            attempts = model_of(price).counts_attempts(batch.terms)
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
    text = f"{late.description} — {n(late.credits.normalize())} credits"
    if over:
        text += (f", {n(over.normalize())} beyond your credit balance × "
                 f"{price_text(late.credit_price, currency, False)} per credit")  # fmt: skip
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
            p.description or f"Top-up: {n(p.credits.normalize())} credits",
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
        inp, terms, inp.period, outcome, inp.carry_in, added, tuple(x.credits for x in pending), inp.attainment
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
                           f"{n(use.granted.normalize())} credits included in {plan_name} for {period}"))  # fmt: skip
    if use.used or use.used_late:
        parts = [f"{n(use.used.normalize())} credits used by outcomes of {period}"]
        if use.used_late:
            parts.append(f"{n(use.used_late.normalize())} by late outcomes of earlier months")
        text = " + ".join(parts) + f": {n(use.from_plan.normalize())} from the plan, "
        text += f"{n(use.from_purchased.normalize())} from prepaid credits"
        if use.overage:
            text += f"; {n(use.overage.normalize())} beyond the balance, billed as overage"
        out.append(Posting("usage", -use.drawn, text))
    if use.expired:
        out.append(Posting("expiry", -use.expired,
                           f"{n(use.expired.normalize())} unused plan credits of {period} expire"))  # fmt: skip
    if use.rolled_out:
        out.append(Posting("rollover", ZERO,
                           f"{n(use.rolled_out.normalize())} unused plan credits of {period} roll over to "
                           f"{period_add(period, 1)}"))  # fmt: skip
    return tuple(out)
