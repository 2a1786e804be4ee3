"""API of the vendor's finance area: the account lifecycle, attainment (and growing).

Vendor principals only: the lifecycle is changed with ``accounts.manage`` (the vendor key, vendor
operators), the figures are read with ``finance.read``; account keys and customer users get 403.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account, LifecycleStatus
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal, account_lifecycle_history, account_status_at
from accounts.services import LifecycleMoveRefused, account_lifecycle_set
from metering.api_schema import ErrorBodyDoc
from outcomeportal.api.errors import ApiError
from outcomeportal.core.times import rfc3339_parse

ERRORS = {400: ErrorBodyDoc, 401: ErrorBodyDoc, 403: ErrorBodyDoc, 404: ErrorBodyDoc}


# --- The account lifecycle ------------------------------------------------------------------------


class LifecycleInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(LifecycleStatus.values)
    effective_at = serializers.CharField(
        max_length=40,
        help_text="From when: an RFC 3339 timestamp with an offset, or a date (YYYY-MM-DD), which means its "
        "midnight in the account's time zone. Not before the account's last change.",
    )


class LifecycleChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(LifecycleStatus.values)
    effective_at = serializers.DateTimeField()
    changed_by = serializers.CharField()
    changed_at = serializers.DateTimeField()


class LifecycleOutSerializer(serializers.Serializer):
    account = serializers.CharField()
    status = serializers.ChoiceField(LifecycleStatus.values, help_text="The status in force now.")
    history = LifecycleChangeSerializer(many=True, help_text="Every change, oldest first.")


def _effective_at(value: str, account: Account) -> datetime:
    parsed = rfc3339_parse(value)
    if parsed is not None:
        return parsed
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        message = "An RFC 3339 timestamp with an offset, or a date YYYY-MM-DD."
        raise ApiError("validation_error", message, fields={"effective_at": [message]})
    return datetime.combine(day, time(), tzinfo=ZoneInfo(account.timezone))


class AccountLifecycleView(APIView):
    def get_permissions(self):
        return [require(Perm.ACCOUNTS_MANAGE)()]

    @extend_schema(
        request=LifecycleInSerializer,
        responses={200: LifecycleOutSerializer, 409: ErrorBodyDoc, **ERRORS},
        summary="Set the account's lifecycle: active, suspended or churned from an instant (409: a refused move)",
    )
    def put(self, request, external_id: str):
        principal = principal_of(request)
        account = account_get_for_principal(principal=principal, external_id=external_id)
        data = LifecycleInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            account_lifecycle_set(
                account=account,
                status=values["status"],
                effective_at=_effective_at(values["effective_at"], account),
                changed_by=principal.label,
            )
        except LifecycleMoveRefused as exc:
            raise ApiError(exc.code, str(exc), status.HTTP_409_CONFLICT) from exc
        body = {
            "account": account.external_id,
            "status": account_status_at(account_id=account.pk, at=timezone.now()),
            "history": account_lifecycle_history(account=account),
        }
        return Response(LifecycleOutSerializer(body).data)
