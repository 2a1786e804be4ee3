"""Builders for billing tests: contracts, decided events at chosen times, finalized invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.ingestion import events_ingest, outcomes_settle
from billing.services import contract_version_create, invoice_finalize
from tests import factories

JUNE_12 = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)
AFTER_JUNE = datetime(2026, 7, 5, tzinfo=UTC)  # June closed and every 72 h window settled


def contract(account, **terms):
    terms.setdefault("effective_from", "2026-01-01")
    return contract_version_create(account=account, document=terms, created_by="test")


def post(account, n: int, *, at: datetime = JUNE_12, outcome_type: str = "resolved_conversation", prefix="e",
         step=timedelta(minutes=1), **fields):  # fmt: skip
    """Post ``n`` events ``step`` apart from ``at`` (ingested as if just after they happened)."""
    payloads = [
        factories.event_payload(account, f"{prefix}-{outcome_type}-{at:%m%d%H%M}-{i}", occurred_at=at + step * i,
                                outcome_type=outcome_type, **fields)
        for i in range(n)
    ]  # fmt: skip
    result = None
    for start in range(0, n, 1000):
        result = events_ingest(raw_events=payloads[start : start + 1000], now=at + step * n + timedelta(minutes=1))
    return result


def settle_and_finalize(account, period: str = "2026-06", now: datetime = AFTER_JUNE):
    outcomes_settle(now=now)
    return invoice_finalize(account=account, period=period, now=now).invoice
