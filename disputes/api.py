"""API: disputes (`/api/v1/disputes…`). Thin: validate, call one service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing.invoices.models import InvoiceLine
from disputes import presenters
from disputes.models import DisputeStatus, ReasonCode
from disputes.selectors import dispute_event_ids, dispute_get_for_principal, dispute_list
from disputes.services import MAX_EVENTS, MAX_TEXT, DisputeRefused, dispute_file, dispute_resolve
from outcomeportal.api import fields as strict
from outcomeportal.api.errors import ApiError
from outcomeportal.api.schema import error_response
from outcomeportal.core.numbers import BIGINT_MAX


class DisputeIn(serializers.Serializer):
    account = strict.CharField(max_length=128, required=False, help_text="The account's external_id.")
    event_ids = serializers.ListField(
        child=strict.CharField(max_length=128),
        required=False,
        max_length=MAX_EVENTS,
        help_text="The events to dispute (their event_id). Or give invoice_line_id.",
    )
    invoice_line_id = strict.IntegerField(
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,  # an id the column holds
        help_text="Dispute every still-disputable event of this line.",
    )
    reason_code = strict.ChoiceField(choices=ReasonCode.values)
    message = strict.CharField(max_length=MAX_TEXT)


class ResolveIn(serializers.Serializer):
    decision = strict.ChoiceField(
        choices=[DisputeStatus.APPROVED, DisputeStatus.PARTIALLY_APPROVED, DisputeStatus.REJECTED]
    )
    event_ids = serializers.ListField(
        child=strict.CharField(max_length=128),
        required=False,
        max_length=MAX_EVENTS,
        help_text="partially_approved: the events credited (the others are rejected).",
    )
    note = strict.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class DisputeOut(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.CharField()
    status = serializers.ChoiceField(choices=DisputeStatus.values)
    event_ids = serializers.ListField(child=serializers.CharField())
    reason_code = serializers.ChoiceField(choices=ReasonCode.values)
    sla_due_at = serializers.DateTimeField()
    resolution_note = serializers.CharField(allow_null=True)
    credited_amount = serializers.CharField(
        allow_null=True, help_text='Money given back, e.g. "1.98"; null until the credit is issued.'
    )
    message = serializers.CharField()
    invoice_line_id = serializers.IntegerField(allow_null=True)
    invoice_id = serializers.IntegerField(allow_null=True, help_text="The finalized invoice, if already invoiced.")
    period = serializers.CharField()
    currency = serializers.CharField()
    amount_at_stake = serializers.CharField()
    filed_at = serializers.DateTimeField()
    filed_by = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    approved_event_ids = serializers.ListField(child=serializers.CharField())
    credit_status = serializers.ChoiceField(choices=["none", "pending", "issued"])
    credit_note_id = serializers.IntegerField(allow_null=True)
    credit_note_number = serializers.CharField(allow_null=True)
    credited_at = serializers.DateTimeField(allow_null=True)
    credited_credits = serializers.CharField(
        allow_null=True, help_text="Contracts priced in credits: credits given back."
    )


class DisputesQuery(serializers.Serializer):
    account = serializers.CharField(required=False, help_text="The account's external_id.")
    status = serializers.ChoiceField(choices=DisputeStatus.values, required=False)


class DisputeListOut(serializers.Serializer):
    results = DisputeOut(many=True)


def dispute_body(dispute) -> dict:
    event_ids, approved = dispute_event_ids([dispute])[dispute.pk]
    return presenters.dispute_dict(dispute, event_ids=event_ids, approved_event_ids=approved)


def _refused(exc: DisputeRefused) -> ApiError:
    return ApiError(exc.code, exc.message, exc.status, exc.fields)


def _filing_account(principal, data: dict) -> Account:
    if data.get("account"):
        return account_get_for_principal(principal=principal, external_id=data["account"])
    if not principal.is_vendor:
        return Account.objects.get(pk=principal.account_id)
    if data.get("invoice_line_id"):  # a vendor key naming a line: the line's account
        line = InvoiceLine.objects.filter(pk=data["invoice_line_id"]).select_related("account").first()
        if line is not None:
            return line.account
        raise ApiError("not_found", "No such invoice line.", 404)
    raise ApiError("validation_error", "The dispute has invalid fields.", 400, {"account": ["Name the account."]})


class DisputeListView(APIView):
    """GET: disputes (newest first); POST: file one (customer admins, or the vendor on their behalf)."""

    def get_permissions(self):
        return [require(Perm.DISPUTES_FILE if self.request.method == "POST" else Perm.DISPUTES_READ)()]

    @extend_schema(
        operation_id="disputes_list",
        summary="Disputes, newest first",
        parameters=[DisputesQuery],
        responses={200: DisputeListOut},
    )
    def get(self, request):
        principal = principal_of(request)
        query = request.query_params
        account = None
        if "account" in query:
            account = account_get_for_principal(principal=principal, external_id=query["account"])
        status_word = query.get("status")
        if status_word is not None and status_word not in DisputeStatus.values:
            raise ApiError(
                "validation_error",
                "The query has invalid parameters.",
                400,
                {"status": [f"One of: {', '.join(DisputeStatus.values)}."]},
            )
        rows = dispute_list(principal=principal, account=account, status=status_word)
        ids = dispute_event_ids(rows)
        results = [presenters.dispute_dict(d, event_ids=ids[d.pk][0], approved_event_ids=ids[d.pk][1]) for d in rows]
        return Response({"results": results})

    @extend_schema(
        operation_id="disputes_create",
        summary="File a dispute over billed events, or over an invoice line",
        request=DisputeIn,
        responses={
            201: DisputeOut,
            404: error_response(404, "The account, an event or the invoice line: missing, or not yours."),
        },
        examples=[
            OpenApiExample(
                "Events",
                value={
                    "account": "acme",
                    "event_ids": ["conv-1841", "conv-1842"],
                    "reason_code": "not_resolved",
                    "message": "Both customers wrote back the next day: the problem was still there.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "An invoice line",
                value={
                    "account": "acme",
                    "invoice_line_id": 812,
                    "reason_code": "outside_definition",
                    "message": "Password resets are excluded from our agreed definition.",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        principal = principal_of(request)
        data_in = DisputeIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        account = _filing_account(principal, data)
        try:
            dispute = dispute_file(
                principal=principal,
                account=account,
                reason_code=data["reason_code"],
                message=data["message"],
                event_ids=data.get("event_ids"),
                invoice_line_id=data.get("invoice_line_id"),
                via="api",
            )
        except DisputeRefused as exc:
            raise _refused(exc) from exc
        return Response(dispute_body(dispute), status=status.HTTP_201_CREATED)


class DisputeDetailView(APIView):
    permission_classes = [require(Perm.DISPUTES_READ)]

    @extend_schema(operation_id="disputes_retrieve", summary="One dispute", responses={200: DisputeOut})
    def get(self, request, dispute_id: int):
        dispute = dispute_get_for_principal(principal=principal_of(request), dispute_id=dispute_id)
        return Response(dispute_body(dispute))


class DisputeResolveView(APIView):
    permission_classes = [require(Perm.DISPUTES_RESOLVE)]

    @extend_schema(
        operation_id="disputes_resolve",
        summary="Resolve a dispute: approve, partially approve (event_ids credited) or reject, with a note",
        request=ResolveIn,
        responses={200: DisputeOut, 409: error_response(409, "`dispute_not_open`: it was already resolved.")},
        examples=[
            OpenApiExample(
                "Partial approval",
                value={
                    "decision": "partially_approved",
                    "event_ids": ["conv-1841"],
                    "note": "conv-1841 was reopened the next day; conv-1842 was confirmed by the customer.",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request, dispute_id: int):
        principal = principal_of(request)
        data_in = ResolveIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        dispute = dispute_get_for_principal(principal=principal, dispute_id=dispute_id)
        try:
            dispute = dispute_resolve(
                principal=principal,
                dispute=dispute,
                decision=data["decision"],
                note=data["note"],
                event_ids=data.get("event_ids"),
            )
        except DisputeRefused as exc:
            raise _refused(exc) from exc
        dispute = dispute_get_for_principal(principal=principal, dispute_id=dispute.pk)
        return Response(dispute_body(dispute))
