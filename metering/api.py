"""API: the outcome catalogue (`/api/v1/outcome-types`). The events API is billing.events_api (it joins
the events with their charges)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from metering.models import OutcomeCost, OutcomeType, ReopenPolicy, ValueType
from metering.presenters import iso as _iso
from metering.services import (
    OutcomeCostExists,
    OutcomeTypeExists,
    criteria_version_create,
    outcome_cost_create,
    outcome_type_create,
)
from outcomeportal.api import fields as strict
from outcomeportal.api.errors import ApiError
from outcomeportal.api.fields import DecimalString
from outcomeportal.api.schema import error_response


def _price(value: Decimal) -> str:
    """A unit price as written by people: "0.99", "0.995", "10.00" (never "0.9900")."""
    normal = value.normalize()
    return str(normal if normal.as_tuple().exponent < -2 else value.quantize(Decimal("0.01")))


# --- Catalogue -----------------------------------------------------------------------------


class CriteriaFieldsSerializer(serializers.Serializer):
    """The versioned definition of success (product or enterprise override)."""

    measurement_window_hours = strict.IntegerField(min_value=0, max_value=24 * 366, required=False)
    one_per_session = strict.BooleanField(required=False)
    required_verification_methods = serializers.ListField(
        child=strict.CharField(max_length=64), required=False, max_length=20
    )
    excluded_workflows = serializers.ListField(child=strict.CharField(max_length=128), required=False)
    excluded_channels = serializers.ListField(child=strict.CharField(max_length=64), required=False)
    handoff_is_billable = strict.BooleanField(required=False)
    confirm_closes_window = strict.BooleanField(required=False)
    reopen_after_window = strict.ChoiceField(choices=ReopenPolicy.values, required=False)
    system_action = strict.CharField(max_length=300, required=False)
    customer_result = strict.CharField(max_length=300, required=False)
    failure_condition = strict.CharField(max_length=300, required=False)
    verification_source = strict.CharField(max_length=300, required=False)
    dispute_process = strict.CharField(required=False, allow_blank=True)


class OutcomeTypeInSerializer(CriteriaFieldsSerializer):
    code = strict.SlugField(max_length=64)
    name = strict.CharField(max_length=200)
    description = strict.CharField(required=False, allow_blank=True, default="")
    unit_price = DecimalString(places=4, max_digits=12)  # OutcomeType.unit_price
    value_type = strict.ChoiceField(choices=ValueType.values, default=ValueType.LABOR_SAVINGS)


class CriteriaInSerializer(CriteriaFieldsSerializer):
    account = strict.CharField(
        required=False, allow_null=True, default=None, help_text="An account's external_id for an enterprise override."
    )


class CriteriaDoc(CriteriaFieldsSerializer):
    rule_version = serializers.CharField()
    version = serializers.IntegerField()
    account = serializers.CharField(allow_null=True)
    definition = serializers.CharField()
    created_at = serializers.DateTimeField()


class CriteriaListDoc(serializers.Serializer):
    results = CriteriaDoc(many=True)


class OutcomeTypeDoc(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    unit_price = DecimalString()
    value_type = serializers.ChoiceField(ValueType.values)
    active = serializers.BooleanField()
    measurement_window_hours = serializers.IntegerField(allow_null=True, help_text="null before any criteria.")
    one_per_session = serializers.BooleanField(allow_null=True)
    required_verification_methods = serializers.ListField(child=serializers.CharField())
    criteria = CriteriaDoc(allow_null=True, help_text="The current product definition; null before any.")


class OutcomeCostSerializer(serializers.Serializer):
    complexity = strict.ChoiceField(
        choices=list(OutcomeCost.COMPLEXITIES), default="", help_text="Empty: every tier without a cost of its own."
    )
    amount = DecimalString(places=6, max_digits=18, help_text="In the account's currency, like unit_price.")
    effective_from = serializers.DateField(help_text="Applies to outcomes that occurred from this (local) date.")


class OutcomeTypeCostDoc(OutcomeTypeDoc):
    costs = OutcomeCostSerializer(many=True, required=False, help_text="Vendor principals only: delivery costs.")
    margin_floor = serializers.CharField(
        allow_null=True, required=False, help_text="Vendor principals only: the type's margin floor (null: default)."
    )


class OutcomeTypeListDoc(serializers.Serializer):
    results = OutcomeTypeCostDoc(many=True)


def criteria_body(criteria) -> dict:
    return {
        "rule_version": criteria.label,
        "version": criteria.version,
        "account": criteria.account.external_id if criteria.account_id else None,
        "definition": (
            f"A billable outcome occurs when {criteria.system_action} produces {criteria.customer_result}, "
            f"without {criteria.failure_condition}, within {criteria.measurement_window_hours} hours, "
            f"verified by {criteria.verification_source}."
        ),
        "created_at": _iso(criteria.created_at),
        **{f: getattr(criteria, f) for f in CriteriaFieldsSerializer().fields},
    }


def cost_body(cost: OutcomeCost) -> dict:
    return {
        "complexity": cost.complexity,
        "amount": f"{cost.amount:.6f}",
        "effective_from": cost.effective_from.isoformat(),
    }


def outcome_type_body(outcome_type: OutcomeType, *, with_cost: bool = False) -> dict:
    """The type as the API shows it; ``with_cost`` (vendor principals): its delivery costs and margin floor."""
    current = outcome_type.criteria.filter(account=None).order_by("-version").first()
    cost = {}
    if with_cost:
        cost = {
            "costs": [cost_body(c) for c in outcome_type.costs.order_by("complexity", "effective_from")],
            "margin_floor": None if outcome_type.margin_floor is None else str(outcome_type.margin_floor),
        }
    return {
        "code": outcome_type.code,
        "name": outcome_type.name,
        "description": outcome_type.description,
        "unit_price": _price(outcome_type.unit_price),
        "value_type": outcome_type.value_type,
        "active": outcome_type.active,
        "measurement_window_hours": current.measurement_window_hours if current else None,
        "one_per_session": current.one_per_session if current else None,
        "required_verification_methods": current.required_verification_methods if current else [],
        "criteria": criteria_body(current) if current else None,
        **cost,
    }


class OutcomeTypeListView(APIView):
    def get_permissions(self):
        perm = Perm.CATALOGUE_MANAGE if self.request.method == "POST" else Perm.EVENTS_READ
        return [require(perm)()]

    @extend_schema(
        responses={200: OutcomeTypeListDoc}, operation_id="outcome_types_list", summary="The outcome catalogue"
    )
    def get(self, request):
        with_cost = principal_of(request).can(Perm.COST_READ)
        types = OutcomeType.objects.order_by("code")
        return Response({"results": [outcome_type_body(t, with_cost=with_cost) for t in types]})

    @extend_schema(
        request=OutcomeTypeInSerializer,
        responses={201: OutcomeTypeDoc, 409: error_response(409, "An outcome type with this code exists.")},
        summary="Define an outcome type (version 1 of its criteria)",
    )
    def post(self, request):
        data = OutcomeTypeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        principal = principal_of(request)
        try:
            outcome_type = outcome_type_create(created_by=principal.label, **values)
        except OutcomeTypeExists as exc:
            raise ApiError(
                "outcome_type_exists", f"An outcome type with code {values['code']!r} exists.", status.HTTP_409_CONFLICT
            ) from exc
        return Response(outcome_type_body(outcome_type), status=status.HTTP_201_CREATED)


class OutcomeTypeDetailView(APIView):
    permission_classes = [require(Perm.EVENTS_READ)]

    @extend_schema(responses={200: OutcomeTypeCostDoc}, summary="One outcome type")
    def get(self, request, code: str):
        outcome_type = OutcomeType.objects.filter(code=code).first()
        if outcome_type is None:
            raise ApiError("not_found", f"No outcome type {code!r}.", 404)
        return Response(outcome_type_body(outcome_type, with_cost=principal_of(request).can(Perm.COST_READ)))


class OutcomeCostView(APIView):
    """A delivery cost of the type from a date (the vendor's; finance's margin)."""

    permission_classes = [require(Perm.CATALOGUE_MANAGE)]

    @extend_schema(
        request=OutcomeCostSerializer,
        responses={201: OutcomeCostSerializer, 409: error_response(409, "`outcome_cost_exists`: one starts that day.")},
        summary="Set a delivery cost of the type (and tier) from a date (409: one already starts that day)",
    )
    def post(self, request, code: str):
        outcome_type = OutcomeType.objects.filter(code=code).first()
        if outcome_type is None:
            raise ApiError("not_found", f"No outcome type {code!r}.", 404)
        data = OutcomeCostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            cost = outcome_cost_create(
                outcome_type=outcome_type, created_by=principal_of(request).label, **data.validated_data
            )
        except OutcomeCostExists as exc:
            raise ApiError(
                "outcome_cost_exists", f"A cost of {exc} exists; costs are never edited.", status.HTTP_409_CONFLICT
            ) from exc
        return Response(cost_body(cost), status=status.HTTP_201_CREATED)


class CriteriaView(APIView):
    """Versions of an outcome type's definition of success; POST adds a version."""

    def get_permissions(self):
        perm = Perm.CATALOGUE_MANAGE if self.request.method == "POST" else Perm.EVENTS_READ
        return [require(perm)()]

    def _outcome_type(self, code: str) -> OutcomeType:
        outcome_type = OutcomeType.objects.filter(code=code).first()
        if outcome_type is None:
            raise ApiError("not_found", f"No outcome type {code!r}.", 404)
        return outcome_type

    @extend_schema(responses={200: CriteriaListDoc}, summary="Versions of the definition of success")
    def get(self, request, code: str):
        principal = principal_of(request)
        rows = self._outcome_type(code).criteria.select_related("outcome_type", "account")
        if not principal.is_vendor:
            rows = rows.filter(account__isnull=True) | rows.filter(account_id=principal.account_id)
        return Response({"results": [criteria_body(c) for c in rows.order_by("account_id", "-version")]})

    @extend_schema(
        request=CriteriaInSerializer,
        responses={201: CriteriaDoc},
        summary="A new version of the definition of success (or an account's override)",
    )
    def post(self, request, code: str):
        outcome_type = self._outcome_type(code)
        data = CriteriaInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        account_ext = values.pop("account")
        account: Account | None = None
        if account_ext:
            account = account_get_for_principal(principal=principal_of(request), external_id=account_ext)
        criteria = criteria_version_create(
            outcome_type=outcome_type, account=account, created_by=principal_of(request).label, **values
        )
        return Response(criteria_body(criteria), status=status.HTTP_201_CREATED)
