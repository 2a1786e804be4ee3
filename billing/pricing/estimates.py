"""One outcome at a time: its provisional price at ingestion, and at most what it can add to a
period (what a cap admits a batch on without pricing the period). Pure."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.models import model_of
from billing.pricing.terms import Terms
from outcomeportal.core.money import ZERO, round_event


def unit_estimate(terms: Terms | None, outcome_type: str, complexity: str, value_amount: Decimal | None,
                  default_price: Decimal) -> tuple[Decimal | None, Decimal | None]:  # fmt: skip
    """What one more resolved outcome is worth at ingestion: (money amount, credits).

    Provisional — the exact per-event amount is recorded when the invoice is final (tiers
    and allowances depend on the month's quantity). Gain-share uses the event's value.
    """
    price = terms.price_for(outcome_type) if terms else None
    if price is None:
        return round_event(default_price), None
    model = model_of(price)
    unit = model.estimate(price, complexity=complexity, value_amount=value_amount)
    if terms.in_credits and not model.money_only:
        return round_event(unit * terms.credit_price), unit
    return round_event(unit), None


def attempt_estimate(terms: Terms | None, outcome_type: str, *, tier: str,
                     default_price: Decimal) -> tuple[Decimal | None, Decimal | None]:  # fmt: skip
    """What one more charged attempt (a ticket, a conversation that did not resolve) costs at
    ingestion: (money amount, credits). For the models whose attempt fee does not depend on the
    month (a ticket fee, a unit or tier price per conversation) that is exactly what the bound says
    one more attempt adds; provisional like :func:`unit_estimate`."""
    price = terms.price_for(outcome_type) if terms else None
    if price is None:
        return round_event(default_price), None
    model = model_of(price)
    fee = model.bound(price, tier=tier, attempt=True, amount=None)
    if fee is None:  # volume pricing: its first band's price, like an outcome's estimate
        fee = model.estimate(price, complexity=tier, value_amount=None)
    if terms.in_credits and not model.money_only:
        return round_event(fee * terms.credit_price), fee
    return round_event(fee), None


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
    batch bounds what the batch adds. None when the model has no such bound (volume pricing, where
    one more unit reprices every unit of the month). Allowances, the price lock and commitments only
    ever lower a charge; a monthly minimum absorbs it; credits beyond the plan cost at most the
    outcome's credits at the credit price.
    """
    price = terms.price_for(outcome_type) if terms else None
    if price is None:
        if attempt and not (terms is not None and terms.basis == "per_conversation"):
            return ZERO
        return round_event(default_price)
    model = model_of(price)
    bound = model.bound(price, tier=tier, attempt=attempt, amount=amount)
    if bound is None or model.money_only or not terms.in_credits:
        return bound
    return bound * terms.credit_price
