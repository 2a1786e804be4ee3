"""API: the delivery log of invoices and credit notes (`GET /api/v1/deliveries`), the vendor's."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from billing.delivery.selectors import deliveries_list
from billing.selectors import invoice_get_for_principal
from metering import api_schema as docs
from outcomeportal.api.errors import ApiError

ERRORS = {400: docs.ErrorBodyDoc, 401: docs.ErrorBodyDoc, 403: docs.ErrorBodyDoc, 404: docs.ErrorBodyDoc}


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.CharField()
    event = serializers.ChoiceField(choices=["invoice.finalized", "credit_note.issued", "invoice.overdue"])
    invoice_id = serializers.IntegerField(allow_null=True)
    invoice_number = serializers.CharField(allow_null=True)
    credit_note_id = serializers.IntegerField(allow_null=True)
    credit_note_number = serializers.CharField(allow_null=True)
    kind = serializers.ChoiceField(choices=DeliveryKind.values)
    recipient = serializers.CharField(help_text="An email address, or the webhook endpoint's URL.")
    status = serializers.ChoiceField(choices=DeliveryStatus.values, help_text="failed: out of attempts.")
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class DeliveryListOut(serializers.Serializer):
    results = DeliveryOut(many=True)


def delivery_dict(row: Delivery) -> dict:
    return DeliveryOut(
        {
            "id": row.pk,
            "account": row.account.external_id,
            "event": row.event,
            "invoice_id": row.invoice_id,
            "invoice_number": row.invoice.number if row.invoice_id else None,
            "credit_note_id": row.credit_note_id,
            "credit_note_number": row.credit_note.number if row.credit_note_id else None,
            "kind": row.kind,
            "recipient": row.recipient,
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "next_attempt_at": row.next_attempt_at,
            "created_at": row.created_at,
            "sent_at": row.sent_at,
        }
    ).data


class DeliveryListView(APIView):
    permission_classes = [require(Perm.ALL_ACCOUNTS)]

    @extend_schema(
        summary="Emails and webhooks sent for invoices and credit notes, newest first (vendor keys)",
        operation_id="deliveries_list",
        parameters=[
            OpenApiParameter(
                "invoice", {"type": "integer", "minimum": 0}, description="Only this invoice's deliveries."
            ),
            OpenApiParameter("account", str, description="Only this account's."),
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
        ],
        responses={200: DeliveryListOut, **ERRORS},
    )
    def get(self, request):
        principal = principal_of(request)
        query = request.query_params
        invoice = account = None
        if query.get("invoice"):
            if not (query["invoice"].isascii() and query["invoice"].isdigit()):
                raise ApiError("validation_error", "The query has invalid parameters.", 400, {"invoice": ["An id."]})
            invoice = invoice_get_for_principal(principal=principal, invoice_id=int(query["invoice"]))
        if query.get("account"):
            account = account_get_for_principal(principal=principal, external_id=query["account"])
        status = query.get("status")  # present but empty is refused, as the schema says
        if status is not None and status not in DeliveryStatus.values:
            raise ApiError(
                "validation_error", "The query has invalid parameters.", 400,
                {"status": [f"One of {', '.join(DeliveryStatus.values)}."]},
            )  # fmt: skip
        rows = deliveries_list(
            principal=principal, invoice=invoice, account_id=account.pk if account else None, status=status
        )
        return Response({"results": [delivery_dict(r) for r in rows]})
