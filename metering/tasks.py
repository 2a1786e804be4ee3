"""django-q2 entry points: thin, idempotent, each recorded as a JobRun."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.jobs import job_run_record
from metering.services import outcomes_settle, rollup_fold


def settle_outcomes(now: datetime | None = None, workers: int = 2) -> int:
    with job_run_record(name="settle_outcomes", scope=f"now={now.isoformat()}" if now else "now") as run:
        settled = outcomes_settle(now=now, workers=workers)
        run.result = {"settled": settled}
    return settled


def fold_rollup(now: datetime | None = None) -> int:
    """Fold the rollup's shards of past days into one row per key.

    Days before yesterday (UTC): over in every time zone, so ingestion rarely adds to them (late
    events only, which land in a shard again and are folded on the next run).
    """
    before = ((now or timezone.now()) - timedelta(days=1)).date()
    with job_run_record(name="fold_rollup", scope=f"before={before.isoformat()}") as run:
        folded = rollup_fold(before=before)
        run.result = {"keys_folded": folded}
    return folded
