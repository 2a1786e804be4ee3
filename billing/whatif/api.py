"""``POST /api/v1/accounts/{id}/contract/preview``: the account's last closed months repriced under a
candidate contract, beside what was invoiced (billing.whatif.preview). Vendor principals with
``finance.read`` (vendor finance, vendor operators, the vendor key); nothing is stored."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import api_schema as docs
from billing.contracts import TermsInvalid
from billing.whatif.preview import DEFAULT_MONTHS, MAX_MONTHS, candidate_parse, contract_preview
from metering.api_schema import ErrorBodyDoc
from outcomeportal.api.errors import ApiError
from outcomeportal.api.fields import DecimalString
from outcomeportal.api.schema import ClosedDoc

PRICE_EXAMPLE = {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.85"}
ERRORS = {400: ErrorBodyDoc, 401: ErrorBodyDoc, 403: ErrorBodyDoc, 404: ErrorBodyDoc}


class CandidateDocument(docs.ContractDocument):
    effective_from = serializers.DateField(
        required=False,
        help_text="Optional here: the contract in force today's, else the first closed month's first day.",
    )


class _Months(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS, default=DEFAULT_MONTHS)


class PreviewIn(ClosedDoc):  # unknown keys refused (and closed in the schema)
    contract = CandidateDocument(help_text="The candidate contract: a whole contract document (as PUT …/contract).")
    months = serializers.IntegerField(
        min_value=1, max_value=MAX_MONTHS, default=DEFAULT_MONTHS, help_text="How many of the last closed months."
    )


class PreviewLineDoc(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField(allow_null=True)
    amount = DecimalString(places=2, allow_negative=True)


class PreviewPeriodDoc(serializers.Serializer):
    period = serializers.CharField()
    invoice = serializers.CharField(help_text="The month's invoice number.")
    actual_total = DecimalString(places=2, allow_negative=True, help_text="Its total as invoiced (before tax).")
    candidate_total = DecimalString(places=2, allow_negative=True)
    difference = DecimalString(places=2, allow_negative=True, help_text="candidate_total − actual_total.")
    candidate_lines = PreviewLineDoc(many=True, help_text="The candidate invoice's lines.")


class PreviewDoc(serializers.Serializer):
    account = serializers.CharField()
    currency = serializers.CharField()
    months = serializers.IntegerField(help_text="Closed months repriced: at most the months asked, those invoiced.")
    periods = PreviewPeriodDoc(many=True, help_text="Oldest first.")
    actual_total = DecimalString(places=2, allow_negative=True)
    candidate_total = DecimalString(places=2, allow_negative=True)
    difference = DecimalString(places=2, allow_negative=True)


class ContractPreviewView(APIView):
    permission_classes = [require(Perm.FINANCE_READ)]

    @extend_schema(
        summary="Reprice the account's last closed months under a candidate contract, beside what was invoiced",
        request=PreviewIn,
        responses={200: PreviewDoc, **ERRORS},
        examples=[
            OpenApiExample(
                "A price change",
                value={
                    "contract": {
                        "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.85"}]
                    },
                    "months": 6,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        body = request.data
        if not isinstance(body, dict):
            raise ApiError(
                "validation_error", "The request has invalid fields.", fields={"non_field_errors": ["A JSON object."]}
            )
        unknown = sorted(set(body) - {"contract", "months"})
        months = _Months(data={k: body[k] for k in ("months",) if k in body})
        errors = {k: ["Not a field: contract or months."] for k in unknown}
        if not months.is_valid():
            errors.update(months.errors)
        if not isinstance(body.get("contract"), dict):
            errors["contract"] = ["Required: a contract document (a JSON object)."]
        if errors:
            raise ApiError("validation_error", "The request has invalid fields.", fields=errors)
        try:
            terms = candidate_parse(body["contract"], account=account)
        except TermsInvalid as exc:
            fields = {f"contract.{k}": v for k, v in exc.fields.items()}
            raise ApiError("validation_error", "The contract has invalid fields.", fields=fields) from exc
        preview = contract_preview(account=account, terms=terms, months=months.validated_data["months"])
        return Response(preview.as_api())
