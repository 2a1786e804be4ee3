"""The world of the dispute tests, on fixed dates (jobs take ``now``).

Account A ("acme", UTC) and B ("globex"), one outcome type at $0.99 (no contract: the catalogue
price), and for each account:

* June 2026 outcomes, settled and **finalized** on July 5 (invoice INV-…: 5 × $0.99 = $4.95 for A);
* July 2026 outcomes, settled (billable) and on the July **draft** — the open period;
* one July outcome still pending (window open) and one sandbox (non-billable).

People (the fixture trio and more): A's customer admin, finance admin and viewer, B's customer
admin, vendor support staff (two) and a vendor operator — as API keys and as logged-in clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils.module_loading import import_string

from accounts.access import Principal
from accounts.models import Account, Role, User
from billing.ingestion import events_ingest, outcomes_settle
from billing.invoices.models import Invoice
from billing.services import invoice_draft_refresh, invoice_finalize
from disputes.services import dispute_file, dispute_resolve
from metering.models import Event
from tests import factories
from tests.conftest import key_client

JUNE_10 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
JULY_5 = datetime(2026, 7, 5, tzinfo=UTC)  # June is over and its windows settled: June is finalized
JULY_8 = datetime(2026, 7, 8, 9, 0, tzinfo=UTC)
JULY_12 = datetime(2026, 7, 12, 12, 0, tzinfo=UTC)  # July events settled; the July invoice is a draft
JULY_13 = datetime(2026, 7, 13, 12, 0, tzinfo=UTC)  # the credit job runs
AUG_5 = datetime(2026, 8, 5, tzinfo=UTC)  # July is over: its invoice is finalized

JUNE_A = [f"jun-{i}" for i in range(5)]  # on A's finalized June invoice, $0.99 each
JULY_A = [f"jul-{i}" for i in range(4)]  # billable, on A's July draft
JUNE_B = ["b-jun-0", "b-jun-1"]


def post(account: Account, event_ids: list[str], at: datetime, **fields) -> None:
    payloads = [
        factories.event_payload(account, eid, occurred_at=at + timedelta(minutes=i), **fields)
        for i, eid in enumerate(event_ids)
    ]
    result = events_ingest(raw_events=payloads, now=at + timedelta(hours=1))
    assert (result.accepted, result.rejected) == (len(event_ids), 0), result.results


@dataclass
class World:
    a: Account
    b: Account
    june_invoice_a: Invoice
    june_invoice_b: Invoice
    people: dict[str, User]

    def event(self, event_id: str, account: Account | None = None) -> Event:
        """The event as customers see it, with its charge (``shown_status``, ``shown_reason``, ``amount``…)."""
        return factories.event_seen(event_id, account or self.a)

    def principal(self, name: str) -> Principal:
        user = self.people[name]
        return Principal(role=user.role, account_id=user.account_id, label=user.username, user_id=user.pk)


@pytest.fixture
def world(db) -> World:
    factories.make_outcome_type("resolved_conversation", "0.99")
    a = factories.make_account("acme", name="Acme Support")
    b = factories.make_account("globex", name="Globex")
    post(a, JUNE_A, JUNE_10, session_id="", source_url="https://helpdesk.example.com/t/1")
    post(b, JUNE_B, JUNE_10)
    outcomes_settle(now=JULY_5)
    june_a = invoice_finalize(account=a, period="2026-06", now=JULY_5).invoice
    june_b = invoice_finalize(account=b, period="2026-06", now=JULY_5).invoice
    post(a, JULY_A, JULY_8)
    post(a, ["jul-pending"], JULY_12 - timedelta(hours=2))
    post(a, ["jul-sandbox"], JULY_8, sandbox=True)
    outcomes_settle(now=JULY_12)
    invoice_draft_refresh(account=a, period="2026-07", now=JULY_12)
    people = {
        "admin_a": factories.make_user(Role.CUSTOMER_ADMIN, a, "alice"),
        "finance_a": factories.make_user(Role.FINANCE_ADMIN, a, "fiona"),
        "viewer_a": factories.make_user(Role.VIEWER, a, "victor"),
        "admin_b": factories.make_user(Role.CUSTOMER_ADMIN, b, "bob"),
        "support": factories.make_user(Role.VENDOR_SUPPORT, None, "sam"),
        "support2": factories.make_user(Role.VENDOR_SUPPORT, None, "sue"),
        "operator": factories.make_user(Role.VENDOR_OPERATOR, None, "olga"),
    }
    for user in people.values():
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    return World(a, b, june_a, june_b, people)


@pytest.fixture
def api(world) -> dict[str, Client]:
    """One API client per key: the vendor, and A's / B's customer roles."""
    return {
        "vendor": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"),
        "admin_a": key_client(world.a, Role.CUSTOMER_ADMIN),
        "finance_a": key_client(world.a, Role.FINANCE_ADMIN),
        "viewer_a": key_client(world.a, Role.VIEWER),
        "admin_b": key_client(world.b, Role.CUSTOMER_ADMIN),
    }


@pytest.fixture
def web(world) -> dict[str, Client]:
    """A logged-in browser-less client per person, plus ``anonymous``."""
    clients = {"anonymous": Client()}
    for name, user in world.people.items():
        client = Client()
        client.force_login(user)
        clients[name] = client
    return clients


@pytest.fixture
def tasks_inline(monkeypatch) -> list[tuple]:
    """Background tasks enqueued on commit run in-line (the email, the credit job); returns what ran."""
    ran: list[tuple] = []

    def run(path: str, *args, **kwargs):
        ran.append((path, *args))
        return import_string(path)(*args)

    monkeypatch.setattr("accounts.notify.async_task", run)
    monkeypatch.setattr("disputes.services.resolution.async_task", run)
    monkeypatch.setattr("disputes.services.sla.async_task", run)
    return ran


# --- Five disputes over two accounts, for the trust metrics (see tests/disputes/test_metrics.py) ---

METRICS_NOW = datetime(2026, 7, 8, 12, 0, tzinfo=UTC)  # the trust metrics' fixture is seen from here


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 7, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def history(world):
    admin_a, admin_b, support = world.principal("admin_a"), world.principal("admin_b"), world.principal("support")

    def file(principal, account, event_ids, when, message):
        return dispute_file(
            principal=principal,
            account=account,
            reason_code="not_resolved",
            message=message,
            event_ids=event_ids,
            now=when,
        )

    d1 = file(admin_a, world.a, ["jun-0", "jun-1"], at(5, 1), "Both customers wrote back the next day.")
    d2 = file(admin_a, world.a, ["jun-2"], at(5, 2), "The refund was never issued.")
    d3 = file(admin_b, world.b, ["b-jun-0", "b-jun-1"], at(5, 3), "Our agents closed these tickets.")
    file(admin_a, world.a, ["jun-3"], at(6, 0), "Reopened by phone: the customer was still locked out.")
    file(admin_a, world.a, ["jun-4"], at(8, 6), "This was a test conversation from our QA team.")
    dispute_resolve(principal=support, dispute=d1, decision="approved", now=at(5, 11))
    dispute_resolve(principal=support, dispute=d2, decision="rejected", note="Confirmed.", now=at(6, 8))
    dispute_resolve(
        principal=support, dispute=d3, decision="partially_approved", event_ids=["b-jun-0"], note="One.", now=at(7, 5)
    )
    return world
