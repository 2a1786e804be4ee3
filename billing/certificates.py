"""Signed decision certificates: one event's decision, re-playable, signed by the portal.

A certificate says, for one event: the stored raw event's SHA-256; the rule version that decided it
and every check with its result and the facts it was judged on (metering's, from
:mod:`metering.evidence`, then billing's); the status and reason as every screen shows them
(:mod:`billing.ledger.shown`); the charge, with its contract version; and when it was issued. The
payload is signed with the portal's active Ed25519 key (:mod:`outcomeportal.signing`); anyone can
check the signature and replay the decision with ``python -m outcomeportal.verify``, which reads
nothing but the certificate and the portal's public keys. docs/security.md "Signed decisions".

Nothing is decided again here: the certificate records the stored decision and the stored charge as
they are, so a decision that no longer follows from its facts is what the verifier reports.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.access import Perm, Principal
from billing.audit.detail import BILLING_CHECKS
from billing.invoices.models import ContractVersion
from billing.ledger.models import Charge, ChargeState
from billing.ledger.selectors import attach_charges
from metering import engine
from metering.evidence import SignalRecord, decision_evidence, iso
from metering.models import Event
from metering.selectors import event_facts, rules_from_criteria
from outcomeportal.signing import sha256_hex, sign

CERTIFICATE_VERSION = 1


def _decimal(value) -> str | None:
    return None if value is None else str(value)


def raw_event_document(event: Event) -> dict:
    """The event as the platform posted it and as it is stored — what ``raw_event_sha256`` hashes
    (its canonical JSON). Text fields the platform left out are stored empty (``""``); amounts are
    the stored decimals' text (``"12.500000"``)."""
    return {
        "event_id": event.event_id,
        "account": event.account.external_id,
        "outcome_type": event.outcome_type.code,
        "occurred_at": iso(event.occurred_at),
        "success_criteria_met": event.success_criteria_met,
        "human_handoff": event.human_handoff,
        "channel": event.channel,
        "workflow": event.workflow,
        "session_id": event.session_id,
        "complexity": event.complexity,
        "verification_method": event.verification_method,
        "source_url": event.source_url,
        "sandbox": event.sandbox,
        "failure_reason": event.failure_reason,
        "value_amount": _decimal(event.value_amount),
        "cost_amount": _decimal(event.cost_amount),
        "attributes": event.attributes,
    }


def _charge_document(charge: Charge | None) -> dict | None:
    if charge is None:
        return None
    version = (
        ContractVersion.objects.filter(pk=charge.contract_version_id).values_list("version", flat=True).first()
        if charge.contract_version_id
        else None
    )
    return {
        "state": charge.state,
        "reason": charge.reason or None,
        "amount": _decimal(charge.amount),
        "credits": _decimal(charge.credits),
        "currency": charge.currency,
        "contract_version": version,
        "attempt": charge.attempt,
    }


def _billing_checks(charge: Charge | None) -> list[dict]:
    """Billing's checks after metering's, for a charge that is not void (as the event page lists them):
    each judged on the reason billing recorded on the charge."""
    if charge is None or charge.state == ChargeState.VOID:
        return []
    return [
        {
            "code": code,
            "description": description,
            "outcome": engine.FAILED if charge.reason == reason else engine.PASSED,
            "facts": {"charge_reason": charge.reason or None},
        }
        for code, reason, description in BILLING_CHECKS
    ]


def certificate_payload(*, event: Event, principal: Principal, now: datetime) -> dict:
    """What a certificate of ``event`` says (unsigned). The vendor's cost is left out of the event for
    whoever may not read it; the hash still covers the whole stored event."""
    if not hasattr(event, "shown_status"):
        attach_charges([event])
    raw = raw_event_document(event)
    shown_event = raw if principal.can(Perm.COST_READ) else {k: v for k, v in raw.items() if k != "cost_amount"}
    decision = decision_evidence(
        event=event_facts(event),
        rules=rules_from_criteria(event.criteria),
        state=engine.AccountState.from_dict(event.state),
        signals=[SignalRecord(s.type, s.occurred_at, s.received_at, s.effect) for s in event.signals.all()],
        checks=event.checks,
        status=event.status,
        reason=event.non_billable_reason,
        window_ends_at=event.window_ends_at,
        decided_at=event.decided_at,
        settled_at=event.settled_at,
    )
    decision["checks"] += _billing_checks(event.charge)
    return {
        "certificate_version": CERTIFICATE_VERSION,
        "issued_at": iso(now),
        "event": shown_event,
        "raw_event_sha256": sha256_hex(raw),
        "received_at": iso(event.received_at),
        "decision": decision,
        "charge": _charge_document(event.charge),
        "shown": {
            "status": event.shown_status,
            "reason": event.shown_reason or None,
            "amount": _decimal(event.amount),
            "credits": _decimal(event.credits),
            "currency": event.currency or event.account.currency,
        },
    }


def certificate_issue(*, event: Event, principal: Principal, now: datetime | None = None) -> dict:
    """A signed certificate of ``event``: ``{"payload", "kid", "alg", "signature"}``."""
    return sign(certificate_payload(event=event, principal=principal, now=now or timezone.now()))
