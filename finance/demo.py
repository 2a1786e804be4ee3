"""seed_demo's finance part: delivery costs in the catalogue, a margin floor of its own for one type,
and a churned account — so that every finance page shows something real.

Registered with ``metering.demo.demo_hook_register("after_settlement", …)`` in ``finance.apps``. The
demo's events report their cost themselves (the world's ``cost_amount``); the catalogue's costs, at
the same means, price any event that would not.
"""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Account
from accounts.services import account_lifecycle_set, account_min_attainment_set
from metering.models import OutcomeType
from metering.services import outcome_cost_create, outcome_type_margin_floor_set

# (type, tier) → cost per outcome: the world's means (metering/demo/world.py _COST and _TYPE_COST).
DEMO_COSTS = {
    ("resolved_conversation", ""): "0.03",
    ("resolved_conversation", "moderate"): "0.12",
    ("resolved_conversation", "complex"): "0.45",
    ("qualified_lead", ""): "0.60",
    ("completed_screening", ""): "0.35",
    ("saved_cancellation", ""): "0.80",
}
CHURNED = "ledgerly"  # churns at the end of the demo's months (brightpath falls, and is below the floor)
# Below this attainment the customer is expected to leave (Finance → Scenarios, churn): a little under
# brightpath's (about 0.35 — its cap's pauses leave its failures in the rate), so a decline of a few
# points a month churns it within months.
MIN_ATTAINMENT = {"brightpath": Decimal("0.3000")}


def finance_demo(context) -> None:
    types = {t.code: t for t in OutcomeType.objects.all()}
    first = context.period_start.date().replace(day=1)
    for (code, tier), amount in DEMO_COSTS.items():
        if code in types:
            outcome_cost_create(
                outcome_type=types[code],
                complexity=tier,
                amount=Decimal(amount),
                effective_from=first,
                created_by="demo",
            )
    if "saved_cancellation" in types:  # retention offers cost the most: the vendor wants more margin on them
        outcome_type_margin_floor_set(outcome_type=types["saved_cancellation"], margin_floor=Decimal("0.7000"))
    for external_id, threshold in MIN_ATTAINMENT.items():
        account = Account.objects.filter(pk=context.accounts.get(external_id)).first()
        if account is not None:
            account_min_attainment_set(account=account, min_attainment=threshold)
    churned = Account.objects.filter(pk=context.accounts.get(CHURNED)).first()
    if churned is not None:
        account_lifecycle_set(account=churned, status="churned", effective_at=context.now, changed_by="demo")
    context.progress(
        f"finance: delivery costs for {len(DEMO_COSTS)} types and tiers, a 70 % margin floor for saved "
        f"cancellations, {CHURNED} churned, brightpath's minimum attainment 0.3000"
    )
