"""The charge month rollup, folded before it is read (the mechanism: metering.month_rollup).

Readers of a month grain call :func:`month_rollups_fold` first: it folds both month rollups —
metering's event counts and billing's charges — since the shown counts read them together.
"""

from __future__ import annotations

from metering.month_rollup import EVENTS, MonthRollup

# Billing's: charges by account, local month, type, complexity, kind, state and reason (ChargeMonthRollup).
CHARGES = MonthRollup(
    table="billing_chargemonthrollup",
    marks="billing_chargemonthmark",
    days="billing_chargerollup",
    key="outcome_type_id, complexity, attempt, state, reason",
    sums="charges, amount, credits",
    keep="sum(d.charges) <> 0 OR sum(d.amount) <> 0 OR sum(d.credits) <> 0",
    lock=0x6D6F6E74_68730002,  # "months" 2
)


def month_rollups_fold() -> int:
    """Fold every marked account-month of both month rollups; how many were folded."""
    return EVENTS.fold() + CHARGES.fold()
