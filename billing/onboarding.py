"""Onboarding allowances at ingestion: the free training window and the pilot's free outcomes.

Outcomes inside the contract's free training window are ruled out ``training_window``; the first
N outcomes of a pilot ``pilot_free``. The pilot count is taken under a per-account advisory lock,
so concurrent batches never hand out more than N free outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Sum

from billing.contracts import Terms
from metering.ingest import Candidate
from metering.models import DailyRollup

_PILOT_LOCK = 0x0B111  # advisory lock namespace: (namespace, account id)


def onboarding_rule_out(*, candidates: Sequence[Candidate], terms_at, zones) -> dict[int, dict]:
    """``{pk: facts}`` for the stored outcomes an onboarding allowance makes free.

    ``candidates`` in occurrence order; ``terms_at(account_id, instant)`` gives the contract terms
    of an instant's period and ``zones[account_id]`` the account's time zone.
    """
    ruled_out: dict[int, dict] = {}
    pilot: dict[int, list[Candidate]] = {}
    pilot_size: dict[int, int] = {}
    for c in candidates:
        if c.status == "non_billable":  # an attempt that did not succeed: no allowance to give
            continue
        terms: Terms | None = terms_at(c.account_id, c.occurred_at)
        ob = terms.onboarding if terms else None
        if ob is None:
            continue
        local_day = c.occurred_at.astimezone(zones[c.account_id]).date()
        if local_day < ob.starts:
            continue
        if ob.training_until is not None and local_day < ob.training_until:
            ruled_out[c.pk] = {"in_training_window": True}
        elif ob.pilot_free_outcomes:
            pilot.setdefault(c.account_id, []).append(c)
            pilot_size[c.account_id] = ob.pilot_free_outcomes
    for account_id in sorted(pilot):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PILOT_LOCK, account_id])
        used = (
            DailyRollup.objects.filter(account_id=account_id, non_billable_reason="pilot_free").aggregate(
                n=Sum("events")
            )["n"]
            or 0
        )
        left = max(pilot_size[account_id] - used, 0)
        for c in pilot[account_id][:left]:
            ruled_out[c.pk] = {"pilot_free": True}
    return ruled_out
