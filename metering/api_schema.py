"""Serializers that document the ingestion API in the OpenAPI schema.

The hot path does not run these: ingestion validates in metering.validation (a test keeps both in
step: tests/api/test_schema_fuzz.py posts what this schema allows and what it forbids). The rows the
events API lists are billing's (billing.api_schema): they join each event with its charge.
"""

from __future__ import annotations

from rest_framework import serializers

from metering import engine
from metering.validation import COMPLEXITIES, MAX_ATTRIBUTES_BYTES
from outcomeportal.api.fields import DecimalString
from outcomeportal.api.schema import ClosedDoc, ErrorBodySerializer, ErrorSerializer

_FAILURES = list(engine.FAILURE_REASONS)


class EventIn(ClosedDoc):
    event_id = serializers.CharField(max_length=128, help_text="Unique per account: the idempotency key.")
    account = serializers.CharField(max_length=128, help_text="The account's external_id.")
    outcome_type = serializers.CharField(max_length=64, help_text="A catalogue code.")
    occurred_at = serializers.DateTimeField(
        help_text="RFC 3339 with a time zone; at most 5 minutes ahead and 35 days old, else `timestamp_out_of_range`."
    )
    success_criteria_met = serializers.BooleanField()
    human_handoff = serializers.BooleanField(required=False, help_text="Default false.")
    channel = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    workflow = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)
    session_id = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)
    complexity = serializers.ChoiceField(sorted(COMPLEXITIES), required=False, allow_blank=True, allow_null=True)
    verification_method = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    source_url = serializers.URLField(max_length=2048, required=False, allow_null=True, help_text="http(s) only.")
    sandbox = serializers.BooleanField(required=False, help_text="Default false; never billable.")
    failure_reason = serializers.ChoiceField(_FAILURES, required=False, allow_blank=True, allow_null=True)
    value_amount = DecimalString(places=6, max_digits=18, required=False, allow_null=True)
    cost_amount = DecimalString(
        places=6, max_digits=18, required=False, allow_null=True, help_text="Vendor's cost; never shown to customers."
    )
    attributes = serializers.DictField(
        required=False, allow_null=True, help_text=f"Free metadata, at most {MAX_ATTRIBUTES_BYTES:,} bytes as JSON."
    )


class EventBatch(serializers.Serializer):
    events = serializers.ListField(
        child=EventIn(),
        min_length=1,
        max_length=1000,
        help_text="1 to 1,000 events. An event that breaks a rule is `rejected` in the answer; the others "
        "are still processed.",
    )


class IngestResult(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True, help_text="null when the event had none (it is rejected).")
    status = serializers.ChoiceField(["accepted", "duplicate", "conflict", "rejected"])
    error = ErrorSerializer(required=False, help_text="`rejected` and `conflict` only.")


class IngestResponse(serializers.Serializer):
    accepted = serializers.IntegerField(min_value=0)
    duplicates = serializers.IntegerField(min_value=0)
    conflicts = serializers.IntegerField(min_value=0)
    rejected = serializers.IntegerField(min_value=0)
    results = IngestResult(many=True, help_text="One per submitted event, in order.")


ErrorBodyDoc = ErrorBodySerializer  # the contract's error body (outcomeportal.api.schema), by its older name
