"""API: customer accounts (`/api/v1/accounts`) and their webhook endpoints."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account, WebhookEndpoint
from accounts.notify import InvalidWebhookUrl, webhook_endpoint_create, webhook_endpoint_delete
from accounts.permissions import principal_of, require
from accounts.selectors import (
    account_get_for_principal,
    accounts_visible_to,
    webhook_endpoint_get_for_account,
    webhook_endpoints_of,
)
from accounts.services import (
    BILLING_DETAIL_FIELDS,
    AccountExists,
    BillingDetailsInvalid,
    CurrencyInvalid,
    account_billing_details_update,
    account_create,
    currency_check,
)
from outcomeportal.api import fields as strict
from outcomeportal.api.errors import ApiError
from outcomeportal.api.schema import ClosedDoc, error_response
from outcomeportal.core.currencies import MINOR_UNITS

_TIMEZONES = frozenset(available_timezones())


class SegmentSerializer(serializers.Serializer):
    tier = strict.CharField(max_length=64, required=False, allow_blank=True, default="")
    industry = strict.CharField(max_length=64, required=False, allow_blank=True, default="")
    use_case = strict.CharField(max_length=64, required=False, allow_blank=True, default="")


class _CodeChoiceField(strict.ChoiceField):
    """A word from a list (enumerated in the schema, so a body valid by it is one this accepts), with a
    message for a value not shaped like one and another for a well-shaped value not in the list."""

    def __init__(self, *, shape: str, **kwargs):
        self.shape = re.compile(shape)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if data == "":
            self.fail("blank")
        if not isinstance(data, str) or not self.shape.fullmatch(data):
            self.fail("shape")
        return super().to_internal_value(data)


class AccountInSerializer(serializers.Serializer):
    external_id = strict.RegexField(r"^[A-Za-z0-9._:-]+$", max_length=128)
    name = strict.CharField(max_length=200)
    currency = _CodeChoiceField(
        shape=r"[A-Z]{3}",
        choices=sorted(MINOR_UNITS),  # the active ISO 4217 codes (accounts.services.currency_check)
        default="USD",
        error_messages={
            "blank": "A three-letter ISO 4217 code, e.g. USD.",
            "shape": "A three-letter ISO 4217 code, e.g. USD.",
            "invalid_choice": "Not an active ISO 4217 currency code, e.g. USD, EUR or JPY.",
        },
    )
    timezone = _CodeChoiceField(
        shape=r".{1,64}",
        choices=sorted(_TIMEZONES),
        default="UTC",
        error_messages={
            "blank": "This field may not be blank.",
            "shape": "An IANA time zone name, e.g. Europe/Paris.",
            "invalid_choice": "An IANA time zone name, e.g. Europe/Paris.",
        },
    )
    segment = SegmentSerializer(required=False)

    def validate_currency(self, value: str) -> str:
        try:
            return currency_check(code=value)
        except CurrencyInvalid as exc:
            raise serializers.ValidationError("Not an active ISO 4217 currency code, e.g. USD, EUR or JPY.") from exc


class SegmentOutSerializer(serializers.Serializer):
    tier = serializers.CharField()
    industry = serializers.CharField()
    use_case = serializers.CharField()


class AccountErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class AccountErrorBody(serializers.Serializer):
    """The API's error body (the same shape on every endpoint)."""

    error = AccountErrorDetail()


class BillingDetailsSerializer(ClosedDoc):
    """The buyer printed on the account's invoices (each invoice keeps the details it was issued with)."""

    billing_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Legal name; the account's name when empty."
    )
    billing_address = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, help_text="As printed, lines separated by newlines."
    )
    billing_country = serializers.RegexField(
        r"^[A-Za-z]{2}$",  # or empty (allow_blank)
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # " de" is not what the schema's pattern allows
        help_text="ISO 3166-1 alpha-2 (any case; stored in capitals), or empty; chooses the tax rate.",
        error_messages={"invalid": "A two-letter ISO 3166-1 country code, e.g. DE, or empty."},
    )
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    billing_emails = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=10, help_text="Invoices are emailed here."
    )


class AccountOutSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()
    timezone = serializers.CharField()
    segment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    billing = serializers.SerializerMethodField()

    @extend_schema_field(SegmentOutSerializer)
    def get_segment(self, account: Account) -> dict:
        return {"tier": account.tier, "industry": account.industry, "use_case": account.use_case}

    @extend_schema_field(BillingDetailsSerializer)
    def get_billing(self, account: Account) -> dict:
        return {
            "billing_name": account.billing_name,
            "billing_address": account.billing_address,
            "billing_country": account.billing_country,
            "tax_id": account.tax_id,
            "billing_emails": list(account.billing_emails or []),
        }


class AccountListSerializer(serializers.Serializer):
    results = AccountOutSerializer(many=True, help_text="At most 1,000, by external_id.")


class AccountListView(APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [require(Perm.ACCOUNTS_MANAGE)()]
        return super().get_permissions()

    @extend_schema(
        responses={200: AccountListSerializer}, operation_id="accounts_list", summary="The accounts this key can see"
    )
    def get(self, request):
        accounts = accounts_visible_to(principal=principal_of(request)).order_by("external_id")[:1000]
        return Response({"results": AccountOutSerializer(accounts, many=True).data})

    @extend_schema(
        request=AccountInSerializer,
        responses={201: AccountOutSerializer, 409: error_response(409, "An account with this external_id exists.")},
        summary="Create a customer account",
    )
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
    def get_permissions(self):
        if self.request.method == "PATCH":
            return [require(Perm.BILLING_DETAILS_WRITE)()]
        return super().get_permissions()

    @extend_schema(responses={200: AccountOutSerializer}, summary="One account")
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        return Response(AccountOutSerializer(account).data)

    @extend_schema(
        summary="Change the account's billing details (the buyer on its next invoices)",
        request=BillingDetailsSerializer,
        responses={200: AccountOutSerializer, 400: AccountErrorBody, 401: AccountErrorBody, 403: AccountErrorBody,
                   404: AccountErrorBody},
    )  # fmt: skip
    def patch(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        if not isinstance(request.data, dict):
            raise ApiError("validation_error", "A JSON object.", status.HTTP_400_BAD_REQUEST)
        unknown = sorted(set(request.data) - set(BILLING_DETAIL_FIELDS))
        if unknown:
            raise ApiError(
                "validation_error", "Only billing details can be changed here.", status.HTTP_400_BAD_REQUEST,
                fields={k: ["Not a billing detail."] for k in unknown},
            )  # fmt: skip
        data = BillingDetailsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            account = account_billing_details_update(account=account, **data.validated_data)
        except BillingDetailsInvalid as exc:
            raise ApiError(
                "validation_error", "The billing details have invalid fields.", status.HTTP_400_BAD_REQUEST,
                fields=exc.fields,
            ) from exc  # fmt: skip
        return Response(AccountOutSerializer(account).data)


# --- Webhook endpoints: everyone of the account reads them; finance admins (and the vendor) change them.


class WebhookInSerializer(serializers.Serializer):
    url = strict.CharField(
        max_length=2048, help_text="An https URL on a public address (the operator may allow others)."
    )


class WebhookOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    secret = serializers.CharField(
        required=False, help_text="Signs the deliveries (HMAC-SHA256); only to those who may change endpoints."
    )


class WebhookListSerializer(serializers.Serializer):
    results = WebhookOutSerializer(many=True)


def _webhook_out(endpoint: WebhookEndpoint, *, with_secret: bool) -> dict:
    data = {"id": endpoint.pk, "url": endpoint.url, "active": endpoint.active, "created_at": endpoint.created_at}
    if with_secret:
        data["secret"] = endpoint.secret
    return WebhookOutSerializer(data).data


def _webhook_perm(method: str) -> Perm:
    return Perm.EVENTS_READ if method in ("GET", "HEAD", "OPTIONS") else Perm.SPEND_CONTROLS_WRITE


class WebhookListView(APIView):
    def get_permissions(self):
        return [require(_webhook_perm(self.request.method))()]

    @extend_schema(responses=WebhookListSerializer, summary="The account's webhook endpoints")
    def get(self, request, external_id: str):
        principal = principal_of(request)
        account = account_get_for_principal(principal=principal, external_id=external_id)
        with_secret = principal.can(Perm.SPEND_CONTROLS_WRITE)
        endpoints = webhook_endpoints_of(account=account)[:1000]
        return Response({"results": [_webhook_out(e, with_secret=with_secret) for e in endpoints]})

    @extend_schema(
        request=WebhookInSerializer,
        responses={201: WebhookOutSerializer},
        summary="Add a webhook endpoint (400 invalid_url for an address the portal may not call)",
    )
    def post(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        data = WebhookInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = webhook_endpoint_create(account=account, url=data.validated_data["url"])
        except InvalidWebhookUrl as exc:
            raise ApiError("invalid_url", str(exc), status.HTTP_400_BAD_REQUEST, fields={"url": [str(exc)]}) from exc
        return Response(_webhook_out(endpoint, with_secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    def get_permissions(self):
        return [require(_webhook_perm(self.request.method))()]

    @extend_schema(responses={204: None}, summary="Remove a webhook endpoint, with its delivery log")
    def delete(self, request, external_id: str, webhook_id: int):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        webhook_endpoint_delete(endpoint=webhook_endpoint_get_for_account(account=account, webhook_id=webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
