"""Fixtures of the portal tests: the people of account A and B, vendor staff, and events.

A's events cover every status the engine produces at ingestion and settlement (pending,
billable, non-billable with several reasons), several channels, workflows and verification
methods, two outcome types and a reopened signal. B has a handful of its own. Every event
carries a vendor cost of 0.777777 — a value that must never appear on a customer's page.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle, signal_record
from metering.models import Event
from tests import factories

COST = "0.777777"
A_EVENTS = 120
B_EVENTS = 12


@pytest.fixture
def catalogue(db):
    resolved = factories.make_outcome_type("resolved_conversation", "0.99")
    lead = factories.make_outcome_type(
        "qualified_lead",
        "2.50",
        measurement_window_hours=24,
        one_per_session=False,
        required_verification_methods=["crm_accepted"],
    )
    return {"resolved": resolved, "lead": lead}


def _payloads(account, n: int, *, now, prefix: str) -> list[dict]:
    channels = ["chat", "email", "voice"]
    workflows = ["support.refund", "support.order_status", "support.password"]
    payloads = []
    for i in range(n):
        occurred = now - timedelta(hours=3 * i + 1, minutes=i % 7)
        fields = {
            "channel": channels[i % 3],
            "workflow": workflows[(i // 3) % 3],
            "session_id": f"{prefix}-sess-{i // 2}",  # two events per session: every second one a duplicate
            "verification_method": "customer_confirmed" if i % 4 else "inactivity_timeout",
            "source_url": f"https://helpdesk.example.com/{prefix}/tickets/{i}",
            "cost_amount": COST,
            "attributes": {"ticket": i, "language": "en"},
        }
        if i % 10 == 3:
            fields["failure_reason"] = "abandoned"
        elif i % 10 == 5:
            fields["human_handoff"] = True
        elif i % 10 == 7:
            fields["sandbox"] = True
        outcome_type = "resolved_conversation"
        if i % 6 == 4:
            outcome_type = "qualified_lead"
            fields["verification_method"] = "crm_accepted" if i % 12 == 4 else "sales_review"
            fields.pop("session_id")
        payloads.append(
            factories.event_payload(
                account, f"{prefix}-evt-{i:04d}", occurred_at=occurred, outcome_type=outcome_type, **fields
            )
        )
    return payloads


@pytest.fixture
def events(catalogue, account_a, account_b):
    """A's 120 and B's 12 events over the last 15 days; windows settled; one reopened."""
    now = timezone.now()
    for chunk in range(0, A_EVENTS, 60):
        factories.ingest(*_payloads(account_a, A_EVENTS, now=now, prefix="a")[chunk : chunk + 60], now=now)
    factories.ingest(*_payloads(account_b, B_EVENTS, now=now, prefix="b"), now=now)
    pending = Event.objects.filter(account=account_a, status="pending").order_by("-occurred_at").first()
    signal_record(event=pending, type="reopened", occurred_at=now - timedelta(minutes=5), note="Customer wrote again")
    outcomes_settle(now=now)
    assert Event.objects.filter(account=account_a).count() == A_EVENTS
    assert Event.objects.filter(account=account_b).count() == B_EVENTS
    return now


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people(account_a, account_b):
    return {
        "admin_a": factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice"),
        "finance_a": factories.make_user(Role.FINANCE_ADMIN, account_a, "fiona"),
        "viewer_a": factories.make_user(Role.VIEWER, account_a, "victor"),
        "user_b": factories.make_user(Role.CUSTOMER_ADMIN, account_b, "bob"),
        "support": factories.make_user(Role.VENDOR_SUPPORT, None, "sam"),
        "operator": factories.make_user(Role.VENDOR_OPERATOR, None, "olga"),
    }


@pytest.fixture
def clients(people):
    """A logged-in client per person, plus ``anonymous``."""
    return {**{name: _client(user) for name, user in people.items()}, "anonymous": Client()}
