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

Each correction is one transaction, recorded in the money log by the services it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.credits.models import CreditKind, CreditLedgerEntry
from billing.credits.services import credits_grant
from billing.invoices.models import CreditNote, Invoice, InvoiceStatus
from billing.ledger.models import Charge, ChargeState
from billing.ledger.services import charges_credit_invoiced
from billing.services import CreditNoteRefused, credit_note_issue
from metering.models import Event
from outcomeportal.core.money import ZERO, round_line

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
        left = invoice_credit_left(locked)
        if amount > left:
            raise CorrectionRefused(
                f"The invoice has {left} {locked.currency} left to credit; {amount} is more.",
                code="credit_exceeds_invoice",
                field="amount",
            )
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
        words = f"{reason} ({len(chosen)} outcome(s) of invoice {locked.number})"
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
