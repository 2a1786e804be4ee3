"""django-q2 entry points of invoicing: thin, idempotent, each recorded as a JobRun."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.jobs import job_run_record
from billing.contracts import period_add
from billing.services import invoices_build


def build_invoices(period: str | None = None, now: datetime | None = None) -> dict:
    """Finalize every account's invoice of ``period`` (default: the month before ``now``, UTC).

    Scheduled hourly: accounts whose month has ended in their own time zone are finalized, the
    rest wait for a later run; finalized ones are skipped. Safe to run twice or in parallel.
    """
    now = now or timezone.now()
    period = period or period_add(now.strftime("%Y-%m"), -1)
    with job_run_record(name="build_invoices", scope=f"period={period}") as run:
        result = invoices_build(period=period, now=now)
        run.result = result.as_dict()
    return result.as_dict()
