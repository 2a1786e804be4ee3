"""API: customer accounts (`/api/v1/accounts`)."""

from __future__ import annotations

from zoneinfo import available_timezones

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal, accounts_visible_to
from accounts.services import AccountExists, account_create
from outcomeportal.api.errors import ApiError

_TIMEZONES = frozenset(available_timezones())


class SegmentSerializer(serializers.Serializer):
    tier = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    industry = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    use_case = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class AccountInSerializer(serializers.Serializer):
    external_id = serializers.RegexField(r"^[A-Za-z0-9._:-]+$", max_length=128)
    name = serializers.CharField(max_length=200)
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", default="USD", error_messages={"invalid": "A three-letter ISO 4217 code, e.g. USD."}
    )
    timezone = serializers.CharField(max_length=64, default="UTC")
    segment = SegmentSerializer(required=False)

    def validate_timezone(self, value: str) -> str:
        if value not in _TIMEZONES:
            raise serializers.ValidationError("An IANA time zone name, e.g. Europe/Paris.")
        return value


class AccountOutSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()
    timezone = serializers.CharField()
    segment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_segment(self, account: Account) -> dict:
        return {"tier": account.tier, "industry": account.industry, "use_case": account.use_case}


class AccountListView(APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [require(Perm.ACCOUNTS_MANAGE)()]
        return super().get_permissions()

    @extend_schema(responses=AccountOutSerializer(many=True))
    def get(self, request):
        accounts = accounts_visible_to(principal=principal_of(request)).order_by("external_id")[:1000]
        return Response({"results": AccountOutSerializer(accounts, many=True).data})

    @extend_schema(request=AccountInSerializer, responses={201: AccountOutSerializer})
    def post(self, request):
        data = AccountInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        segment = values.get("segment") or {}
        try:
            account = account_create(
                external_id=values["external_id"],
                name=values["name"],
                currency=values["currency"],
                timezone_name=values["timezone"],
                tier=segment.get("tier", ""),
                industry=segment.get("industry", ""),
                use_case=segment.get("use_case", ""),
            )
        except AccountExists as exc:
            raise ApiError(
                "account_exists",
                f"An account with external_id {values['external_id']!r} exists.",
                status.HTTP_409_CONFLICT,
            ) from exc
        return Response(AccountOutSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetailView(APIView):
    @extend_schema(responses=AccountOutSerializer)
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        return Response(AccountOutSerializer(account).data)
