"""django-q2 entry points of settlement and invoicing: thin, idempotent, each recorded as a JobRun."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.jobs import job_run_record
from billing.delivery import services as delivery
from billing.ingestion import outcomes_settle
from billing.invoices.catchup import invoices_catch_up
from billing.ledger import month_rollup as month_rollups
from billing.moneylog.verify import ledger_verify
from billing.receivables.services import reminders_send
from billing.services import invoices_build
from outcomeportal.core import formatting


def settle_outcomes(now: datetime | None = None, workers: int = 2) -> int:
    """Close measurement windows: pending outcomes whose window ended become billable, their charges rated."""
    with job_run_record(name="settle_outcomes", scope=f"now={now.isoformat()}" if now else "now") as run:
        settled = outcomes_settle(now=now, workers=workers)
        run.result = {"settled": settled}
    return settled


def build_invoices(period: str | None = None, now: datetime | None = None) -> dict:
    """Finalize invoices of closed periods.

    With ``period``: every account's invoice of that month. Without (the hourly schedule): every
    closed period of every account that is not final yet, oldest first (``invoices_catch_up``),
    so a run missed over a month's end is made up by the next one. Safe to run twice or in
    parallel.
    """
    now = now or timezone.now()
    with job_run_record(name="build_invoices", scope=f"period={period or 'catch-up'}") as run:
        result = invoices_build(period=period, now=now) if period else invoices_catch_up(now=now)
        run.result = result.as_dict()
    return result.as_dict()


def invoice_deliver(invoice_id: int) -> int:
    """Email a finalized invoice (PDF attached) and send its ``invoice.finalized`` webhooks."""
    planned = delivery.invoice_deliver(invoice_id=invoice_id)
    return len(planned.emails) + planned.webhooks


def credit_note_deliver(credit_note_id: int) -> int:
    """Email a credit note (PDF attached) and send its ``credit_note.issued`` webhooks."""
    planned = delivery.credit_note_deliver(credit_note_id=credit_note_id)
    return len(planned.emails) + planned.webhooks


def deliveries_retry() -> int:
    """Every email whose next attempt is due (failed attempts back off: 1, 2, 4, 8, 16 minutes)."""
    with job_run_record(name="deliveries_retry") as run:
        run.result = {"attempted": delivery.deliveries_retry_due()}
    return run.result["attempted"]


def send_reminders(now: datetime | None = None) -> int:
    """Email a reminder for each overdue invoice at each step of PAYMENT_REMINDER_DAYS, once."""
    with job_run_record(name="send_reminders", scope=f"now={now.isoformat()}" if now else "now") as run:
        run.result = {"reminders": reminders_send(now=now)}
    return run.result["reminders"]


def month_rollups_fold() -> int:
    """Fold the month rollups' marked account-months (every 10 minutes), so a reader rarely has to."""
    with job_run_record(name="month_rollups_fold") as run:
        run.result = {"folded": month_rollups.month_rollups_fold()}
    return run.result["folded"]


class LedgerBroken(Exception):
    """The money log is not whole (the daily check): the JobRun fails with the first broken entry."""


def verify_ledger() -> dict:
    """Recompute the money log and check the money rows against it (daily). A broken log fails the
    run, naming the first broken entry; the head goes into the run's result either way."""
    with job_run_record(name="verify_ledger") as run:
        result = ledger_verify(limit=20).as_dict()
        run.result = result
        if not result["ok"]:
            first = result["first_broken"]
            where = f"entry #{first['entry_id']} ({first['entry_hash']})" if first["entry_id"] else "no entry"
            problems = formatting.plural(result["problem_count"], "problem")
            raise LedgerBroken(f"{problems}; the first at {where}: {first['message']}")
    return result
