"""django-q2 entry points of spend controls: thin, idempotent, recorded as JobRuns."""

from __future__ import annotations

from datetime import datetime

from accounts.jobs import job_run_record
from accounts.notify import webhooks_deliver_due
from billing.spend.services import alerts_send


def send_alerts(now: datetime | None = None) -> dict:
    """Fire missed thresholds and forecast warnings, then retry due webhook deliveries."""
    with job_run_record(name="send_alerts", scope=f"now={now.isoformat()}" if now else "now") as run:
        result = alerts_send(now=now)
        result["webhooks_attempted"] = webhooks_deliver_due(now=now)
        run.result = result
    return result
