"""An outcome guarantee's shortfall credit, the rule written once. Pure — no Django.

A contract may guarantee that at least ``min_attainment`` of one outcome type's attempted outcomes
are billable each period (:class:`billing.pricing.terms.Guarantee`). When the period *closes* below
it, its invoice carries a negative line of kind ``guarantee_credit``:

    credit = charges × credit_percent_per_point / 100 × points below, at most the charges,
    rounded once to the currency's minor unit (half away from zero, :func:`round_line`)

* *charges* — the amounts of the period's own outcome lines of that type (kinds ``outcome`` and
  ``included``; outcomes inside a platform fee's allowance are lines of 0, and the fee itself is
  not an outcome charge). Late outcomes of earlier periods are not the period's charges.
* *points below* — (``min_attainment`` − rate) × 100, with the rate of
  :mod:`billing.pricing.attainment` (billable ÷ attempted, 4 decimals; pending outcomes are not
  attempted), so points have at most 2 decimals.
* No attempted outcome of the type: no rate, nothing to check. At or above the guarantee: no credit.

Only a closed period is checked (``PeriodInput.attainment`` is filled when its invoice is
finalized); a draft says when the guarantee will be checked instead, so a shortfall that may
still vanish is never shown as money.
"""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.attainment import rate
from billing.pricing.terms import Guarantee
from billing.pricing.types import Attainment, Line, n
from outcomeportal.core.money import ZERO, money_display, round_line

GUARANTEE_KIND = "guarantee_credit"
CHARGE_KINDS = ("outcome", "included")  # the lines whose amounts are a type's outcome charges


def _pct(ratio: Decimal) -> str:
    """0.8210 → "82.1"."""
    return n(ratio * 100)


def guarantee_check(
    guarantee: Guarantee,
    attainment: tuple[Attainment, ...] | None,
    lines: list[Line],
    *,
    period: str,
    currency: str,
    name: str,
) -> tuple[Line | None, str]:
    """The period's shortfall credit line (None when there is none) and a note saying how the
    guarantee stands. ``lines``: the period's own outcome lines; ``name``: the type's name."""
    least = _pct(guarantee.min_attainment)
    if attainment is None:
        return None, (
            f"Outcome guarantee — {name}: at least {least} % attainment, checked when the period closes; "
            "a shortfall is credited on the final invoice."
        )
    counts = next((a for a in attainment if a.outcome_type == guarantee.outcome_type), None)
    billable, attempted = (counts.billable, counts.attempted) if counts else (0, 0)
    achieved = rate(billable, attempted)
    if achieved is None:
        return None, f"Outcome guarantee — {name}: no outcome attempted in {period}, nothing to check."
    measured = f"{name}: {_pct(achieved)} % attainment ({n(billable)} of {n(attempted)} attempted were billable)"
    if achieved >= guarantee.min_attainment:
        return None, f"Outcome guarantee met — {measured}; {least} % guaranteed."
    points = (guarantee.min_attainment - achieved) * 100
    charges = sum(
        (ln.amount for ln in lines if ln.kind in CHARGE_KINDS and ln.outcome_type == guarantee.outcome_type), ZERO
    )
    if charges <= 0:
        return None, f"Outcome guarantee missed — {measured}, {n(points)} points below {least} %; no charges to credit."
    exact = charges * guarantee.credit_percent_per_point / 100 * points
    capped = exact > charges
    credit = round_line(min(exact, charges), currency)
    if not credit:
        return None, f"Outcome guarantee missed — {measured}, {n(points)} points below {least} %; the credit is 0."
    text = (
        f"Guarantee shortfall — {measured}, {n(points)} points below the guaranteed {least} %: credit of "
        f"{n(guarantee.credit_percent_per_point)} % of {money_display(charges, currency)} per point"
        + (", at most the charges themselves" if capped else "")
    )
    line = Line(f"{period}:guarantee", GUARANTEE_KIND, text, -credit, Decimal(1), -credit, guarantee.outcome_type)
    return line, ""
