"""Onboarding allowances at ingestion: the free training window and the pilot's free outcomes.

Outcomes inside the contract's free training window cost nothing (``training_window``); nor do the
first N outcomes of a pilot (``pilot_free``). The pilot count is taken under a per-account advisory
lock, held until the batch's charges are written, so concurrent batches never hand out more than N.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Sum

from billing.ledger.models import ChargeReason, ChargeRollup, ChargeState
from billing.ledger.services import NewCharge
from billing.terms_lookup import ContractsAt

_PILOT_LOCK = 0x0B111  # advisory lock namespace: (namespace, account id)


def onboarding_rule_out(*, charges: Sequence[NewCharge], contracts: ContractsAt) -> dict[int, str]:
    """``{event pk: reason}`` for the new charges an onboarding allowance makes free (in occurrence order)."""
    ruled_out: dict[int, str] = {}
    pilot: dict[int, list[NewCharge]] = {}
    pilot_size: dict[int, int] = {}
    for c in charges:
        if c.attempt:  # an attempt that did not succeed: no allowance to give
            continue
        ob = c.terms.onboarding if c.terms else None
        if ob is None:
            continue
        local_day = c.occurred_at.astimezone(contracts[c.account_id].tzinfo).date()
        if local_day < ob.starts:
            continue
        if ob.training_until is not None and local_day < ob.training_until:
            ruled_out[c.pk] = ChargeReason.TRAINING_WINDOW
        elif ob.pilot_free_outcomes:
            pilot.setdefault(c.account_id, []).append(c)
            pilot_size[c.account_id] = ob.pilot_free_outcomes
    for account_id in sorted(pilot):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PILOT_LOCK, account_id])
        used = (
            ChargeRollup.objects.filter(account_id=account_id, reason=ChargeReason.PILOT_FREE)
            .exclude(state=ChargeState.VOID)  # an outcome ruled out in its window gives its free place back
            .aggregate(n=Sum("charges"))["n"]
            or 0
        )
        left = max(pilot_size[account_id] - used, 0)
        for c in pilot[account_id][:left]:
            ruled_out[c.pk] = ChargeReason.PILOT_FREE
    return ruled_out
