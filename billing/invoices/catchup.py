"""Invoicing catches up: every closed period of every account ends up finalized, oldest first.

The hourly ``build_invoices`` job used to finalize "last month" only, so a missed run (a worker
down over a month's end, an install started mid-month with a backfill) left earlier months as
drafts for ever. :func:`invoices_catch_up` instead asks, per account, which closed periods are
not final yet (:func:`periods_due`) and finalizes them in order — a period's invoice takes its
carry (rolled-over credits, committed spend) from the one before, so order matters.

It is idempotent and safe in several workers at once: each period is one
:func:`billing.services.invoice_finalize` transaction, which finds an invoice already final and
leaves it, and the unique (account, period) makes a second invoice impossible.

Which periods are due: from the account's first month of activity — its first event, its first
contract version, its first invoice row — up to the last month that has ended in its time zone,
at most :data:`CATCH_UP_MONTHS` back. A month is billed when something is on it: events, an
invoice row already (a draft someone looked at), or a contract whose fixed charges (a platform
fee, a minimum, a commitment) bill it with no events at all.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.db.models import Min
from django.utils import timezone

from accounts.models import Account
from billing.charges import period_assemble
from billing.contracts import version_for_period
from billing.invoices.models import ContractVersion, Invoice, InvoiceStatus
from billing.services import BuildResult, invoice_events_link_pending, invoice_finalize
from metering.models import DailyRollup
from outcomeportal.core.periods import period_add, period_at, period_first_day, period_of, periods_between

CATCH_UP_MONTHS = 24  # how far back a first run looks for periods never finalized


def periods_due(*, account: Account, now: datetime) -> list[str]:
    """The account's closed periods that have no final (or void) invoice yet and something to bill,
    oldest first. A voided invoice's period is due again: its replacement is a draft."""
    last = period_add(period_at(now, account.timezone), -1)
    floor = period_add(last, -(CATCH_UP_MONTHS - 1))
    starts = []
    first_day = DailyRollup.objects.filter(account=account).aggregate(d=Min("day"))["d"]
    if first_day is not None:
        starts.append(period_of(first_day))
    versions = list(ContractVersion.objects.filter(account=account))
    if versions:
        starts.append(period_of(min(v.effective_from for v in versions)))
    invoices = dict(Invoice.objects.live().filter(account=account).values_list("period", "status"))
    starts.extend(invoices)
    if not starts:
        return []
    first = max(min(starts), floor)
    if first > last:
        return []
    active = {
        period_of(day)
        for day in DailyRollup.objects.filter(account=account, day__gte=period_first_day(first), events__gt=0)
        .values_list("day", flat=True)
        .distinct()
    }
    keyed = [(v.effective_from, v.version, v) for v in versions]
    due = []
    for period in periods_between(first, last):
        status = invoices.get(period)
        if status in (InvoiceStatus.FINALIZED, InvoiceStatus.VOID):
            continue
        if status is None and period not in active and not _fixed_charges(account, period, keyed):
            continue
        due.append(period)
    return due


def _fixed_charges(account: Account, period: str, keyed: list) -> bool:
    """Would the period's invoice charge something with no events (a fee, a minimum, a commitment)?"""
    if version_for_period(keyed, period) is None:
        return False
    return bool(period_assemble(account=account, period=period).priced.lines)


def invoices_catch_up(*, now: datetime | None = None, accounts=None) -> BuildResult:
    """Finalize every due period of every account (see :func:`periods_due`), oldest first per
    account; then stamp the events of what was finalized. Safe to run twice or in parallel."""
    now = now or timezone.now()
    started = time.perf_counter()
    result = BuildResult(period="catch-up")
    built = []
    for account in accounts if accounts is not None else Account.objects.order_by("pk"):
        due = periods_due(account=account, now=now)
        for period in due:
            done = invoice_finalize(account=account, period=period, now=now, link_events=False)
            if done.created:
                result.finalized += 1
                result.events_billed += done.events_billed
                result.numbers.append(done.invoice.number)
                result.periods.append(f"{account.external_id}:{period}")
            else:
                result.already_final += 1
        if due:
            built.append(account)
    result.final_after_s = time.perf_counter() - started
    for account in built:
        result.events_stamped += invoice_events_link_pending(account=account)
    result.stamped_after_s = time.perf_counter() - started
    return result
