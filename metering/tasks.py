"""django-q2 entry points: thin, idempotent, each recorded as a JobRun."""

from __future__ import annotations

from datetime import datetime

from accounts.jobs import job_run_record
from metering.services import outcomes_settle


def settle_outcomes(now: datetime | None = None, workers: int = 2) -> int:
    with job_run_record(name="settle_outcomes", scope=f"now={now.isoformat()}" if now else "now") as run:
        settled = outcomes_settle(now=now, workers=workers)
        run.result = {"settled": settled}
    return settled
