"""What each new charge adds to its period's invoice, as the period stands, before it is written.

Where an outcome falls in its month can decide its price: inside a platform fee's included
outcomes it adds nothing (reason ``included``); in a graduated band it adds that band's price;
under volume pricing, the price of the volume reached. For such a contract the batch's charges are
added, in occurrence order, to the period's charges so far (the ledger's rollup, pending outcomes
counted as if they settle, as the cap counts them), the period is priced once
(:func:`billing.pricing.price_period`) and each charge takes the amount of the invoice line that
bills its rank. Anywhere else an outcome's price does not depend on the month: its unit price, its
tier's price, or its share of the value it created; an attempt that did not succeed costs its
ticket or conversation fee where the contract charges one, else nothing.

The amount is an estimate until the invoice is final: the invoice ranks the month's outcomes in
occurrence order when it prices them (an outcome reported late can take an earlier rank), and two
batches written at the same moment may be given the same ranks. Finalizing records each charge's
exact amount on its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from billing.charges import Charging, cap_periods, catalogue, counts_of, groups_plus, rollup_rows
from billing.contracts import Terms
from billing.ledger.models import ChargeReason
from billing.ledger.services import NewCharge
from billing.pricing import Group, attempt_estimate, price_period, unit_estimate
from billing.pricing.models import model_of
from billing.pricing.models.base import PerUnitModel
from billing.pricing.models.volume import volume_price
from billing.pricing.terms import TypePrice
from billing.terms_lookup import ContractsAt
from outcomeportal.core.money import ZERO, round_event
from outcomeportal.core.periods import period_of


def charges_rate(charges: Sequence[NewCharge], contracts: ContractsAt) -> None:
    """Set each charge's amount and credits (and the reason ``included``) under its contract version's
    terms — see the module. ``charges`` in occurrence order; those already given a reason (an
    allowance) cost nothing and are left as they are."""
    codes = catalogue()
    by_period: dict[tuple[int, str], list[NewCharge]] = {}
    period_terms: dict[tuple[int, str], Terms] = {}
    # Most outcomes of a batch share (contract, type, complexity, value, kind): price each
    # combination once. The value is in the key because gain-share prices depend on it.
    estimates: dict[tuple, tuple] = {}
    by_position: dict[tuple, bool] = {}  # (terms, type, attempt) -> does its place in the month count?
    for c in charges:
        if c.charge_reason:
            continue
        terms = c.terms
        code, _, default = codes[c.outcome_type_id]
        pkey = (id(terms), code, c.attempt)
        positional = by_position.get(pkey)
        if positional is None:
            positional = by_position[pkey] = terms is not None and _by_position(terms, code, attempt=c.attempt)
        if positional:
            key = (c.account_id, period_of(c.occurred_at.astimezone(contracts[c.account_id].tzinfo)))
            by_period.setdefault(key, []).append(c)
            period_terms[key] = terms
            continue
        ekey = (id(terms), c.outcome_type_id, c.complexity, c.value_amount, c.attempt, c.reason)
        price = estimates.get(ekey)
        if price is None:
            price = estimates[ekey] = _estimate(terms, code, c, default)
        c.amount, c.credits = price
    if by_period:
        # The periods' charges so far (one statement); most periods are clearly past a platform
        # fee's allowance (or clearly inside it) and need no pricing at all.
        rows = rollup_rows(keys=sorted(by_period))
        charging = {id(t): Charging.of(t) for t in {id(t): t for t in period_terms.values()}.values()}
        counts = {key: counts_of(rows.get(key, ()), charging[id(period_terms[key])]) for key in by_period}
        priced = [
            key for key, items in by_period.items()
            if not _rate_settled_position(items, period_terms[key], counts[key].with_pending, codes)
        ]  # fmt: skip
        if priced:
            currency = {key[0]: contracts[key[0]].currency for key in priced}
            periods = cap_periods(keys=sorted(priced), terms=period_terms, currency=currency, counts=counts)
            for key in priced:
                _rate_in_period(by_period[key], periods[key], period_terms[key], key[1], codes)


def _rate_settled_position(items: list[NewCharge], terms: Terms, before: tuple[Group, ...], codes: dict) -> bool:
    """Rate a period's positional charges without pricing it, when their place in the month leaves
    no doubt, type by type (read from the rollup alone; price_period decides anything else):

    * a type inside a platform fee's allowance, with per-unit prices: the month's covered outcomes
      with the batch still within the allowance (all included), or already past it before the batch
      with this the only covered type (the allowance goes to the types in contract order);
    * a type with bands and no allowance: graduated, the batch's ranks all in one band; volume, the
      price of the volume the month reaches with the batch.

    False (nothing set) when any type of the batch is not that clear."""
    pf = terms.platform_fee
    by_code: dict[str, list[NewCharge]] = {}
    for c in items:
        by_code.setdefault(codes[c.outcome_type_id][0], []).append(c)

    def covered(code: str) -> bool:
        return _covered(terms, code)

    def counted(code: str) -> int:  # the type's charges so far, every tier
        return _count(before, code, None, None, None, _counts_attempts(terms, code))

    in_use = {g.outcome_type for g in before if covered(g.outcome_type)} | {c for c in by_code if covered(c)}
    used = sum(counted(code) for code in in_use)
    batch = sum(len(cs) for code, cs in by_code.items() if covered(code))
    assigned: list[tuple[NewCharge, tuple]] = []
    for code, cs in by_code.items():
        price = terms.price_for(code)
        model = model_of(price) if price is not None else model_of(TypePrice(code, "unit"))
        if covered(code):
            if not isinstance(model, PerUnitModel) or model.by_position:
                return False
            if used + batch <= pf.included_outcomes:
                assigned += [(c, (ZERO, None, ChargeReason.INCLUDED)) for c in cs]
            elif used >= pf.included_outcomes and len(in_use) == 1:
                assigned += [(c, (*_estimate(terms, code, c, codes[c.outcome_type_id][2]), "")) for c in cs]
            else:
                return False
        elif model.by_position and price is not None and not model.tiered:
            unit = _band_price(model.code, price, counted(code), len(cs))
            if unit is None:
                return False
            assigned += [(c, (round_event(unit), None, "")) for c in cs]
        else:
            return False
    for c, (amount, credits, reason) in assigned:
        c.amount, c.credits, c.charge_reason = amount, credits, reason
    return True


def _band_price(model: str, price: TypePrice, before: int, added: int):
    """The one price outcomes ``before + 1 … before + added`` of the month pay: graduated, the band
    they all fall in (None when they straddle two); volume, the band of the volume reached."""
    if model == "volume":
        return volume_price(price, before + added)
    lower = 0
    for band in price.bands:
        upper = band.up_to if band.up_to is not None else 10**18
        if lower < before + 1 <= upper:
            return band.price if before + added <= upper else None
        lower = upper
    return None


def _estimate(terms: Terms | None, code: str, c: NewCharge, default) -> tuple:
    if not c.attempt:
        return unit_estimate(terms, code, c.complexity, c.value_amount, default)
    if not Charging.of(terms).charges_attempt(outcome_type_id=c.outcome_type_id, reason=c.reason):
        return None, None  # an attempt this contract charges nothing for
    return attempt_estimate(terms, code, tier=c.complexity, default_price=default)


def _by_position(terms: Terms, code: str, *, attempt: bool) -> bool:
    """Does a charge's place in its month decide its price (included outcomes, bands)?"""
    if terms.in_credits:  # a credit plan is drawn down by the whole month: its unit estimate stands
        return False
    price = terms.price_for(code)
    model = model_of(price) if price is not None else None
    if model is not None and model.per_event_share:
        return False
    if attempt and not (model is not None and model.counts_attempts(terms)) and terms.basis != "per_conversation":
        return False  # no fee on this type's attempts: nothing to rank
    return _covered(terms, code) or (model is not None and model.by_position)


def _covered(terms: Terms, code: str) -> bool:
    """Is the type inside the platform fee's allowance of included outcomes?"""
    pf = terms.platform_fee
    return pf is not None and pf.included_outcomes > 0 and (not pf.included_types or code in pf.included_types)


def _counts_attempts(terms: Terms, code: str) -> bool:
    """Do the type's unresolved attempts take ranks (and fees) beside its outcomes?"""
    price = terms.price_for(code)
    return terms.basis == "per_conversation" or (price is not None and model_of(price).counts_attempts(terms))


def _rate_in_period(items: list[NewCharge], cap_period, terms: Terms, period: str, codes: dict) -> None:
    """Price one account's period with the batch's charges added, and give each its line's amount."""
    before = cap_period.counts.with_pending
    items = sorted(items, key=lambda c: (c.occurred_at, c.pk))
    groups = before
    for c in items:
        code = codes[c.outcome_type_id][0]
        groups = groups_plus(
            groups, code=code, tier=c.complexity, **({"unresolved": 1} if c.attempt else {"resolved": 1})
        )
    lines = [ln for ln in price_period(replace(cap_period.inp, groups=groups)).lines
             if ln.alloc is not None and ln.alloc.segment == period]  # fmt: skip
    taken: dict[tuple[str, str | None], int] = {}
    for c in items:
        code, _, default = codes[c.outcome_type_id]
        price = terms.price_for(code)
        model = model_of(price) if price is not None else None
        tier = model.effective_tier(price, c.complexity) if model is not None else None
        part = (code, tier)
        if part not in taken:
            taken[part] = _count(before, code, tier, model, price, _counts_attempts(terms, code))
        taken[part] += 1
        line = _line_of(lines, code, tier, taken[part], "A" if c.attempt else "R")
        if line is None:
            c.amount, c.credits = _estimate(terms, code, c, default)
        elif line.kind == "included":
            c.amount, c.charge_reason = line.alloc.event_amount, ChargeReason.INCLUDED
        else:
            c.amount = line.alloc.event_amount


def _count(groups: tuple[Group, ...], code: str, tier: str | None, model, price, attempts: bool) -> int:
    """The period's charges so far in a type's partition (its effective tier), as the invoice ranks them."""
    total = 0
    for g in groups:
        if g.outcome_type != code:
            continue
        if tier is not None and (model.effective_tier(price, g.tier) if model is not None else None) != tier:
            continue
        total += g.resolved + (g.unresolved if attempts else 0)
    return total


def _line_of(lines, code: str, tier: str | None, rank: int, cls: str):
    """The line that bills ``rank`` of the type's partition for this class of charge; None if none does."""
    for ln in lines:
        a = ln.alloc
        if a.outcome_type != code or cls not in a.classes or (a.tier is not None and a.tier != tier):
            continue
        if a.rank_from <= rank and (a.rank_to is None or rank <= a.rank_to):
            return ln
    return None
