"""Corrections of a finalized invoice by the vendor: a manual credit note, for an amount or for
chosen outcomes.

A final invoice never changes. A credit note gives money back on the account's next invoice (a
credit line: :func:`billing.services.credit_note_issue`), and names the invoice it corrects.

* **For an amount** — a goodwill credit, a price error: any positive amount up to what the
  invoice charged and earlier notes on it have not given back yet.
* **For outcomes** — the platform's event ids: each must be billed on this invoice and still
  ``invoiced`` (not under dispute, not credited already). Their charges become ``credited``
  (they stay on their line: :func:`billing.ledger.services.charges_credit_invoiced`); the note's
  amount is what they added to the invoice. Outcomes billed in credits get their credits back on
  the prepaid balance instead (an ``adjustment``: :func:`billing.credits.services.credits_grant`),
  as a dispute would give them.

**Deducting an outcome after its window** (:func:`outcome_deduct`) — the platform or an operator
learnt that the customer came back on an outcome already settled billable (Intercom's rule: deducted
even in a later period). Not yet invoiced, its charge leaves the draft (``credited``, reason
``deducted``); invoiced, a credit note names the event and the reason and gives its amount back on
the next invoice (credits back to the balance for an outcome billed in credits) and the charge is
``credited``. One :class:`~billing.ledger.models.Deduction` per event: a second report returns the
first. An outcome still in its window takes a reopen signal instead; one under dispute waits for
the dispute.

**Voiding an invoice** (:func:`invoice_void`) — void and reissue: an invoice issued by mistake (the
wrong contract, the wrong entity) and not paid at all is cancelled, and its period is billed again
from scratch. In one transaction its charges leave its lines (``invoiced`` → ``rated``), every
credit-ledger entry it posted is reversed, and a new draft of its period (``replaces`` it) is left
for the hourly catch-up to finalize under the contract as it then stands. To forgive money, the
vendor issues a credit note instead; an invoice with payments, credit notes, credited or disputed
outcomes, or a later final invoice (which took over what it handed on) is refused.

Each correction is one transaction, recorded in the money log by the services it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.notify import webhooks_enqueue
from billing import presenters
from billing.credits.models import CreditKind, CreditLedgerEntry
from billing.credits.services import credits_grant
from billing.invoices.models import CreditNote, Invoice, InvoiceStatus, PaymentStatus
from billing.ledger.models import FREE_REASONS, Charge, ChargeReason, ChargeState, Deduction
from billing.ledger.services import charges_credit_invoiced, charges_deduct_unbilled, charges_release_voided
from billing.moneylog import kinds
from billing.moneylog.services import credits_reversed_record, row_act_record
from billing.receivables.models import PaymentStatusChange
from billing.services import CreditNoteRefused, credit_note_issue, invoice_draft_refresh, invoice_events_link
from metering.models import Event
from outcomeportal.core import formatting
from outcomeportal.core.money import ZERO, money_display, round_line
from outcomeportal.core.periods import period_bounds

MAX_EVENTS = 1000  # outcomes per credit note (one request)


class CorrectionRefused(ValueError):
    """A correction that cannot be made; ``code`` is the API's error code, ``field`` the input at fault."""

    def __init__(self, message: str, *, code: str = "validation_error", field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Correction:
    note: CreditNote | None  # the money given back (None when every outcome was billed in credits)
    grant: CreditLedgerEntry | None  # the credits given back (outcomes billed in credits)


def invoice_credit_left(invoice: Invoice) -> Decimal:
    """What the invoice charged (before tax) that no credit note on it has given back yet."""
    issued = CreditNote.objects.filter(invoice_id=invoice.pk).aggregate(s=Sum("amount"))["s"] or ZERO
    return max(invoice.total - issued, ZERO)


def credit_note_for_amount(
    *, invoice: Invoice, amount: Decimal, reason: str, by: str, now: datetime | None = None
) -> Correction:
    """A credit note of ``amount`` (rounded once to the currency) on a finalized invoice."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = _final_locked(invoice)
        amount = round_line(amount, locked.currency)
        if amount <= 0:
            raise CorrectionRefused("A credit note's amount must be positive.", field="amount")
        note = _issue(locked, amount=amount, reason=reason, event_pks=[], by=by, now=now)
    return Correction(note, None)


def credit_note_for_events(
    *, invoice: Invoice, event_ids: list[str], reason: str, by: str, now: datetime | None = None
) -> Correction:
    """Credit chosen outcomes of a finalized invoice (the platform's event ids)."""
    reason = _reason(reason)
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        raise CorrectionRefused("Name at least one event.", field="event_ids")
    if len(wanted) > MAX_EVENTS:
        raise CorrectionRefused(f"At most {MAX_EVENTS} events per credit note.", field="event_ids")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _final_locked(invoice)
        pks = dict(
            Event.objects.filter(account_id=locked.account_id, event_id__in=wanted).values_list("event_id", "pk")
        )
        charges = {
            c.event_id: c
            for c in Charge.objects.select_for_update(of=("self",)).filter(
                event_id__in=list(pks.values()), invoice_line__invoice_id=locked.pk
            )
        }
        missing = [e for e in wanted if e not in pks or pks[e] not in charges]
        if missing:
            raise CorrectionRefused(
                f"Not billed on invoice {locked.number}: {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                + ".",
                code="event_not_on_invoice",
                field="event_ids",
            )
        chosen = [charges[pks[e]] for e in wanted]
        taken = [e for e, c in zip(wanted, chosen, strict=True) if c.state != ChargeState.INVOICED]
        if taken:
            raise CorrectionRefused(
                f"Already credited or under dispute: {', '.join(taken[:5])}.",
                code="event_not_creditable",
                field="event_ids",
            )
        in_money = [c for c in chosen if c.credits is None]
        in_credits = [c for c in chosen if c.credits is not None]
        amount = round_line(sum((c.amount or ZERO for c in in_money), ZERO), locked.currency)
        credits = sum((c.credits for c in in_credits), ZERO)
        if amount <= 0 and credits <= 0:
            raise CorrectionRefused("These outcomes added nothing to the invoice.", code="nothing_to_credit")
        note = grant = None
        words = f"{reason} ({formatting.plural(len(chosen), 'outcome')} of invoice {locked.number})"
        if amount > 0:
            note = _issue(locked, amount=amount, reason=words, event_pks=[c.event_id for c in in_money], by=by, now=now)
        if credits > 0:
            grant = credits_grant(
                account=locked.account,
                credits=credits,
                reason=words,
                reference=f"credit-note:{locked.pk}:{min(c.event_id for c in in_credits)}",
                kind=CreditKind.ADJUSTMENT,
                created_by=by,
                now=now,
            )
        charges_credit_invoiced(event_ids=[c.event_id for c in chosen])
    return Correction(note, grant)


def outcome_deduct(
    *, event: Event, reason: str, reported_at: datetime, by: str, now: datetime | None = None
) -> tuple[Deduction, bool]:
    """Deduct an outcome after its window (see the module's docstring). Returns (deduction, created)."""
    reason = _reason(reason)
    now = now or timezone.now()
    if reported_at > now + timedelta(minutes=5):
        raise CorrectionRefused("reported_at is in the future.", field="reported_at")
    with transaction.atomic():
        charge = Charge.objects.select_for_update(of=("self",)).filter(event_id=event.pk).first()
        existing = Deduction.objects.filter(event_id=event.pk).first()
        if existing is not None:
            return existing, False
        _deductible(charge)
        if charge.invoice_line_id is None:
            charges_deduct_unbilled(event_ids=[event.pk])
            deduction = _deduction(event, charge, reason, reported_at, by, now, how=Deduction.How.LEFT_DRAFT)
            return deduction, True
        invoice = _final_locked(Invoice.objects.get(lines__pk=charge.invoice_line_id))
        words = f"Outcome {event.event_id} deducted after its window: {reason}"
        note = grant = None
        if charge.credits is not None:
            grant = credits_grant(account=invoice.account, credits=charge.credits, reason=words,
                                  reference=f"deduction:{event.pk}", kind=CreditKind.ADJUSTMENT,
                                  created_by=by, now=now)  # fmt: skip
        elif round_line(charge.amount or ZERO, invoice.currency) > 0:
            note = _issue(invoice, amount=charge.amount, reason=words, event_pks=[event.pk], by=by, now=now)
        charges_credit_invoiced(event_ids=[event.pk])
        how = Deduction.How.CREDIT_NOTE
        return _deduction(event, charge, reason, reported_at, by, now, how=how, note=note, grant=grant), True


def deductible(charge: Charge | None) -> bool:
    """Whether :func:`outcome_deduct` would take this charge's outcome (the event page's form asks)."""
    try:
        _deductible(charge)
    except CorrectionRefused:
        return False
    return True


def _deductible(charge: Charge | None) -> None:
    """Refused unless the outcome was settled billable and its charge still stands."""
    if charge is None or charge.attempt or charge.state == ChargeState.VOID:
        raise CorrectionRefused("Only an outcome billed as a success can be deducted.", code="nothing_to_deduct")
    if charge.state == ChargeState.ESTIMATED:
        raise CorrectionRefused(
            "The outcome's measurement window is still open: report a reopen signal instead.", code="window_open"
        )
    if charge.state == ChargeState.DISPUTED:
        raise CorrectionRefused("The outcome is under dispute: the dispute decides.", code="charge_disputed")
    if charge.state == ChargeState.CREDITED:
        raise CorrectionRefused("The outcome was credited already.", code="already_credited")
    if charge.reason in FREE_REASONS:
        raise CorrectionRefused(
            f"The outcome cost nothing ({ChargeReason(charge.reason).label.lower()}).", code="nothing_to_deduct"
        )


def _deduction(event, charge, reason, reported_at, by, now, *, how, note=None, grant=None) -> Deduction:
    return Deduction.objects.create(
        event_id=event.pk,
        account_id=event.account_id,
        reason=reason,
        reported_at=reported_at,
        created_at=now,
        created_by=by,
        how=how,
        amount=None if grant is not None else charge.amount,
        credits=charge.credits,
        credit_note=note,
    )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionRefused("A correction needs a reason.", field="reason")
    return reason


def _final_locked(invoice: Invoice) -> Invoice:
    """The invoice, locked (corrections of one invoice queue behind each other); refused unless final."""
    locked = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
    if locked.status != InvoiceStatus.FINALIZED:
        raise CorrectionRefused(
            "Credit notes correct finalized invoices; a draft follows its events, a void invoice charges nothing.",
            code="invoice_not_final",
        )
    return locked


def _issue(invoice: Invoice, *, amount: Decimal, reason: str, event_pks: list[int], by: str, now) -> CreditNote:
    """A credit note on ``invoice`` (locked by the caller: :func:`_final_locked`), never giving back
    more than the invoice has left to credit, whichever correction asks."""
    left = invoice_credit_left(invoice)
    if round_line(amount, invoice.currency) > left:
        raise CorrectionRefused(
            f"Invoice {invoice.number} has {money_display(left, invoice.currency)} left to credit; "
            f"{money_display(round_line(amount, invoice.currency), invoice.currency)} is more.",
            code="credit_exceeds_invoice",
            field="event_ids" if event_pks else "amount",
        )
    try:
        return credit_note_issue(
            account=invoice.account,
            amount=amount,
            reason=reason,
            invoice_id=invoice.pk,
            event_ids=event_pks,
            created_by=by,
            now=now,
        )
    except CreditNoteRefused as exc:
        raise CorrectionRefused(str(exc), code="credit_note_refused") from exc


# --- Void and reissue -----------------------------------------------------------------------------

INVOICE_VOIDED = "invoice.voided"  # the webhook event announcing a void (and its replacement)


@dataclass(frozen=True)
class Voided:
    invoice: Invoice  # the voided invoice: status and payment status void, with the reason and date
    replacement: Invoice  # the new draft of its period, finalized by the next catch-up
    charges_released: int  # charges that left its lines, rated again
    credits_reversed: tuple[CreditLedgerEntry, ...]  # one reversal per credit-ledger entry it posted


def invoice_void(*, invoice: Invoice, reason: str, by: str = "", now: datetime | None = None) -> Voided:
    """Void a finalized invoice nothing was paid on, and reissue its period (see the module's text).

    One transaction, the account's later invoices and this one row-locked: refusals first
    (:class:`CorrectionRefused` with the API's code), then the void (its payment status too, with
    its history row), its charges released, its credit-ledger entries reversed, a new draft of its
    period and the ``invoice.voided`` webhook. Voiding twice is refused (the invoice is void).
    """
    reason = _reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        # The later invoices first, as a finalization or a credit job would take them: one order, no deadlock.
        later = list(
            Invoice.objects.select_for_update(of=("self",))
            .filter(account_id=invoice.account_id, period__gt=invoice.period).exclude(status=InvoiceStatus.VOID)
            .order_by("pk")
        )  # fmt: skip
        locked = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
        _voidable(locked, later)
        invoice_events_link(invoice=locked)  # its charges on its lines, if the stamping has not run yet
        _charges_voidable(locked)
        void = _void_mark(locked, reason=reason, by=by, now=now)
        segments = [s for s in locked.lines.exclude(alloc=None).values_list("alloc__segment", flat=True) if s]
        since = period_bounds(min([locked.period, *segments]), locked.account.timezone)[0]
        released = charges_release_voided(
            invoice_id=locked.pk, account_id=locked.account_id, occurred_from=since, occurred_to=locked.period_end
        )
        reversals = _credits_reverse(void, by=by, now=now)
        Invoice.objects.create(
            account_id=locked.account_id, period=locked.period, period_start=locked.period_start,
            period_end=locked.period_end, currency=locked.currency, refreshed_at=now, replaces=void,
        )  # fmt: skip
        replacement = invoice_draft_refresh(account=locked.account, period=locked.period, now=now)
        webhooks_enqueue(
            account_id=void.account_id, event_type=INVOICE_VOIDED, message_id=f"{INVOICE_VOIDED}:invoice:{void.pk}",
            payload={"invoice": presenters.invoice_summary_dict(void), "replaced_by": replacement.pk}, now=now,
        )  # fmt: skip
    return Voided(void, replacement, released, reversals)


def _voidable(invoice: Invoice, later: list[Invoice]) -> None:
    """Refused unless the invoice is final, unpaid, uncorrected and the account's latest final one."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise CorrectionRefused(
            "A draft is not issued yet: it follows its outcomes until the month is billed; there is nothing to void.",
            code="invoice_not_final",
        )
    if invoice.status == InvoiceStatus.VOID:
        raise CorrectionRefused(f"Invoice {invoice.number} is void already.", code="invoice_not_final")
    if invoice.amount_paid > 0 or invoice.payment_status not in (PaymentStatus.OPEN, PaymentStatus.UNCOLLECTIBLE):
        raise CorrectionRefused(
            f"Invoice {invoice.number} has {money_display(invoice.amount_paid, invoice.currency)} paid on it: "
            "it cannot be voided. Record a credit note instead.",
            code="invoice_paid",
        )
    notes = list(CreditNote.objects.filter(invoice_id=invoice.pk).order_by("number").values_list("number", flat=True))
    if notes:
        raise CorrectionRefused(
            f"Invoice {invoice.number} was corrected by credit note {', '.join(notes)}: it cannot be voided. "
            "Record a further credit note instead.",
            code="invoice_has_credit_notes",
        )
    final = [inv for inv in later if inv.status == InvoiceStatus.FINALIZED]
    if final:
        raise CorrectionRefused(
            f"Invoice {final[0].number} of {final[0].period} is final and took over what this one handed on "
            "(rolled-over credits, committed spend, late outcomes): only the latest final invoice can be "
            "voided. Record a credit note instead.",
            code="invoice_not_latest",
        )


def _charges_voidable(invoice: Invoice) -> None:
    """Refused while an outcome of the invoice is under dispute, or once one was credited."""
    states = set(
        Charge.objects.filter(account_id=invoice.account_id, invoice_line__invoice_id=invoice.pk)
        .exclude(state=ChargeState.INVOICED).values_list("state", flat=True).distinct()
    )  # fmt: skip
    if ChargeState.DISPUTED in states:
        raise CorrectionRefused(
            f"Outcomes of invoice {invoice.number} are under dispute: resolve the dispute first.",
            code="invoice_disputed",
        )
    if states:
        raise CorrectionRefused(
            f"Outcomes of invoice {invoice.number} were credited (a dispute, a deduction or a credit note): "
            "it cannot be voided. Record a further credit note instead.",
            code="invoice_has_credit_notes",
        )


def _void_mark(invoice: Invoice, *, reason: str, by: str, now: datetime) -> Invoice:
    """finalized → void, its payment status with it (and the history row): the one move the guard allows."""
    updated = Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.FINALIZED).update(
        status=InvoiceStatus.VOID, voided_at=now, void_reason=reason, payment_status=PaymentStatus.VOID
    )
    if updated != 1:
        raise CorrectionRefused(f"Invoice {invoice.number} changed meanwhile; try again.", code="invoice_not_final")
    change = PaymentStatusChange.objects.create(
        account_id=invoice.account_id, invoice=invoice, from_status=invoice.payment_status,
        to_status=PaymentStatus.VOID, at=now, by=by, reason=reason,
    )  # fmt: skip
    row_act_record(kind=kinds.INVOICE_VOIDED, view="invoice_void", pk=invoice.pk, account_id=invoice.account_id)
    row_act_record(
        kind=kinds.INVOICE_PAYMENT_STATUS, view="payment_status_change", pk=change.pk, account_id=invoice.account_id
    )
    return Invoice.objects.select_related("account").get(pk=invoice.pk)


def _credits_reverse(invoice: Invoice, *, by: str, now: datetime) -> tuple[CreditLedgerEntry, ...]:
    """Reverse every credit-ledger entry the invoice posted when it was finalized (grant, usage,
    expiry, rollover note): one ``reversal`` of the opposite sign each, unique by the entry it
    reverses, so the balance is what it was before the invoice and nothing is reversed twice."""
    posted = CreditLedgerEntry.objects.filter(account_id=invoice.account_id, reference=f"invoice:{invoice.pk}")
    labels = dict(CreditKind.choices)
    reversals = CreditLedgerEntry.objects.bulk_create(
        [
            CreditLedgerEntry(
                account_id=invoice.account_id,
                created_at=now,
                kind=CreditKind.REVERSAL,
                credits=-entry.credits,
                currency=entry.currency,
                period=entry.period,
                invoice_id=invoice.pk,
                reference=f"void:{entry.pk}",
                note=f"{labels.get(entry.kind, entry.kind)} of invoice {invoice.number} reversed: the invoice was "
                f"voided ({invoice.void_reason})",
                created_by=by or f"void of invoice {invoice.number}",
            )
            for entry in posted.order_by("pk")
        ]
    )
    credits_reversed_record(invoice_id=invoice.pk, account_id=invoice.account_id, entry_pks=[r.pk for r in reversals])
    return tuple(reversals)
