"""Serializers that document the events API in the OpenAPI schema.

The hot paths do not run these: ingestion validates in metering.validation and rows are
rendered by metering.presenters.event_row (tests keep both in step with these declarations).
"""

from __future__ import annotations

from rest_framework import serializers

from metering import engine
from metering.models import EventStatus, SignalType
from outcomeportal.api.fields import DecimalString

_FAILURES = list(engine.FAILURE_REASONS)


class EventInDoc(serializers.Serializer):
    event_id = serializers.CharField(max_length=128, help_text="Unique per account: the idempotency key.")
    account = serializers.CharField(help_text="The account's external_id.")
    outcome_type = serializers.CharField(help_text="A catalogue code.")
    occurred_at = serializers.DateTimeField(help_text="RFC 3339; ≤ 5 min ahead, ≤ 35 days old.")
    success_criteria_met = serializers.BooleanField()
    human_handoff = serializers.BooleanField(default=False)
    channel = serializers.CharField(max_length=64, required=False)
    workflow = serializers.CharField(max_length=128, required=False)
    session_id = serializers.CharField(max_length=128, required=False)
    complexity = serializers.ChoiceField(["simple", "moderate", "complex"], required=False)
    verification_method = serializers.CharField(max_length=64, required=False)
    source_url = serializers.URLField(max_length=2048, required=False)
    sandbox = serializers.BooleanField(default=False)
    failure_reason = serializers.ChoiceField(_FAILURES, required=False)
    value_amount = DecimalString(places=6, required=False)
    cost_amount = DecimalString(places=6, required=False, help_text="Vendor's cost; never shown to customers.")
    attributes = serializers.DictField(required=False, help_text="Free metadata, ≤ 8 KB.")


class IngestRequestDoc(serializers.Serializer):
    events = EventInDoc(many=True, help_text="1 to 1,000 events.")


class ErrorDoc(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class IngestResultDoc(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(["accepted", "duplicate", "conflict", "rejected"])
    error = ErrorDoc(required=False)


class IngestResponseDoc(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = IngestResultDoc(many=True, help_text="One per submitted event, in order.")


class EventRowDoc(EventInDoc):
    received_at = serializers.DateTimeField()
    status = serializers.ChoiceField(EventStatus.values)
    measurement_window_ends_at = serializers.DateTimeField()
    non_billable_reason = serializers.ChoiceField(list(engine.REASONS), allow_null=True)
    amount = DecimalString(places=6, allow_null=True)
    currency = serializers.CharField()
    credits = DecimalString(places=4, allow_null=True)
    invoice_id = serializers.IntegerField(allow_null=True)
    invoice_line_id = serializers.IntegerField(allow_null=True)
    rule_version = serializers.CharField()


class EventPageDoc(serializers.Serializer):
    results = EventRowDoc(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")


class CriterionDoc(serializers.Serializer):
    code = serializers.ChoiceField(list(engine.CHECKS))
    description = serializers.CharField()
    outcome = serializers.ChoiceField([engine.PASSED, engine.FAILED, engine.NOT_APPLICABLE])


class DecisionDoc(serializers.Serializer):
    status = serializers.ChoiceField(EventStatus.values)
    non_billable_reason = serializers.CharField(allow_null=True)
    reason_text = serializers.CharField(allow_null=True)
    rule_version = serializers.CharField()
    engine_version = serializers.IntegerField()
    decided_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)
    criteria = CriterionDoc(many=True)
    state = serializers.DictField()


class SignalDoc(serializers.Serializer):
    type = serializers.ChoiceField(SignalType.values)
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    note = serializers.CharField()
    effect = serializers.ChoiceField(["applied", "window_closed", "no_effect"])


class EventDetailDoc(EventRowDoc):
    decision = DecisionDoc()
    signals = SignalDoc(many=True)


class SignalResponseDoc(serializers.Serializer):
    signal = SignalDoc()
    event = EventRowDoc()


class ErrorBodyDoc(serializers.Serializer):
    error = ErrorDoc()
