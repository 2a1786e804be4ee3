"""API: outcome events and their signals (`/api/v1/events`).

The events are metering's facts and decisions; what they cost and the invoice that bills them are
billing's. These views join both: ``POST /events`` is the ingestion use case that spans the apps
(:func:`billing.ingestion.events_ingest`), and each listed event carries its invoice.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import api_schema as schema_docs
from billing.audit.detail import decision_explained
from billing.certificate_schema import CertificateDoc
from billing.certificates import certificate_issue
from billing.ingestion import events_ingest, signal_record
from billing.invoices.models import InvoiceLine
from billing.ledger.selectors import attach_charges, shown_reason_q, shown_status_q
from billing.ledger.shown import REASONS, STATUSES
from billing.presenters import event_row
from metering import api_schema as docs
from metering.ingest import MAX_BATCH
from metering.models import Event, OutcomeType, SignalType
from metering.presenters import decision_body
from metering.presenters import iso as _iso
from metering.selectors import event_get_for_principal, event_list
from metering.services import WindowClosed
from metering.validation import parse_timestamp
from outcomeportal.api import fields as strict
from outcomeportal.api.cursor import cursor_decode, cursor_encode, page_limit
from outcomeportal.api.errors import ApiError, error_body
from outcomeportal.api.fields import Rfc3339Field


class EventRows:
    """How the event views write their rows: each event with its charge and the invoice it is billed on
    (one query each a page)."""

    def rows(self, events: list[Event], principal) -> list[dict]:
        attach_charges(events)
        line_ids = {e.invoice_line_id for e in events if e.invoice_line_id}
        invoice_of = (
            dict(InvoiceLine.objects.filter(pk__in=line_ids).values_list("pk", "invoice_id")) if line_ids else {}
        )
        return [event_row(e, principal=principal, invoice_id=invoice_of.get(e.invoice_line_id)) for e in events]


def posted_events(request) -> list:
    """The body of ``POST /events`` checked as a batch: its list of 1 to 1,000 raw events."""
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
    return events


class EventsView(EventRows, APIView):
    """``POST /events`` — the ingestion use case (billing.ingestion) — and ``GET /events``."""

    def get_permissions(self):
        perm = Perm.EVENTS_WRITE if self.request.method == "POST" else Perm.EVENTS_READ
        return [require(perm)()]

    @extend_schema(
        request=docs.EventBatch,
        responses={200: docs.IngestResponse},
        summary="Post 1 to 1,000 outcome events",
    )
    def post(self, request):
        # The web process holds the cyclic collector back for the whole request (outcomeportal.collector).
        events = posted_events(request)
        result = events_ingest(raw_events=events)
        # A request's objects are freed only by the cyclic collector (Django's request and DRF's
        # refer to each other); the decoded events need not wait for it.
        events.clear()
        return Response(result.as_response())

    @extend_schema(
        parameters=[schema_docs.EventsQuery],
        responses={200: schema_docs.EventPage},
        operation_id="events_list",
        summary="List events, newest first (keyset pagination)",
    )
    def get(self, request):
        principal = principal_of(request)
        query = request.query_params
        fields: dict[str, list[str]] = {}
        account = None
        if "account" in query:
            account = account_get_for_principal(principal=principal, external_id=query["account"])
        status_filter = query.get("status")
        if status_filter is not None and status_filter not in STATUSES:
            fields["status"] = [f"One of {', '.join(STATUSES)}."]
        reason = query.get("reason")
        if reason is not None and reason not in REASONS:
            fields["reason"] = ["Not a non-billable reason word."]
        outcome_type_id = None
        if "outcome_type" in query:
            outcome_type_id = (
                OutcomeType.objects.filter(code=query["outcome_type"]).values_list("pk", flat=True).first()
            )
            if outcome_type_id is None:
                fields["outcome_type"] = ["Unknown outcome type."]
        bounds = {}
        for name in ("from", "to"):
            if name in query:
                bounds[name] = parse_timestamp(query[name])
                if bounds[name] is None:
                    fields[name] = ["An RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z."]
        limit = page_limit(query)
        if limit is None:
            fields["limit"] = ["An integer from 1 to 500."]
        if fields:
            raise ApiError("validation_error", "The query has invalid parameters.", 400, fields)
        before = cursor_decode(query["cursor"]) if "cursor" in query else None
        account_id = account.pk if account else None
        where = Q()
        if status_filter:
            where &= shown_status_q(status_filter, account_id=account_id)
        if reason:
            where &= shown_reason_q(reason, account_id=account_id)
        rows = event_list(
            principal=principal,
            account_id=account_id,
            outcome_type_id=outcome_type_id,
            where=where,
            occurred_from=bounds.get("from"),
            occurred_to=bounds.get("to"),
            before=before,
            limit=limit + 1,
        )
        page, more = rows[:limit], len(rows) > limit
        return Response(
            {
                "results": self.rows(page, principal),
                "next_cursor": cursor_encode(page[-1].occurred_at, page[-1].pk) if more else None,
            }
        )


class EventDetailView(EventRows, APIView):
    permission_classes = [require(Perm.EVENTS_READ)]

    @extend_schema(
        responses={200: schema_docs.EventDetail}, summary="One event with its decision, criterion by criterion"
    )
    def get(self, request, account: str, event_id: str):
        principal = principal_of(request)
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        body = self.rows([event], principal)[0]
        body["decision"] = decision = decision_body(event)
        # One status and one reason, as the row says, and billing's checks after metering's.
        decision["status"], decision["non_billable_reason"] = event.shown_status, event.shown_reason or None
        decision["reason_text"] = REASONS.get(event.shown_reason)
        decision["criteria"] = [
            {"code": c.code, "description": c.description, "outcome": c.outcome} for c in decision_explained(event)
        ]
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


class EventCertificateView(APIView):
    """``GET /events/{account}/{event_id}/certificate`` — the event's decision, signed (billing.certificates)."""

    permission_classes = [require(Perm.EVENTS_READ)]

    @extend_schema(
        responses={
            200: CertificateDoc,
            401: docs.ErrorBodyDoc,
            403: docs.ErrorBodyDoc,
            404: docs.ErrorBodyDoc,
        },
        operation_id="events_certificate",
        summary="The event's decision as a signed, re-playable certificate",
    )
    def get(self, request, account: str, event_id: str):
        principal = principal_of(request)
        event = event_get_for_principal(principal=principal, account_external_id=account, event_id=event_id)
        return Response(certificate_issue(event=event, principal=principal))


class SignalInSerializer(serializers.Serializer):
    type = strict.ChoiceField(choices=SignalType.values)
    occurred_at = Rfc3339Field(help_text="RFC 3339 with a time zone; at most 5 minutes ahead.")
    note = strict.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SignalView(EventRows, APIView):
    permission_classes = [require(Perm.EVENTS_WRITE)]

    @extend_schema(
        request=SignalInSerializer,
        responses={
            201: schema_docs.SignalResponse,
            200: schema_docs.SignalResponse,
            409: OpenApiResponse(
                schema_docs.WindowClosed,
                description="`window_closed`: the signal is recorded but changes nothing billed.",
            ),
        },
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
                "event": self.rows([event], principal)[0],
            },
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )
