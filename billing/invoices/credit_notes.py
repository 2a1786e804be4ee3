"""Credit notes: a sequentially numbered document that gives money back on the account's next invoice
(for an amount, for chosen outcomes, or for an approved dispute — idempotent per dispute)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Account
from billing.invoices.models import CreditNote, Invoice, InvoiceStatus
from billing.invoices.numbers import number_take
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from metering.models import Event
from outcomeportal.core.money import round_line


class CreditNoteRefused(ValueError):
    pass


def credit_note_issue(
    *,
    account: Account,
    amount: Decimal,
    reason: str,
    invoice_id: int | None = None,
    event_ids: list[int] | tuple[int, ...] = (),
    dispute_id: int | None = None,
    created_by: str = "",
    now: datetime | None = None,
) -> CreditNote:
    """Issue a credit note (sequential number, no gaps); it is applied to the account's next invoice.

    Idempotent per dispute: the same ``dispute_id`` again returns the note already issued.
    ``invoice_id``, ``event_ids`` and ``dispute_id`` are plain ids (disputes is downstream).
    """
    now = now or timezone.now()
    amount = round_line(amount, account.currency)
    if amount <= 0:
        raise CreditNoteRefused("A credit note's amount must be positive.")
    if not reason.strip():
        raise CreditNoteRefused("A credit note needs a reason.")
    if invoice_id is not None:
        invoice = Invoice.objects.filter(pk=invoice_id, account=account).first()
        if invoice is None:
            raise CreditNoteRefused("The invoice is not this account's.")
        if invoice.status != InvoiceStatus.FINALIZED:
            raise CreditNoteRefused("Credit notes correct finalized invoices; a draft simply follows the events.")
    if event_ids:
        mine = Event.objects.filter(pk__in=list(event_ids), account=account).count()
        if mine != len(set(event_ids)):
            raise CreditNoteRefused("Every event must belong to the account.")
    if dispute_id is not None:
        existing = CreditNote.objects.filter(dispute_id=dispute_id).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            note = CreditNote.objects.create(
                account=account,
                number=number_take("credit_note"),
                invoice_id=invoice_id,
                amount=amount,
                currency=account.currency,
                reason=reason,
                event_ids=sorted(set(event_ids)),
                dispute_id=dispute_id,
                created_at=now,
                created_by=created_by,
            )
            # Emailed (its own PDF) and announced as credit_note.issued by the worker, once committed.
            transaction.on_commit(lambda: async_task("billing.tasks.credit_note_deliver", note.pk))
            row_act_record(kind=kinds.CREDIT_NOTE_ISSUED, view="credit_note", pk=note.pk, account_id=account.pk)
            return note
    except IntegrityError:
        existing = CreditNote.objects.filter(dispute_id=dispute_id).first() if dispute_id is not None else None
        if existing is None:
            raise
        return existing  # the same dispute credited concurrently: one note (unique dispute_id)
