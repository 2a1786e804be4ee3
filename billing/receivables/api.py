"""API: payments and write-offs of invoices (vendor keys), and a payment processor's signed webhook."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from billing.api import InvoiceOut, invoice_body
from billing.receivables.models import Payment, PaymentSource
from billing.receivables.services import (
    PAYMENT_AMOUNT_PATTERN,
    PaymentRefused,
    invoice_mark_uncollectible,
    invoice_payment_record,
    payment_amount_parse,
)
from billing.receivables.states import PaymentStatusRefused
from billing.receivables.webhook import (
    SIGNATURE_HEADER,
    STRIPE_SIGNATURE_HEADER,
    WebhookRefused,
    payment_webhook_receive,
    stripe_webhook_receive,
)
from billing.selectors import invoice_get_for_principal
from metering import api_schema as docs
from outcomeportal.api.errors import ApiError
from outcomeportal.core.money import money_str
from outcomeportal.core.times import rfc3339_parse

ERRORS = {400: docs.ErrorBodyDoc, 401: docs.ErrorBodyDoc, 403: docs.ErrorBodyDoc, 404: docs.ErrorBodyDoc}


class PaymentIn(serializers.Serializer):
    amount = serializers.RegexField(
        PAYMENT_AMOUNT_PATTERN,
        help_text='A positive decimal string with at most the currency\'s places, e.g. "120.00".',
    )
    paid_at = serializers.DateTimeField(help_text="When the money moved (RFC 3339 with its offset).")
    reference = serializers.CharField(
        max_length=200, help_text="The bank's or processor's reference: the same reference again records nothing."
    )


class PaymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    invoice_id = serializers.IntegerField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    paid_at = serializers.DateTimeField()
    reference = serializers.CharField()
    source = serializers.ChoiceField(choices=PaymentSource.values)
    created_at = serializers.DateTimeField()


class PaymentRecordedOut(serializers.Serializer):
    payment = PaymentOut()
    invoice = InvoiceOut()


class UncollectibleIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def payment_dict(payment: Payment) -> dict:
    return PaymentOut(
        {
            "id": payment.pk,
            "invoice_id": payment.invoice_id,
            "amount": money_str(payment.amount, payment.currency),
            "currency": payment.currency,
            "paid_at": payment.paid_at,
            "reference": payment.reference,
            "source": payment.source,
            "created_at": payment.created_at,
        }
    ).data


def _refused(exc: PaymentRefused) -> ApiError:
    fields = {exc.field: [str(exc)]} if exc.field else None
    code = status.HTTP_400_BAD_REQUEST if exc.code == "validation_error" else status.HTTP_409_CONFLICT
    return ApiError(exc.code, str(exc), code, fields)


class InvoicePaymentsView(APIView):
    permission_classes = [require(Perm.RECEIVABLES_MANAGE)]

    @extend_schema(
        summary="Record a payment of a final invoice (partial or whole; idempotent by reference)",
        request=PaymentIn,
        responses={201: PaymentRecordedOut, 200: PaymentRecordedOut, 409: docs.ErrorBodyDoc, **ERRORS},
        examples=[
            OpenApiExample(
                "A bank transfer",
                value={"amount": "120.00", "paid_at": "2026-07-20T09:30:00Z", "reference": "BANK-2026-07-20-0042"},
                request_only=True,
            )
        ],
        description="201: recorded. 200: this reference was recorded already, with the same amount (nothing "
        "changed). 409 `payment_reference_conflict` (the reference with another amount), `invoice_not_final` "
        "(a draft), `invoice_not_payable` (paid or void), `payment_exceeds_amount_due`. When the payments "
        "reach the amount due, `payment_status` becomes `paid`.",
    )
    def post(self, request, invoice_id: int):
        principal = principal_of(request)
        data = PaymentIn(data=request.data)  # the body first: one too large is 413 whatever it names
        invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        paid_at = rfc3339_parse(request.data.get("paid_at"))
        if paid_at is None:
            raise ApiError("validation_error", "The payment has invalid fields.", 400,
                           {"paid_at": ["An RFC 3339 time with its offset, e.g. 2026-07-20T09:30:00Z."]})  # fmt: skip
        try:
            amount = payment_amount_parse(value=request.data.get("amount"), currency=invoice.currency)
            recorded = invoice_payment_record(
                invoice=invoice, amount=amount, paid_at=paid_at, reference=values["reference"],
                source=PaymentSource.API, created_by=principal.label,
            )  # fmt: skip
        except PaymentRefused as exc:
            raise _refused(exc) from exc
        body = {"payment": payment_dict(recorded.payment), "invoice": invoice_body(recorded.invoice)}
        return Response(body, status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)


class InvoiceUncollectibleView(APIView):
    permission_classes = [require(Perm.RECEIVABLES_MANAGE)]

    @extend_schema(
        summary="Write an open invoice off as uncollectible (a payment arriving later still makes it paid)",
        request=UncollectibleIn,
        responses={200: InvoiceOut, 409: docs.ErrorBodyDoc, **ERRORS},
        description="409 `payment_status_refused`: the invoice is a draft, paid, void or uncollectible already.",
    )
    def post(self, request, invoice_id: int):
        principal = principal_of(request)
        data = UncollectibleIn(data=request.data if isinstance(request.data, dict) else {})
        invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
        data.is_valid(raise_exception=True)
        try:
            invoice = invoice_mark_uncollectible(
                invoice=invoice, by=principal.label, reason=data.validated_data.get("reason", "")
            )
        except PaymentStatusRefused as exc:
            raise ApiError("payment_status_refused", str(exc), status.HTTP_409_CONFLICT) from exc
        return Response(invoice_body(invoice))


class WebhookEventIn(serializers.Serializer):
    id = serializers.CharField(help_text="The processor's event id: processed once (a replay is refused).")
    type = serializers.CharField(help_text="invoice.paid records a payment; other types are acknowledged.")
    data = serializers.DictField(help_text='{"invoice_number": "INV-000012", "amount": "56.55", "paid_at": "…"}')


class WebhookReceivedOut(serializers.Serializer):
    received = serializers.CharField(help_text="The event id.")
    type = serializers.CharField()
    payment = PaymentOut(allow_null=True)
    invoice = serializers.DictField(allow_null=True, help_text="number, payment_status, amount_paid, amount_due")


SIGNATURE_PARAMETER = OpenApiParameter(
    SIGNATURE_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with PAYMENT_WEBHOOK_SECRET>",
)
WEBHOOK_RESPONSES = {
    200: WebhookReceivedOut,
    400: docs.ErrorBodyDoc,
    403: docs.ErrorBodyDoc,
    404: docs.ErrorBodyDoc,
    409: docs.ErrorBodyDoc,
}


class PaymentWebhookView(APIView):
    """No API key: the request is authenticated by its HMAC signature alone."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A payment processor's signed event (invoice.paid), mapped to the invoice by its number",
        request=WebhookEventIn,
        auth=[],
        parameters=[SIGNATURE_PARAMETER],
        responses=WEBHOOK_RESPONSES,
        description="400 `invalid_signature` (wrong, missing or older than 5 minutes) or `validation_error`; "
        "403 `webhook_not_configured`; 404 `unknown_invoice`; 409 `replayed_event` or a payment refusal "
        "(`payment_exceeds_amount_due`, `invoice_not_payable`…). Nothing changes on any 4xx.",
    )
    def post(self, request):
        try:
            received = payment_webhook_receive(
                body=_raw_body(request), signature=request.headers.get(SIGNATURE_HEADER, "")
            )
        except WebhookRefused as exc:
            raise ApiError(exc.code, str(exc), exc.status, exc.fields) from exc
        return Response(_received_body(received))


def _raw_body(request) -> bytes:
    """The body exactly as sent (the signature covers these bytes), within the API's size limit."""
    body = request.body
    if len(body) > settings.API_MAX_BODY_BYTES:
        raise ApiError("payload_too_large", "The request body is over the 5 MB limit.", 413)
    return body


def _received_body(received) -> dict:
    recorded = received.recorded
    invoice = None
    if recorded is not None:
        inv = recorded.invoice
        invoice = {"number": inv.number, "payment_status": inv.payment_status,
                   "amount_paid": money_str(inv.amount_paid, inv.currency),
                   "amount_due": money_str(inv.amount_due, inv.currency)}  # fmt: skip
    return {
        "received": received.event_id,
        "type": received.type,
        "payment": payment_dict(recorded.payment) if recorded else None,
        "invoice": invoice,
    }


STRIPE_SIGNATURE_PARAMETER = OpenApiParameter(
    STRIPE_SIGNATURE_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Stripe's: t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'> with STRIPE_WEBHOOK_SECRET",
)


class StripeWebhookView(APIView):
    """Stripe's own event shape and signature header, mapped onto the payment webhook above."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A Stripe event (invoice.paid, checkout.session.completed, payment_intent.succeeded) paying "
        "the invoice named in the object's metadata.outcomeportal_invoice",
        request=OpenApiTypes.OBJECT,
        auth=[],
        parameters=[STRIPE_SIGNATURE_PARAMETER],
        responses=WEBHOOK_RESPONSES,
        description="The amount is Stripe's, in the currency's minor units (5655 USD → 56.55), in the invoice's "
        "currency (409 `currency_mismatch` otherwise). Answers as `POST /api/v1/payments/webhook`.",
    )
    def post(self, request):
        try:
            received = stripe_webhook_receive(
                body=_raw_body(request), signature=request.headers.get(STRIPE_SIGNATURE_HEADER, "")
            )
        except WebhookRefused as exc:
            raise ApiError(exc.code, str(exc), exc.status, exc.fields) from exc
        return Response(_received_body(received))
