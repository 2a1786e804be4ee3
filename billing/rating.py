"""What each outcome of a batch adds to its period's invoice, as the period stands, before it is stored.

Where an outcome falls in its month can decide its price: inside a platform fee's included
outcomes it adds nothing; in a graduated band it adds that band's price; under volume pricing, the
price of the volume reached. For such a contract the batch's outcomes are added, in occurrence
order, to the period's outcomes so far (the rollup, pending ones counted as if they settle, as the
cap counts them), the period is priced once (:func:`billing.pricing.price_period`) and each outcome
takes the amount of the invoice line that bills its rank. Anywhere else an outcome's price does not
depend on the month: its unit price, its tier's price, or its share of the value it created.

The amount is an estimate until the invoice is final: the invoice ranks the month's outcomes in
occurrence order when it prices them (an outcome reported late can take an earlier rank), and two
batches stored at the same moment may be given the same ranks. Finalizing records each event's
exact amount on its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from billing.charges import cap_periods, groups_plus
from billing.contracts import Terms
from billing.pricing import Group, price_period, unit_estimate
from billing.pricing.models import model_of
from billing.terms_lookup import terms_lookup
from metering.ingest import Priced, ToPrice
from outcomeportal.core.periods import period_of


def batch_prices(items: Sequence[ToPrice]) -> list[Priced]:
    """Each outcome's price under the contract of its period, as the period stands (see the module)."""
    if not items:
        return []
    terms_at, contracts = terms_lookup({i.account_id for i in items})
    out: list[Priced | None] = [None] * len(items)
    by_period: dict[tuple[int, str], list[int]] = {}
    period_terms: dict[tuple[int, str], Terms] = {}
    # Most outcomes of a batch share (contract, type, complexity, value): price each combination
    # once. The value is in the key because gain-share prices depend on it.
    estimates: dict[tuple, Priced] = {}
    for n, item in enumerate(items):
        terms = terms_at(item.account_id, item.occurred_at)
        if terms is not None and _by_position(terms, item.outcome_type_code):
            key = (item.account_id, period_of(item.occurred_at.astimezone(contracts[item.account_id].tzinfo)))
            by_period.setdefault(key, []).append(n)
            period_terms[key] = terms
            continue
        ekey = (id(terms), item.outcome_type_id, item.complexity, item.value_amount, item.default_unit_price)
        price = estimates.get(ekey)
        if price is None:
            price = estimates[ekey] = Priced(
                *unit_estimate(terms, item.outcome_type_code, item.complexity, item.value_amount,
                               item.default_unit_price)
            )  # fmt: skip
        out[n] = price
    if by_period:
        currency = {key[0]: contracts[key[0]].currency for key in by_period}
        periods = cap_periods(keys=sorted(by_period), terms=period_terms, currency=currency)
        for key, positions in by_period.items():
            _rate_in_period(items, positions, periods[key], period_terms[key], key[1], out)
    return out  # type: ignore[return-value]


def _by_position(terms: Terms, code: str) -> bool:
    """Does an outcome's place in its month decide its price (included outcomes, bands)?"""
    if terms.in_credits:  # a credit plan is drawn down by the whole month: its unit estimate stands
        return False
    price = terms.price_for(code)
    model = model_of(price) if price is not None else None
    if model is not None and model.per_event_share:
        return False
    pf = terms.platform_fee
    covered = pf is not None and pf.included_outcomes > 0 and (not pf.included_types or code in pf.included_types)
    return covered or (model is not None and model.by_position)


def _rate_in_period(items: Sequence[ToPrice], positions: list[int], cap_period, terms: Terms, period: str,
                    out: list) -> None:  # fmt: skip
    """Price one account's period with the batch's outcomes added, and give each its line's amount."""
    before = cap_period.counts.with_pending
    positions = sorted(positions, key=lambda n: (items[n].occurred_at, items[n].event_id))
    groups = before
    for n in positions:
        groups = groups_plus(groups, code=items[n].outcome_type_code, tier=items[n].complexity, resolved=1)
    lines = [ln for ln in price_period(replace(cap_period.inp, groups=groups)).lines
             if ln.alloc is not None and ln.alloc.segment == period and "R" in ln.alloc.classes]  # fmt: skip
    taken: dict[tuple[str, str | None], int] = {}
    for n in positions:
        item = items[n]
        code = item.outcome_type_code
        price = terms.price_for(code)
        model = model_of(price) if price is not None else None
        tier = model.effective_tier(price, item.complexity) if model is not None else None
        attempts = model is not None and model.counts_attempts(terms)
        part = (code, tier)
        if part not in taken:
            taken[part] = _count(before, code, tier, model, price, attempts)
        taken[part] += 1
        amount = _line_amount(lines, code, tier, taken[part])
        if amount is None:
            amount = unit_estimate(terms, code, item.complexity, item.value_amount, item.default_unit_price)[0]
        out[n] = Priced(amount)


def _count(groups: tuple[Group, ...], code: str, tier: str | None, model, price, attempts: bool) -> int:
    """The period's outcomes so far in a type's partition (its effective tier), as the invoice ranks them."""
    total = 0
    for g in groups:
        if g.outcome_type != code:
            continue
        if tier is not None and (model.effective_tier(price, g.tier) if model is not None else None) != tier:
            continue
        total += g.resolved + (g.unresolved if attempts else 0)
    return total


def _line_amount(lines, code: str, tier: str | None, rank: int) -> Decimal | None:
    """The amount of the line that bills ``rank`` of the type's partition; None if no line does."""
    for ln in lines:
        a = ln.alloc
        if a.outcome_type != code or (a.tier is not None and a.tier != tier):
            continue
        if a.rank_from <= rank and (a.rank_to is None or rank <= a.rank_to):
            return a.event_amount
    return None
