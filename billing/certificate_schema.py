"""Serializers that document a decision certificate in the OpenAPI schema (never run on a request:
the body is built by billing.certificates; tests hold the two to the same fields)."""

from __future__ import annotations

from rest_framework import serializers

from billing.ledger.models import ChargeState
from billing.ledger.shown import REASONS, STATUSES
from metering import engine
from metering.models import EventStatus, Signal, SignalType
from outcomeportal.api.fields import DecimalString

_OUTCOMES = [engine.PASSED, engine.FAILED, engine.NOT_APPLICABLE]


class CertificateEventDoc(serializers.Serializer):
    event_id = serializers.CharField()
    account = serializers.CharField()
    outcome_type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    success_criteria_met = serializers.BooleanField()
    human_handoff = serializers.BooleanField()
    channel = serializers.CharField(allow_blank=True)
    workflow = serializers.CharField(allow_blank=True)
    session_id = serializers.CharField(allow_blank=True)
    complexity = serializers.CharField(allow_blank=True)
    verification_method = serializers.CharField(allow_blank=True)
    source_url = serializers.CharField(allow_blank=True)
    sandbox = serializers.BooleanField()
    failure_reason = serializers.CharField(allow_blank=True)
    value_amount = DecimalString(places=6, allow_null=True)
    cost_amount = DecimalString(
        places=6, allow_null=True, required=False, help_text="Vendor keys only (the hash covers it for everyone)."
    )
    attributes = serializers.DictField()


class CertificateRulesDoc(serializers.Serializer):
    measurement_window_hours = serializers.IntegerField()
    one_per_session = serializers.BooleanField()
    required_verification_methods = serializers.ListField(child=serializers.CharField())
    excluded_workflows = serializers.ListField(child=serializers.CharField())
    excluded_channels = serializers.ListField(child=serializers.CharField())
    handoff_is_billable = serializers.BooleanField()
    confirm_closes_window = serializers.BooleanField()
    reopen_after_window = serializers.ChoiceField(["continuation", "new_outcome"])


class CertificateSignalDoc(serializers.Serializer):
    type = serializers.ChoiceField(SignalType.values)
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    effect = serializers.ChoiceField(Signal.Effect.values, help_text="Only `applied` signals decided anything.")


class CertificateWindowDoc(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    measurement_window_hours = serializers.IntegerField()
    confirm_closes_window = serializers.BooleanField()
    confirmations = serializers.ListField(child=serializers.DateTimeField())
    ends_at = serializers.DateTimeField()


class CertificateCheckDoc(serializers.Serializer):
    code = serializers.CharField(help_text="Metering's checks in engine order, then billing's for a charge not void.")
    description = serializers.CharField()
    outcome = serializers.ChoiceField(_OUTCOMES)
    facts = serializers.DictField(help_text="What the check was judged on, by name (docs/security.md).")


class CertificateDecisionDoc(serializers.Serializer):
    rule_version = serializers.CharField(
        help_text='The criteria version that decided, e.g. "resolved_conversation acme v2".'
    )
    engine_version = serializers.IntegerField()
    rules = CertificateRulesDoc()
    signals = CertificateSignalDoc(many=True)
    window = CertificateWindowDoc()
    checks = CertificateCheckDoc(many=True)
    status = serializers.ChoiceField(EventStatus.values, help_text="Metering's decision.")
    reason = serializers.ChoiceField(list(engine.REASONS), allow_null=True)
    decided_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)


class CertificateChargeDoc(serializers.Serializer):
    state = serializers.ChoiceField(ChargeState.values)
    reason = serializers.CharField(allow_null=True, help_text="Billing's reason, or null.")
    amount = DecimalString(places=6, allow_null=True)
    credits = DecimalString(places=4, allow_null=True)
    currency = serializers.CharField()
    contract_version = serializers.IntegerField(allow_null=True)
    attempt = serializers.BooleanField()


class CertificateShownDoc(serializers.Serializer):
    status = serializers.ChoiceField(list(STATUSES))
    reason = serializers.ChoiceField(list(REASONS), allow_null=True)
    amount = DecimalString(
        places=6, allow_null=True, help_text="What it adds to its invoice (the events API's amount)."
    )
    credits = DecimalString(places=4, allow_null=True)
    currency = serializers.CharField()


class CertificatePayloadDoc(serializers.Serializer):
    certificate_version = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    event = CertificateEventDoc()
    raw_event_sha256 = serializers.CharField(help_text="SHA-256 (hex) of the stored raw event's canonical JSON.")
    received_at = serializers.DateTimeField()
    decision = CertificateDecisionDoc()
    charge = CertificateChargeDoc(allow_null=True)
    shown = CertificateShownDoc()


class CertificateDoc(serializers.Serializer):
    payload = CertificatePayloadDoc()
    kid = serializers.CharField(help_text="The signing key, listed at /.well-known/outcomeportal-keys.json.")
    alg = serializers.ChoiceField(["Ed25519"])
    signature = serializers.CharField(help_text="Base64 Ed25519 signature of the payload's canonical JSON.")
