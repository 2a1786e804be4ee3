"""API: account status for the vendor's platform, and spend controls (api-v1.md "Account status")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import caps
from billing.spend.services import account_spend_status, spend_controls_get, spend_controls_set
from outcomeportal.api import fields as strict
from outcomeportal.api.fields import DecimalString
from outcomeportal.core.money import minor_units
from outcomeportal.core.numbers import INTEGER_MAX


class SpendControlsSerializer(serializers.Serializer):
    monthly_cap = DecimalString(
        places=4,
        max_digits=16,  # below 10^12, as every amount a client writes (the column holds more)
        allow_null=True,
        required=False,
        default=None,
        help_text="Money cap per period, in the account's currency; null for none.",
    )
    monthly_cap_outcomes = strict.IntegerField(
        min_value=0,
        max_value=INTEGER_MAX,  # SpendControl.monthly_cap_outcomes, a PostgreSQL integer
        allow_null=True,
        required=False,
        default=None,
        help_text="Outcome cap per period; null for none.",
    )
    alert_thresholds = strict.UniqueListField(
        child=strict.IntegerField(min_value=1, max_value=100),
        max_length=10,
        required=False,
        default=list(caps.DEFAULT_THRESHOLDS),
        help_text="Percentages of the cap, each fired once per period.",
    )
    at_cap = strict.ChoiceField([caps.PAUSE, caps.ALLOW_OVERAGE], required=False, default=caps.PAUSE)

    def validate_alert_thresholds(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each threshold may appear once.")
        return sorted(value)

    def validate_monthly_cap(self, value):
        currency = self.context.get("currency", "USD")
        if value is not None and value.as_tuple().exponent < -minor_units(currency):
            raise serializers.ValidationError(f"At most {minor_units(currency)} decimal places for {currency}.")
        return value


class AccountStatusSerializer(serializers.Serializer):
    paused = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Why it is paused, e.g. monthly_cap_reached; null.")
    period = serializers.CharField(help_text="YYYY-MM, in the account's time zone.")
    period_spend = DecimalString(help_text="What the cap holds: this period's charges, pending ones reserved.")
    invoice_total = DecimalString(help_text="This period's invoice as it stands.")
    pending_spend = DecimalString(help_text="The part of period_spend still in its measurement window.")
    cap = DecimalString(allow_null=True)
    cap_outcomes = serializers.IntegerField(allow_null=True)
    outcomes_this_period = serializers.IntegerField()
    alerts_fired = serializers.ListField(child=serializers.IntegerField(), help_text="Thresholds fired, in %.")


class SpendControlsOutSerializer(serializers.Serializer):
    monthly_cap = DecimalString(allow_null=True)
    monthly_cap_outcomes = serializers.IntegerField(allow_null=True)
    alert_thresholds = serializers.ListField(child=serializers.IntegerField())
    at_cap = serializers.ChoiceField([caps.PAUSE, caps.ALLOW_OVERAGE])


class AccountStatusView(APIView):
    permission_classes = [require(Perm.EVENTS_READ)]

    @extend_schema(responses={200: AccountStatusSerializer}, summary="Is the account paused? Spend against the cap")
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        return Response(account_spend_status(account=account).as_dict())


class SpendControlsView(APIView):
    def get_permissions(self):
        perm = Perm.SPEND_CONTROLS_WRITE if self.request.method == "PUT" else Perm.EVENTS_READ
        return [require(perm)()]

    @extend_schema(responses={200: SpendControlsOutSerializer}, summary="The account's spend controls")
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        return Response(spend_controls_get(account=account))

    @extend_schema(
        request=SpendControlsSerializer,
        responses={200: SpendControlsOutSerializer},
        summary="Replace the spend controls (vendor key or finance admin)",
    )
    def put(self, request, external_id: str):
        principal = principal_of(request)
        account = account_get_for_principal(principal=principal, external_id=external_id)
        data = SpendControlsSerializer(data=request.data, context={"currency": account.currency})
        data.is_valid(raise_exception=True)
        spend_controls_set(account=account, changed_by=principal.label, **data.validated_data)
        return Response(spend_controls_get(account=account))
