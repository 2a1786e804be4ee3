"""API: the vendor's corrections (billing.invoices.corrections): credit notes on a finalized invoice,
outcomes deducted after their window, and voiding an invoice (void and reissue)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from billing import api_schema as docs
from billing import presenters
from billing.api import InvoiceOut, invoice_body
from billing.credits.api import ledger_entry_dict
from billing.invoices.corrections import (
    MAX_EVENTS,
    CorrectionRefused,
    credit_note_for_amount,
    credit_note_for_events,
    invoice_void,
    outcome_deduct,
)
from billing.invoices.models import CreditNote
from billing.ledger.models import Deduction
from billing.receivables.services import PAYMENT_AMOUNT_PATTERN, PaymentRefused, payment_amount_parse
from billing.selectors import credit_note_event_ids, invoice_get_for_principal
from metering.api_schema import ErrorBodyDoc
from metering.selectors import event_get_for_principal
from outcomeportal.api.errors import ApiError, exactly_one_of
from outcomeportal.core.times import rfc3339_parse

ERRORS = {400: ErrorBodyDoc, 401: ErrorBodyDoc, 403: ErrorBodyDoc, 404: ErrorBodyDoc}


class CreditNoteIn(serializers.Serializer):
    amount = serializers.RegexField(
        PAYMENT_AMOUNT_PATTERN,
        required=False,
        help_text='Money to give back, a decimal string with at most the currency\'s places ("25.00"). '
        "Either amount or event_ids.",
    )
    event_ids = serializers.ListField(
        child=serializers.CharField(max_length=128),
        required=False,
        max_length=MAX_EVENTS,
        help_text="The platform's event ids of outcomes billed on this invoice, to credit in full.",
    )
    reason = serializers.CharField(max_length=2000, help_text="Why, in words the customer reads on the note.")


class _AmountIn(serializers.Serializer):
    amount = serializers.RegexField(PAYMENT_AMOUNT_PATTERN, help_text=CreditNoteIn().fields["amount"].help_text)
    reason = serializers.CharField(max_length=2000, help_text=CreditNoteIn().fields["reason"].help_text)


class _EventsIn(serializers.Serializer):
    event_ids = serializers.ListField(
        child=serializers.CharField(max_length=128),
        min_length=1,
        max_length=MAX_EVENTS,
        help_text=CreditNoteIn().fields["event_ids"].help_text,
    )
    reason = serializers.CharField(max_length=2000, help_text=CreditNoteIn().fields["reason"].help_text)


# The schema says "exactly one of": a body with both matches both and is refused by oneOf.
CREDIT_NOTE_DOC = PolymorphicProxySerializer("CreditNoteRequest", [_AmountIn, _EventsIn], resource_type_field_name=None)


class CorrectionOut(serializers.Serializer):
    credit_note = docs.CreditNote(allow_null=True, help_text="The money given back on the next invoice.")
    credit_grant = docs.LedgerLine(
        allow_null=True, help_text="Credits given back to the prepaid balance (outcomes billed in credits)."
    )


def _refused(exc: CorrectionRefused) -> ApiError:
    """A refused correction as the API answers it: 400 for bad input, else 409 with the refusal's code."""
    code = status.HTTP_400_BAD_REQUEST if exc.code == "validation_error" else status.HTTP_409_CONFLICT
    return ApiError(exc.code, str(exc), code, {exc.field: [str(exc)]} if exc.field else None)


class InvoiceCreditNotesView(APIView):
    permission_classes = [require(Perm.INVOICES_CORRECT)]

    @extend_schema(
        summary="Issue a credit note on a finalized invoice, for an amount or for chosen outcomes",
        request=CREDIT_NOTE_DOC,
        responses={201: CorrectionOut, 409: ErrorBodyDoc, **ERRORS},
        examples=[
            OpenApiExample("Goodwill", value={"amount": "25.00", "reason": "Outage on 3 July"}, request_only=True),
            OpenApiExample(
                "Outcomes",
                value={"event_ids": ["conv-88412", "conv-88417"], "reason": "Customer came back"},
                request_only=True,
            ),
        ],
        description="Give exactly one of `amount` and `event_ids`. The note is applied to the account's next "
        "invoice as a credit line. With `event_ids`, the outcomes' charges become `credited` (they stay on "
        "their line) and the note is what they added to the invoice; outcomes billed in credits get their "
        "credits back on the prepaid balance (`credit_grant`). 409: `invoice_not_final` (a draft or a void "
        "invoice), `credit_exceeds_invoice` (more than the invoice has left to credit), `event_not_on_invoice`, "
        "`event_not_creditable` (credited already or under dispute: the dispute credits it), `nothing_to_credit`.",
    )
    def post(self, request, invoice_id: int):
        principal = principal_of(request)
        data = CreditNoteIn(data=request.data if isinstance(request.data, dict) else {})
        invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        exactly_one_of(values, "amount", "event_ids")
        try:
            if "amount" in values:
                amount = payment_amount_parse(value=values["amount"], currency=invoice.currency)
                done = credit_note_for_amount(invoice=invoice, amount=amount, reason=values["reason"],
                                              by=principal.label)  # fmt: skip
            else:
                done = credit_note_for_events(invoice=invoice, event_ids=values["event_ids"],
                                              reason=values["reason"], by=principal.label)  # fmt: skip
        except PaymentRefused as exc:
            raise ApiError(exc.code, str(exc), status.HTTP_400_BAD_REQUEST, {"amount": [str(exc)]}) from exc
        except CorrectionRefused as exc:
            raise _refused(exc) from exc
        note = None
        if done.note is not None:
            event_ids = credit_note_event_ids(notes=[done.note])[done.note.pk]
            note = presenters.credit_note_dict(done.note, event_ids=event_ids)
        grant = None if done.grant is None else ledger_entry_dict(done.grant)
        return Response({"credit_note": note, "credit_grant": grant}, status=status.HTTP_201_CREATED)


# --- Deductions after the window ------------------------------------------------------------------


class DeductionIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="What happened, e.g. 'Customer wrote back on day 9'.")
    reported_at = serializers.DateTimeField(help_text="When the customer came back (RFC 3339 with its offset).")


class DeductionOut(serializers.Serializer):
    account = serializers.CharField()
    event_id = serializers.CharField()
    reason = serializers.CharField()
    reported_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    how = serializers.ChoiceField(Deduction.How.values, help_text="left_draft | credit_note")
    amount = serializers.CharField(allow_null=True, help_text="The money given back (6 places, as the charge).")
    credits = serializers.CharField(allow_null=True)
    credit_note = docs.CreditNote(allow_null=True)


def deduction_dict(deduction: Deduction, *, account: str, event_id: str) -> dict:
    note = None
    if deduction.credit_note_id is not None:
        credit_note = CreditNote.objects.select_related("account").get(pk=deduction.credit_note_id)
        note = presenters.credit_note_dict(credit_note, event_ids=[event_id])
    return {
        "account": account,
        "event_id": event_id,
        "reason": deduction.reason,
        "reported_at": deduction.reported_at.isoformat().replace("+00:00", "Z"),
        "created_at": deduction.created_at.isoformat().replace("+00:00", "Z"),
        "how": deduction.how,
        "amount": None if deduction.amount is None else f"{deduction.amount:f}",
        "credits": None if deduction.credits is None else f"{deduction.credits.normalize():f}",
        "credit_note": note,
    }


class DeductionsView(APIView):
    permission_classes = [require(Perm.INVOICES_CORRECT)]

    @extend_schema(
        summary="Deduct an outcome after its window: the customer came back (idempotent per event)",
        request=DeductionIn,
        responses={201: DeductionOut, 200: DeductionOut, 409: ErrorBodyDoc, **ERRORS},
        examples=[
            OpenApiExample(
                "Came back on day 9",
                value={"reason": "Customer wrote back: not resolved", "reported_at": "2026-07-09T14:00:00Z"},
                request_only=True,
            )
        ],
        description="Not yet invoiced, the outcome leaves the upcoming invoice (`how`: `left_draft`; the event "
        "then reads `non_billable` · `deducted`). Invoiced, a credit note naming the event and the reason gives "
        "its amount back on the next invoice (`credit_note`; the event reads `credited`); an outcome billed in "
        "credits gets them back on the prepaid balance. 200: the event was deducted already (the first report "
        "stands). 409: `window_open` (report a reopen signal instead), `charge_disputed`, `already_credited`, "
        "`nothing_to_deduct` (an attempt, a free or void outcome), `credit_exceeds_invoice` (earlier notes on "
        "its invoice gave back what it charged), `invoice_not_final` (its invoice is void).",
    )
    def post(self, request, account: str, event_id: str):
        principal = principal_of(request)
        data = DeductionIn(data=request.data if isinstance(request.data, dict) else {})
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        data.is_valid(raise_exception=True)
        reported_at = rfc3339_parse(request.data.get("reported_at"))
        if reported_at is None:
            fields = {"reported_at": ["An RFC 3339 time with its offset, e.g. 2026-07-09T14:00:00Z."]}
            raise ApiError("validation_error", "The deduction has invalid fields.", status.HTTP_400_BAD_REQUEST, fields)
        try:
            deduction, created = outcome_deduct(
                event=event, reason=data.validated_data["reason"], reported_at=reported_at, by=principal.label
            )
        except CorrectionRefused as exc:
            raise _refused(exc) from exc
        body = deduction_dict(deduction, account=account, event_id=event.event_id)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- Void and reissue ----------------------------------------------------------------------------


class InvoiceVoidIn(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why it is voided (the wrong contract, the wrong entity…): kept on the invoice."
    )


class InvoiceVoidView(APIView):
    permission_classes = [require(Perm.INVOICES_CORRECT)]

    @extend_schema(
        summary="Void a finalized, unpaid invoice and reissue its period (void and reissue)",
        request=InvoiceVoidIn,
        responses={200: InvoiceOut, 409: ErrorBodyDoc, **ERRORS},
        examples=[OpenApiExample("Wrong entity", value={"reason": "Issued to the wrong entity"}, request_only=True)],
        description="The invoice becomes `void` (its `payment_status` too); its outcomes' charges leave its lines "
        "and the credit-ledger entries it posted are reversed; a new `draft` of the same period (`replaced_by`, "
        "which names it in `replaces`) is finalized by the next hourly run under the contract as it then stands. "
        "To forgive money, issue a credit note instead. 200: the void invoice. 409: `invoice_not_final` (a "
        "draft, or void already), `invoice_paid` (a payment is recorded: issue a credit note), "
        "`invoice_has_credit_notes` (credit notes or credited outcomes correct it), `invoice_disputed` (an open "
        "dispute concerns its outcomes), `invoice_not_latest` (a later invoice of the account is final).",
    )
    def post(self, request, invoice_id: int):
        principal = principal_of(request)
        data = InvoiceVoidIn(data=request.data if isinstance(request.data, dict) else {})
        invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
        data.is_valid(raise_exception=True)
        try:
            done = invoice_void(invoice=invoice, reason=data.validated_data["reason"], by=principal.label)
        except CorrectionRefused as exc:
            raise _refused(exc) from exc
        return Response(invoice_body(done.invoice))
