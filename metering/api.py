"""API: outcome events, signals and the outcome catalogue (`/api/v1/events`, `/api/v1/outcome-types`)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from metering import api_schema as docs
from metering import engine
from metering.ingest import MAX_BATCH, events_ingest
from metering.models import Event, EventStatus, OutcomeType, ReopenPolicy, SignalType, ValueType
from metering.presenters import event_row
from metering.presenters import iso as _iso
from metering.selectors import event_get_for_principal, event_list
from metering.services import (
    OutcomeTypeExists,
    WindowClosed,
    criteria_version_create,
    outcome_type_create,
    signal_record,
)
from metering.validation import parse_timestamp
from outcomeportal.api.cursor import cursor_decode, cursor_encode, page_limit
from outcomeportal.api.errors import ApiError, error_body
from outcomeportal.api.fields import DecimalString


def _price(value: Decimal) -> str:
    """A unit price as written by people: "0.99", "0.995", "10.00" (never "0.9900")."""
    normal = value.normalize()
    return str(normal if normal.as_tuple().exponent < -2 else value.quantize(Decimal("0.01")))


def decision_body(event: Event) -> dict:
    return {
        "status": event.status,
        "non_billable_reason": event.non_billable_reason or None,
        "reason_text": engine.REASONS.get(event.non_billable_reason),
        "rule_version": event.criteria.label,
        "engine_version": engine.ENGINE_VERSION,
        "decided_at": _iso(event.decided_at),
        "settled_at": _iso(event.settled_at),
        "criteria": [
            {"code": code, "description": engine.CHECKS[code][1], "outcome": outcome} for code, outcome in event.checks
        ],
        "state": event.state,
    }


# --- Events --------------------------------------------------------------------------------

_ERRORS = {400: docs.ErrorBodyDoc, 401: docs.ErrorBodyDoc, 403: docs.ErrorBodyDoc, 404: docs.ErrorBodyDoc}


class EventsView(APIView):
    def get_permissions(self):
        perm = Perm.EVENTS_WRITE if self.request.method == "POST" else Perm.EVENTS_READ
        return [require(perm)()]

    @extend_schema(
        request=docs.IngestRequestDoc,
        responses={200: docs.IngestResponseDoc, 413: docs.ErrorBodyDoc, **_ERRORS},
        summary="Post 1 to 1,000 outcome events",
    )
    def post(self, request):
        body = request.data
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise ApiError(
                "invalid_batch",
                'The body must be a JSON object with an "events" list.',
                400,
                {"events": ["A list of 1 to 1,000 events is required."]},
            )
        if not 1 <= len(events) <= MAX_BATCH:
            raise ApiError(
                "invalid_batch",
                f"A batch holds 1 to {MAX_BATCH} events; this one has {len(events)}.",
                400,
                {"events": [f"Between 1 and {MAX_BATCH} events."]},
            )
        result = events_ingest(raw_events=events)
        return Response(result.as_response())

    @extend_schema(
        parameters=[
            OpenApiParameter("account", str),
            OpenApiParameter("status", str, enum=EventStatus.values),
            OpenApiParameter("outcome_type", str),
            OpenApiParameter("reason", str, enum=list(engine.REASONS)),
            OpenApiParameter("from", OpenApiTypes.DATETIME),
            OpenApiParameter("to", OpenApiTypes.DATETIME),
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int),
        ],
        responses={200: docs.EventPageDoc, **_ERRORS},
        operation_id="events_list",
        summary="List events, newest first (keyset pagination)",
    )
    def get(self, request):
        principal = principal_of(request)
        query = request.query_params
        fields: dict[str, list[str]] = {}
        account = None
        if query.get("account"):
            account = account_get_for_principal(principal=principal, external_id=query["account"])
        status_filter = query.get("status") or None
        if status_filter and status_filter not in EventStatus.values:
            fields["status"] = [f"One of {', '.join(EventStatus.values)}."]
        reason = query.get("reason") or None
        if reason and reason not in engine.REASONS:
            fields["reason"] = ["Not a non-billable reason word."]
        outcome_type_id = None
        if query.get("outcome_type"):
            outcome_type_id = (
                OutcomeType.objects.filter(code=query["outcome_type"]).values_list("pk", flat=True).first()
            )
            if outcome_type_id is None:
                fields["outcome_type"] = ["Unknown outcome type."]
        bounds = {}
        for name in ("from", "to"):
            if query.get(name):
                bounds[name] = parse_timestamp(query[name])
                if bounds[name] is None:
                    fields[name] = ["An RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z."]
        limit = page_limit(query)
        if limit is None:
            fields["limit"] = ["An integer from 1 to 500."]
        if fields:
            raise ApiError("validation_error", "The query has invalid parameters.", 400, fields)
        before = cursor_decode(query["cursor"]) if query.get("cursor") else None
        rows = event_list(
            principal=principal,
            account_id=account.pk if account else None,
            status=status_filter,
            outcome_type_id=outcome_type_id,
            reason=reason,
            occurred_from=bounds.get("from"),
            occurred_to=bounds.get("to"),
            before=before,
            limit=limit + 1,
        )
        page, more = rows[:limit], len(rows) > limit
        return Response(
            {
                "results": [event_row(e, principal=principal) for e in page],
                "next_cursor": cursor_encode(page[-1].occurred_at, page[-1].pk) if more else None,
            }
        )


class EventDetailView(APIView):
    permission_classes = [require(Perm.EVENTS_READ)]

    @extend_schema(
        responses={200: docs.EventDetailDoc, **_ERRORS}, summary="One event with its decision, criterion by criterion"
    )
    def get(self, request, account: str, event_id: str):
        principal = principal_of(request)
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        body = event_row(event, principal=principal)
        body["decision"] = decision_body(event)
        body["signals"] = [
            {
                "type": s.type,
                "occurred_at": _iso(s.occurred_at),
                "received_at": _iso(s.received_at),
                "note": s.note,
                "effect": s.effect,
            }
            for s in event.signals.all()
        ]
        return Response(body)


class SignalInSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=SignalType.values)
    occurred_at = serializers.CharField(help_text="RFC 3339 with a time zone, e.g. 2026-11-01T12:00:00Z.")

    def validate_occurred_at(self, value: str):
        parsed = parse_timestamp(value)
        if parsed is None:
            raise serializers.ValidationError(
                "Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."
            )
        return parsed

    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SignalView(APIView):
    permission_classes = [require(Perm.EVENTS_WRITE)]

    @extend_schema(
        request=SignalInSerializer,
        responses={201: docs.SignalResponseDoc, 200: docs.SignalResponseDoc, 409: docs.ErrorBodyDoc, **_ERRORS},
        summary="Report a reopen, reversal, escalation or confirmation",
    )
    def post(self, request, account: str, event_id: str):
        principal = principal_of(request)
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        data = SignalInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        occurred_at = data.validated_data["occurred_at"]
        if occurred_at > timezone.now() + timezone.timedelta(minutes=5):
            raise ApiError(
                "timestamp_out_of_range",
                "occurred_at is more than 5 minutes in the future.",
                400,
                {"occurred_at": ["More than 5 minutes in the future."]},
            )
        try:
            outcome = signal_record(
                event=event, type=data.validated_data["type"], occurred_at=occurred_at, note=data.validated_data["note"]
            )
        except WindowClosed as closed:
            body = error_body(
                "window_closed",
                f"The measurement window of {event_id!r} closed at {_iso(event.window_ends_at)}; the signal is "
                "recorded but changes nothing billed. File a dispute to contest a charge.",
            )
            body["signal"] = {
                "type": closed.signal.type,
                "occurred_at": _iso(closed.signal.occurred_at),
                "effect": closed.signal.effect,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        signal = outcome.signal
        return Response(
            {
                "signal": {
                    "type": signal.type,
                    "occurred_at": _iso(signal.occurred_at),
                    "note": signal.note,
                    "effect": signal.effect,
                    "received_at": _iso(signal.received_at),
                },
                "event": event_row(event, principal=principal),
            },
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


# --- Catalogue -----------------------------------------------------------------------------


class CriteriaFieldsSerializer(serializers.Serializer):
    """The versioned definition of success (product or enterprise override)."""

    measurement_window_hours = serializers.IntegerField(min_value=0, max_value=24 * 366, required=False)
    one_per_session = serializers.BooleanField(required=False)
    required_verification_methods = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=20
    )
    excluded_workflows = serializers.ListField(child=serializers.CharField(max_length=128), required=False)
    excluded_channels = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    handoff_is_billable = serializers.BooleanField(required=False)
    confirm_closes_window = serializers.BooleanField(required=False)
    reopen_after_window = serializers.ChoiceField(choices=ReopenPolicy.values, required=False)
    system_action = serializers.CharField(max_length=300, required=False)
    customer_result = serializers.CharField(max_length=300, required=False)
    failure_condition = serializers.CharField(max_length=300, required=False)
    verification_source = serializers.CharField(max_length=300, required=False)
    dispute_process = serializers.CharField(required=False, allow_blank=True)


class OutcomeTypeInSerializer(CriteriaFieldsSerializer):
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    unit_price = DecimalString(places=4, max_digits=12)  # OutcomeType.unit_price
    value_type = serializers.ChoiceField(choices=ValueType.values, default=ValueType.LABOR_SAVINGS)


class CriteriaInSerializer(CriteriaFieldsSerializer):
    account = serializers.CharField(
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
    measurement_window_hours = serializers.IntegerField()
    one_per_session = serializers.BooleanField()
    required_verification_methods = serializers.ListField(child=serializers.CharField())
    criteria = CriteriaDoc()


class OutcomeTypeListDoc(serializers.Serializer):
    results = OutcomeTypeDoc(many=True)


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


def outcome_type_body(outcome_type: OutcomeType) -> dict:
    current = outcome_type.criteria.filter(account=None).order_by("-version").first()
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
    }


class OutcomeTypeListView(APIView):
    def get_permissions(self):
        perm = Perm.CATALOGUE_MANAGE if self.request.method == "POST" else Perm.EVENTS_READ
        return [require(perm)()]

    @extend_schema(
        responses={200: OutcomeTypeListDoc}, operation_id="outcome_types_list", summary="The outcome catalogue"
    )
    def get(self, request):
        return Response({"results": [outcome_type_body(t) for t in OutcomeType.objects.order_by("code")]})

    @extend_schema(
        request=OutcomeTypeInSerializer,
        responses={201: OutcomeTypeDoc, 409: docs.ErrorBodyDoc, **_ERRORS},
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

    @extend_schema(responses={200: OutcomeTypeDoc, **_ERRORS})
    def get(self, request, code: str):
        outcome_type = OutcomeType.objects.filter(code=code).first()
        if outcome_type is None:
            raise ApiError("not_found", f"No outcome type {code!r}.", 404)
        return Response(outcome_type_body(outcome_type))


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

    @extend_schema(responses={200: CriteriaListDoc, **_ERRORS})
    def get(self, request, code: str):
        principal = principal_of(request)
        rows = self._outcome_type(code).criteria.select_related("outcome_type", "account")
        if not principal.is_vendor:
            rows = rows.filter(account__isnull=True) | rows.filter(account_id=principal.account_id)
        return Response({"results": [criteria_body(c) for c in rows.order_by("account_id", "-version")]})

    @extend_schema(request=CriteriaInSerializer, responses={201: CriteriaDoc, **_ERRORS})
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
