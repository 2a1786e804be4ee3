"""The credit job's steps: credit approved disputes — once — and keep the trail.

Crediting (:func:`dispute_credit_apply`) is one transaction per dispute: lock the dispute, the
account's draft invoices, then the events (the order invoicing uses: invoice row, then its
events), move them, issue the credit note, refresh the drafts, mark the credit issued. A worker
killed half-way leaves nothing behind (PostgreSQL rolls back); a rerun does it all, once. The
credit ledger's unique event and billing's unique credit note per dispute make a second credit
impossible even for a caller that skipped the locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.credits.services import credits_grant
from billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus
from billing.ledger.models import Charge, ChargeState
from billing.ledger.selectors import attach_charges, charges_locked
from billing.ledger.services import charges_credit_invoiced, charges_credit_unbilled, charges_dispute_open
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from billing.services import (
    credit_note_issue,
    invoice_draft_refresh,
    invoice_events_link_pending,
    number_series_lock,
)
from disputes.models import (
    CreditMethod,
    CreditState,
    Dispute,
    DisputeCredit,
    DisputeHistory,
    DisputeItem,
    ItemDecision,
    ReasonCode,
    Subject,
)
from disputes.services.common import (
    JOB,
    events_history,
    history_row,
    money_text,
    notify_customer,
    transition,
)
from disputes.services.sla import sla_warnings_send
from metering.models import Event
from outcomeportal.core import formatting
from outcomeportal.core.money import round_line
from outcomeportal.core.periods import period_at


def _drafts_refresh(account: Account, periods: Iterable[str], now: datetime) -> Decimal:
    """Refresh the drafts of ``periods`` (creating a missing one); returns the sum of their subtotals."""
    total = Decimal(0)
    for period in sorted(set(periods)):
        invoice = invoice_draft_refresh(account=account, period=period, now=now)
        if invoice.status == InvoiceStatus.DRAFT:
            total += invoice.subtotal
    return total


@dataclass(frozen=True)
class CreditOutcome:
    dispute_id: int
    excluded: int
    on_credit_note: int
    credit_note: str | None
    credited_amount: Decimal


def dispute_credit_apply(*, dispute_id: int, now: datetime | None = None) -> CreditOutcome | None:
    """Credit one approved dispute — all of it, once. None if there is nothing (left) to do.

    * Charges not yet invoiced leave the draft: ``credited`` with the reason ``dispute_credited``
      (the customer reads "not billable: credited after a dispute"). What they took off the
      upcoming invoice is the drafts' subtotal before − after.
    * Charges on a finalized invoice get one credit note for the dispute (sequential number, the
      invoice, the events, the dispute), applied to the next invoice as a credit line; they
      become ``credited``. The finalized invoice is never touched.
    """
    now = now or timezone.now()
    account_id = Dispute.objects.filter(pk=dispute_id).values_list("account_id", flat=True).first()
    if account_id is not None:  # which events are on a final invoice is read from their lines
        invoice_events_link_pending(account=Account(pk=account_id))
    with transaction.atomic():
        number_series_lock()  # before any invoice row: the lock order finalization uses
        dispute = (
            Dispute.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(pk=dispute_id, credit_state=CreditState.PENDING)
            .first()
        )
        if dispute is None:
            return None  # credited already, nothing approved, or another worker has it right now
        account = dispute.account
        items = list(dispute.items.filter(decision=ItemDecision.APPROVED).order_by("event_id"))
        ids = [i.event_id for i in items]
        # Lock order as invoicing's: the invoice rows first (the drafts that could bill these events),
        # then the charges. A finalization waiting on a draft sees the credited charges as they end up.
        current = period_at(now, account.timezone)
        unlined = Charge.objects.filter(event_id__in=ids, invoice_line_id__isnull=True).values_list("occurred_at")
        periods = {current} | {period_at(at, account.timezone) for (at,) in unlined}
        subtotal_before = _drafts_refresh(account, periods, now)
        list(Invoice.objects.select_for_update().filter(account=account, status=InvoiceStatus.DRAFT).order_by("pk"))
        events = attach_charges(list(Event.objects.filter(pk__in=ids).order_by("pk")), charges_locked(ids))
        done = set(DisputeCredit.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
        unbilled = [e for e in events if e.pk not in done and e.shown_status == "billable" and not e.invoice_line_id]
        billed = [
            e
            for e in events
            if e.pk not in done and e.invoice_line_id and e.charge.state in (ChargeState.INVOICED, ChargeState.DISPUTED)
        ]
        untouched = [e for e in events if e not in unbilled and e not in billed]

        excluded = _exclude_unbilled(dispute, account, unbilled, now)
        note, grant = _credit_billed(dispute, account, billed, now)
        _note_untouched(dispute, untouched, done, now)

        # 3. The drafts follow: excluded events leave, the credit note is applied to the next invoice.
        subtotal_after = _drafts_refresh(account, periods, now)
        excluded_money = round_line(max(subtotal_before - subtotal_after, Decimal(0)), account.currency)
        credited_amount = excluded_money + (note.amount if note is not None else Decimal(0))
        excluded_credits = sum((e.credits for e in excluded if e.credits is not None), Decimal(0))
        credited_credits = excluded_credits + (grant.credits if grant is not None else Decimal(0))
        transition(
            dispute,
            machine="credit",
            to_state=CreditState.ISSUED,
            actor=JOB,
            at=now,
            note=credited_words(credited_amount, credited_credits, account.currency),
            credited_amount=credited_amount,
            credited_credits=credited_credits or None,
            credited_at=now,
            credit_note=note,
        )
        row_act_record(kind=kinds.DISPUTE_CREDITED, view="dispute_credit", pk=dispute.pk, account_id=account.pk)
        _tell_customer(dispute, account, excluded, note, grant, credited_amount, credited_credits, now)
    return CreditOutcome(dispute.pk, len(excluded), len(billed), note.number if note else None, credited_amount)


def _exclude_unbilled(dispute: Dispute, account: Account, unbilled: list[Event], now: datetime) -> list[Event]:
    """1. Not yet invoiced: the events leave the draft (``dispute_credited``); returns those that did."""
    moved = set(charges_credit_unbilled(event_ids=[e.pk for e in unbilled]))
    excluded = [e for e in unbilled if e.pk in moved]
    DisputeCredit.objects.bulk_create(
        [
            DisputeCredit(
                dispute=dispute,
                account=account,
                event=e,
                method=CreditMethod.EXCLUSION,
                amount=e.amount or Decimal(0),
                created_at=now,
            )
            for e in excluded
        ]
    )
    events_history(
        dispute,
        excluded,
        from_state="billable",
        to_state="non_billable · dispute_credited",
        actor=JOB,
        at=now,
        note="left the upcoming invoice",
    )

    return excluded


def _credit_billed(dispute: Dispute, account: Account, billed: list[Event], now: datetime):
    """2. On a finalized invoice: one credit note for the dispute (money) and, under a contract priced
    in credits, the credits back to the prepaid balance; the events become ``credited``.
    Returns (credit note or None, credit grant or None)."""
    note, grant = None, None
    if billed:
        invoice_of = dict(
            InvoiceLine.objects.filter(pk__in={e.invoice_line_id for e in billed}).values_list("pk", "invoice_id")
        )
        invoice_ids = sorted({invoice_of[e.invoice_line_id] for e in billed})
        invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=invoice_ids)}
        finals = [pk for pk in invoice_ids if invoices[pk].status == InvoiceStatus.FINALIZED]
        numbers = ", ".join(invoices[pk].number or "" for pk in invoice_ids)
        in_credits = [e for e in billed if e.credits is not None]
        in_money = [e for e in billed if e.credits is None]
        amount = sum((e.amount or Decimal(0) for e in in_money), Decimal(0))
        why = f"Dispute #{dispute.pk} {dispute.get_status_display().lower()}"
        reason_words = ReasonCode(dispute.reason_code).label.lower()
        if round_line(amount, account.currency) > 0:
            note = credit_note_issue(
                account=account,
                amount=amount,
                reason=f"{why}: {formatting.plural(len(in_money), 'outcome')} of invoice {numbers} credited "
                f"({reason_words}).",
                invoice_id=finals[0] if len(finals) == 1 else None,
                event_ids=[e.pk for e in in_money],
                dispute_id=dispute.pk,
                created_by=JOB.label,
                now=now,
            )
            history_row(
                dispute,
                subject=Subject.CREDIT_NOTE,
                subject_ref=note.number,
                to_state="issued",
                actor=JOB,
                at=now,
                note=f"{money_text(note.amount, note.currency)} on invoice {numbers}",
            ).save()
        credits_back = sum((e.credits for e in in_credits), Decimal(0))
        if credits_back > 0:
            grant = credits_grant(
                account=account,
                credits=credits_back,
                reason=f"{why}: {formatting.plural(len(in_credits), 'outcome')} of invoice {numbers} credited "
                f"({reason_words}).",
                reference=f"dispute:{dispute.pk}",
                dispute_id=dispute.pk,
                created_by=JOB.label,
                now=now,
            )
            history_row(
                dispute,
                subject=Subject.CREDITS,
                subject_ref=f"dispute:{dispute.pk}",
                to_state="granted",
                actor=JOB,
                at=now,
                note=f"{credits_back.normalize():f} credits back to the prepaid balance",
            ).save()
        _mark_credited(dispute, account, billed, invoice_of, note, grant, now)
    return note, grant


def _mark_credited(dispute: Dispute, account: Account, billed: list[Event], invoice_of: dict[int, int], note, grant,
                   now: datetime) -> None:  # fmt: skip
    """The billed events become ``credited``, each with its credit row and history."""
    credited = set(charges_credit_invoiced(event_ids=[e.pk for e in billed]))

    def method_of(e: Event) -> str:
        if e.credits is not None:
            return CreditMethod.CREDITS if grant is not None else CreditMethod.NO_CHARGE
        return CreditMethod.CREDIT_NOTE if note is not None else CreditMethod.NO_CHARGE

    DisputeCredit.objects.bulk_create(
        [
            DisputeCredit(
                dispute=dispute,
                account=account,
                event=e,
                method=method_of(e),
                amount=e.amount or Decimal(0),
                credits=e.credits,
                invoice_id=invoice_of[e.invoice_line_id],
                credit_note=note if e.credits is None else None,
                created_at=now,
            )
            for e in billed
            if e.pk in credited
        ]
    )
    for e in billed:
        if e.pk in credited:
            method = method_of(e)
            if method == CreditMethod.CREDIT_NOTE:
                how = f"credit note {note.number}"
            elif method == CreditMethod.CREDITS:
                how = f"{e.credits.normalize():f} credits back"
            else:
                how = "no money was charged for it"
            events_history(dispute, [e], from_state=None, to_state="credited", actor=JOB, at=now, note=how)


def _note_untouched(dispute: Dispute, untouched: list[Event], done: set[int], now: datetime) -> None:
    """Events of the dispute that are no longer charged: recorded as not credited."""
    for e in untouched:
        if e.pk not in done:
            history_row(
                dispute,
                subject=Subject.EVENT,
                subject_ref=e.event_id,
                from_state=e.shown_status,
                to_state=e.shown_status,
                actor=JOB,
                at=now,
                note="not credited: it is no longer charged",
            ).save()


def credited_words(amount: Decimal, credits: Decimal | None, currency: str) -> str:
    """What an approved dispute gave back, in words: "$0.99 credited", "3 credits given back", or —
    when nothing was charged for its outcomes (included in a fee, free by the plan) — "resolved
    without a credit (nothing was charged)", never a zero amount credited."""
    given = []
    if amount:
        given.append(f"{money_text(amount, currency)} credited")
    if credits:
        given.append(f"{formatting.plural(credits, 'credit')} given back")
    return " and ".join(given) or "resolved without a credit (nothing was charged)"


def _tell_customer(
    dispute: Dispute, account: Account, excluded, note, grant, credited_amount, credited_credits, now
) -> None:
    """The customer's notification: where the credit went."""
    where = []
    if excluded:
        where.append(f"{formatting.plural(len(excluded), 'outcome')} left your upcoming invoice")
    if note is not None:
        where.append(f"credit note {note.number} will be applied to your next invoice")
    if grant is not None:
        where.append(f"{formatting.plural(grant.credits, 'credit is,credits are')} back in your prepaid balance")
    notify_customer(
        dispute,
        title=f"Dispute #{dispute.pk}: {credited_words(credited_amount, credited_credits, account.currency)}",
        body=("; ".join(where) or "Nothing was charged for these outcomes") + ".",
        now=now,
    )


def disputes_sweep_invoiced(*, now: datetime | None = None) -> int:
    """Charges of open disputes that an invoice finalized meanwhile: ``invoiced`` → ``disputed``."""
    now = now or timezone.now()
    invoiced = Charge.objects.filter(state=ChargeState.INVOICED).values("event_id")
    items = list(DisputeItem.objects.filter(is_open=True, event_id__in=invoiced).select_related("dispute", "event"))
    if not items:
        return 0
    with transaction.atomic():
        moved = set(charges_dispute_open(event_ids=[i.event_id for i in items]))
        for item in items:
            if item.event_id in moved:
                history_row(
                    item.dispute,
                    subject=Subject.EVENT,
                    subject_ref=item.event.event_id,
                    from_state="invoiced",
                    to_state="disputed",
                    actor=JOB,
                    at=now,
                    note="invoiced while the dispute was open",
                ).save()
    return len(moved)


APPLIED_LOOKBACK = timedelta(days=40)


def credit_notes_applied_record(*, now: datetime | None = None) -> int:
    """Record, once, each finalized invoice a dispute's credit note was applied to.

    Looks at invoices finalized in the last ``APPLIED_LOOKBACK`` (the job runs every few minutes;
    a unique index makes a second sighting a no-op), not at every invoice ever.
    """
    now = now or timezone.now()
    lines = (
        InvoiceLine.objects.filter(credit_note__isnull=False, invoice__status=InvoiceStatus.FINALIZED)
        .filter(credit_note__dispute_id__isnull=False, invoice__finalized_at__gte=now - APPLIED_LOOKBACK)
        .select_related("invoice", "credit_note")
    )
    disputes = {
        d.pk: d for d in Dispute.objects.filter(pk__in={ln.credit_note.dispute_id for ln in lines}).only("account_id")
    }
    rows = [
        history_row(
            disputes[ln.credit_note.dispute_id],
            subject=Subject.CREDIT_NOTE,
            subject_ref=f"{ln.credit_note.number} → {ln.invoice.number}",
            from_state="issued",
            to_state="applied",
            actor=JOB,
            at=now,
            note=f"{money_text(-ln.amount, ln.invoice.currency)} taken off invoice {ln.invoice.number}",
        )
        for ln in lines
        if ln.credit_note.dispute_id in disputes
    ]
    created = DisputeHistory.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


# --- The job ----------------------------------------------------------------------------------


@dataclass
class CreditsRun:
    credited: list[int] = field(default_factory=list)
    credit_notes: list[str] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    swept: int = 0
    applications: int = 0
    sla_warned: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "credited": self.credited,
            "credit_notes": self.credit_notes,
            "failed": {str(k): v for k, v in self.failed.items()},
            "events_marked_disputed": self.swept,
            "credit_note_applications": self.applications,
            "sla_warned": self.sla_warned,
        }


def credits_issue(*, now: datetime | None = None) -> CreditsRun:
    """The issue_credits job: credit every approved dispute not yet credited (each in its own
    transaction), mark events invoiced under open disputes, record credit-note applications, and
    warn support of SLAs about to end. Safe to run twice, in parallel, or after a crash."""
    now = now or timezone.now()
    run = CreditsRun()
    run.swept = disputes_sweep_invoiced(now=now)
    pending = list(
        Dispute.objects.filter(credit_state=CreditState.PENDING)
        .order_by("resolved_at", "pk")
        .values_list("pk", flat=True)
    )
    for dispute_id in pending:
        try:
            outcome = dispute_credit_apply(dispute_id=dispute_id, now=now)
        except Exception as exc:  # one dispute's trouble must not hold up the others; retried next run
            run.failed[dispute_id] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        if outcome is not None:
            run.credited.append(outcome.dispute_id)
            if outcome.credit_note:
                run.credit_notes.append(outcome.credit_note)
    run.applications = credit_notes_applied_record(now=now)
    run.sla_warned = sla_warnings_send(now=now)
    return run
