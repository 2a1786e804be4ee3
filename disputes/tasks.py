"""django-q2 entry points of disputes: thin, idempotent, each recorded as a JobRun."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.jobs import job_run_record
from disputes import services


def issue_credits(now: datetime | None = None) -> dict:
    """Credit every approved dispute not yet credited; warn support of SLAs about to end (scheduled)."""
    now = now or timezone.now()
    with job_run_record(name="issue_credits", scope=f"now={now.isoformat()}") as run:
        run.result = services.credits_issue(now=now).as_dict()
    return run.result


def dispute_credit(dispute_id: int) -> dict | None:
    """Enqueued on commit of an approval: credit that dispute now (the schedule catches any miss)."""
    with job_run_record(name="dispute_credit", scope=f"dispute={dispute_id}") as run:
        outcome = services.dispute_credit_apply(dispute_id=dispute_id)
        run.result = {"dispute": dispute_id, "credited": outcome is not None}
    return run.result


def sla_warning_email(dispute_id: int) -> int:
    return services.sla_warning_email(dispute_id=dispute_id)
