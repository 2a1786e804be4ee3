"""The finance figures' inputs, read from the rollups and ledgers — never by scanning events."""

from __future__ import annotations

from accounts.models import Account, AccountLifecycleChange
from accounts.selectors import account_statuses_at


def account_lifecycle_rows(*, now) -> list[dict]:
    """Every account with its lifecycle status at ``now`` and the date it took effect."""
    statuses = account_statuses_at(at=now)
    since: dict[int, object] = dict(
        AccountLifecycleChange.objects.filter(effective_at__lte=now)
        .order_by("account_id", "-effective_at", "-id")
        .distinct("account_id")
        .values_list("account_id", "effective_at")
    )
    return [
        {
            "external_id": a.external_id,
            "name": a.name,
            "tier": a.tier,
            "industry": a.industry,
            "use_case": a.use_case,
            "status": statuses[a.pk],
            "since": since.get(a.pk),
        }
        for a in Account.objects.order_by("name")
    ]
