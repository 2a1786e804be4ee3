"""Ingestion, the use case that spans metering and billing: validate → store → decide → rate → cap.

One transaction per batch, in this order:

1. metering parses, resolves and decides the batch (:func:`metering.ingest.events_prepare`);
2. billing prices each outcome under the contract of its period, as the period stands
   (:mod:`billing.rating`: a platform fee's included outcomes at 0, tiers and bands by rank);
3. metering stores the events with their prices and claims sessions (:func:`~metering.ingest.events_store`);
4. billing takes the onboarding allowances (:mod:`billing.onboarding`), then holds the spend cap
   (:func:`billing.spend.services.spend_cap_rule_out`), each on the outcomes the step before left;
   metering decides again the few events they rule out (:func:`~metering.ingest.events_rule_out`).

Billing calls metering's steps; metering calls nothing back. Every event is decided once, and
once more only if a session, an allowance or the cap rules it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from billing.onboarding import onboarding_rule_out
from billing.rating import batch_prices
from billing.spend.services import spend_cap_rule_out
from billing.terms_lookup import terms_lookup
from metering.ingest import IngestResult, batch_scope, events_prepare, events_rule_out, events_store


def events_ingest(*, raw_events: Sequence[object], now: datetime | None = None) -> IngestResult:
    """Store a batch of posted events, decided, priced and held within the spend caps; one result
    per event, in order (see the module's docstring)."""
    now = now or timezone.now()
    with batch_scope():
        batch = events_prepare(raw_events=raw_events, now=now)
        with transaction.atomic():
            result = events_store(batch, prices=batch_prices(batch.to_price()))
            stored = batch.stored()
            if stored:
                terms_at, contracts = terms_lookup({c.account_id for c in stored})
                zones = {pk: c.tzinfo for pk, c in contracts.items()}
                free = onboarding_rule_out(candidates=stored, terms_at=terms_at, zones=zones)
                events_rule_out(batch, free)
                capped = spend_cap_rule_out(candidates=[c for c in stored if c.pk not in free], now=now)
                events_rule_out(batch, capped)
    return result
