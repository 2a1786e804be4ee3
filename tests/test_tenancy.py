"""The cross-tenant matrix: every API v1 endpoint × every key scope and role.

For each endpoint and method the matrix says who may call it; the tests then check, for a
vendor key, the customer-admin / finance-admin / viewer keys of account A and the
customer-admin / finance-admin keys of account B and a viewer of B signed in to the portal
(the API accepts the session too), against each account's objects, that

* another account's object is 404 — the same body as a missing one, never 403, never its data;
* a list never shows another account's rows (nor the vendor's cost fields to account keys);
* a write by a key without the right is 403 and changes nothing in the database;
* no key at all is 401 and changes nothing.

Adding an endpoint (or a method) to ``outcomeportal.urls.api_v1`` without a row here fails
``test_matrix_covers_every_api_v1_endpoint_and_method``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from accounts.access import Principal
from accounts.models import Account, RateCounter, Role
from accounts.notify import webhook_endpoint_create
from accounts.people import invitation_create
from billing.ingestion import events_ingest, outcomes_settle
from billing.ledger.models import Charge
from billing.services import credit_note_issue, invoice_draft_refresh
from disputes.services import dispute_file, dispute_resolve
from metering.models import Event
from metering.services import criteria_version_create
from outcomeportal.core.periods import period_at
from outcomeportal.urls import api_v1
from tests import factories
from tests.conftest import key_client

# Keys, plus "session_b": a viewer of B signed in to the portal, calling the API with its session.
PRINCIPALS = ("vendor", "admin_a", "finance_a", "viewer_a", "admin_b", "finance_b", "session_b")
OWN_ACCOUNT = {
    "admin_a": "acme",
    "finance_a": "acme",
    "viewer_a": "acme",
    "admin_b": "globex",
    "finance_b": "globex",
    "session_b": "globex",
}
NAMES = {"acme": "Acme Support", "globex": "Globex"}
OTHER = {"acme": "globex", "globex": "acme"}
EVERYONE = frozenset(PRINCIPALS)
VENDOR = frozenset({"vendor"})
FINANCE = frozenset({"vendor", "finance_a", "finance_b"})  # spend controls: the vendor or a finance admin
PEOPLE = frozenset({"vendor", "admin_a", "admin_b"})  # an account's people: the vendor or a customer admin
PROJECT_APPS = ("accounts", "metering", "billing", "disputes")
WEBHOOK_URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS lookup in the tests
UNAUTHENTICATED = {"error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}}


def forbidden(perm: str) -> dict:
    return {"error": {"code": "permission_denied", "message": f"This key or user is not allowed to do this ({perm})."}}


# --- The world: two accounts with events, criteria overrides and one key per principal -------


@dataclass
class World:
    clients: dict[str, Client]
    now: object
    invoice: dict[str, int]  # account → the id of its (draft) invoice with a billed line
    line: dict[str, int]  # account → that line's id
    dispute: dict[str, int] = field(default_factory=dict)  # account → a resolved (rejected) dispute of inv-*
    webhook: dict[str, int] = field(default_factory=dict)  # account → its webhook endpoint
    user: dict[str, int] = field(default_factory=dict)  # account → a viewer of it
    invitation: dict[str, int] = field(default_factory=dict)  # account → an open invitation to it


def _event(account: str, event_id: str, at, **extra) -> dict:
    return {
        "event_id": event_id,
        "account": account,
        "outcome_type": "resolved_conversation",
        "occurred_at": at.isoformat(),
        "success_criteria_met": True,
        "cost_amount": "0.10",
        **extra,
    }


SEEDED_EVENTS = {
    "acme": {"evt-acme-1", "evt-acme-2", "shared-1", "inv-acme-1"},
    "globex": {"evt-globex-1", "shared-1", "inv-globex-1"},
}


def _seed(now, accounts: dict[str, Account]) -> tuple[dict[str, int], dict[str, int]]:
    """Events of both accounts (pending ones, and billed ones on a draft invoice), and a credit note each."""
    recent, settled = now - timedelta(hours=1), now - timedelta(days=3)
    result = events_ingest(
        raw_events=[
            _event("acme", "evt-acme-1", recent, session_id="s-1"),
            _event("acme", "evt-acme-2", recent, sandbox=True),
            _event("acme", "shared-1", recent),  # the same event_id in both accounts
            _event("acme", "inv-acme-1", settled),
            _event("globex", "evt-globex-1", recent, session_id="s-1"),
            _event("globex", "shared-1", recent),
            _event("globex", "inv-globex-1", settled),
        ]
    )
    assert (result.accepted, result.rejected) == (7, 0), result.results
    outcomes_settle(now=now)
    # The inv-* events' windows (24 h for acme, 48 h for globex) have closed: billed, on the drafts below.
    assert sorted(Event.objects.filter(status="billable").values_list("event_id", flat=True)) == [
        "inv-acme-1",
        "inv-globex-1",
    ]
    invoices, lines = {}, {}
    for external_id, account in accounts.items():
        invoice = invoice_draft_refresh(account=account, period=period_at(settled, account.timezone), now=now)
        (line,) = [ln for ln in invoice.lines.all() if ln.alloc]
        invoices[external_id], lines[external_id] = invoice.pk, line.pk
        credit_note_issue(account=account, amount=Decimal("1.00"), reason=f"goodwill for {external_id}")
    return invoices, lines


def _seed_disputes(accounts: dict[str, Account]) -> dict[str, int]:
    """disputes: each account's customer admin disputes inv-<acct>-1 and support rejects it, so the
    dispute can be read, resolving it again is refused (409), and the event can be disputed anew."""
    support = Principal(role=Role.VENDOR_SUPPORT, account_id=None, label="support")
    disputes = {}
    for external_id, account in accounts.items():
        admin = Principal(role=Role.CUSTOMER_ADMIN, account_id=account.pk, label="customer admin")
        dispute = dispute_file(
            principal=admin, account=account, reason_code="not_resolved", message="Reopened the next day.",
            event_ids=[f"inv-{external_id}-1"],
        )  # fmt: skip
        dispute_resolve(principal=support, dispute=dispute, decision="rejected", note="Confirmed by the customer.")
        disputes[external_id] = dispute.pk
    return disputes


def _build_world() -> World:
    outcome_type = factories.make_outcome_type()
    account_a = factories.make_account("acme", name=NAMES["acme"])
    account_b = factories.make_account("globex", name=NAMES["globex"])
    criteria_version_create(outcome_type=outcome_type, account=account_a, measurement_window_hours=24)
    criteria_version_create(outcome_type=outcome_type, account=account_b, measurement_window_hours=48)
    now = timezone.now()
    invoices, lines = _seed(now, {"acme": account_a, "globex": account_b})
    clients = {
        "vendor": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"),
        "admin_a": key_client(account_a, Role.CUSTOMER_ADMIN),
        "finance_a": key_client(account_a, Role.FINANCE_ADMIN),
        "viewer_a": key_client(account_a, Role.VIEWER),
        "admin_b": key_client(account_b, Role.CUSTOMER_ADMIN),
        "finance_b": key_client(account_b, Role.FINANCE_ADMIN),
        "session_b": Client(),
    }
    clients["session_b"].force_login(factories.make_user(Role.VIEWER, account_b, username="viewer-of-globex"))
    disputes = _seed_disputes({"acme": account_a, "globex": account_b})
    webhooks = {
        external_id: webhook_endpoint_create(account=account, url=f"{WEBHOOK_URL}/{external_id}").pk
        for external_id, account in (("acme", account_a), ("globex", account_b))
    }
    users = {
        "acme": factories.make_user(Role.VIEWER, account_a, username="ann").pk,
        "globex": factories.make_user(Role.VIEWER, account_b, username="gus").pk,
    }
    invitations = {
        external_id: invitation_create(
            actor=None, actor_name="setup", account=account, email=f"pat@{external_id[0]}.example", role="viewer",
            base_url="http://testserver",
        ).pk
        for external_id, account in (("acme", account_a), ("globex", account_b))
    }  # fmt: skip
    return World(
        clients=clients, now=now, invoice=invoices, line=lines, dispute=disputes, webhook=webhooks, user=users,
        invitation=invitations,
    )  # fmt: skip


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """The world is built once for the module, in a transaction rolled back at its end.

    Each test runs inside it in its own savepoint (pytest-django's ``db``), so whatever a
    test writes is undone before the next one: ~270 tests share one setup.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(_module_world, db, settings) -> World:
    # The payment webhooks are configured (and the matrix's requests unsigned).
    settings.PAYMENT_WEBHOOK_SECRET = settings.STRIPE_WEBHOOK_SECRET = "whsec-tenancy"
    return _module_world


def db_snapshot() -> tuple:
    """Row counts of every project model (one query), plus the rows a write could change in place.

    Rate counters are left out: every request counts against its key's limit, refused or not.
    """
    models = [
        m
        for app in PROJECT_APPS
        for m in apps.get_app_config(app).get_models()
        if m._meta.managed and m is not RateCounter
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            + ", ".join(f"(SELECT count(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in models)
        )
        counts = dict(zip([m._meta.label for m in models], cursor.fetchone(), strict=True))
    events = sorted(
        Event.objects.values_list("account__external_id", "event_id", "status", "non_billable_reason", "window_ends_at")
    )
    charges = sorted(Charge.objects.values_list("event_id", "state", "reason", "amount", "invoice_line_id"))
    accounts = sorted(
        Account.objects.values_list(
            "external_id", "name", "currency", "timezone", "billing_name", "billing_country", "billing_emails"
        )
    )
    return counts, events, charges, accounts


# --- Checks of successful answers ------------------------------------------------------------


def visible_accounts(principal: str, target: str | None = None) -> set[str]:
    if principal == "vendor":
        return {target} if target else {"acme", "globex"}
    return {OWN_ACCOUNT[principal]}


def check_accounts_list(body: dict, principal: str, target: str | None) -> None:
    assert [a["external_id"] for a in body["results"]] == sorted(visible_accounts(principal))


def check_account(body: dict, principal: str, target: str | None) -> None:
    assert (body["external_id"], body["name"]) == (target, NAMES[target])


def check_billing_details(body: dict, principal: str, target: str | None) -> None:
    assert body["billing"] == {
        "billing_name": f"{target} Ltd",
        "billing_address": "",
        "billing_country": "DE",
        "tax_id": "",
        "billing_emails": [f"ap@{target}.example"],
    }
    assert Account.objects.get(external_id=target).billing_emails == [f"ap@{target}.example"]


def check_outcome_types(body: dict, principal: str, target: str | None) -> None:
    assert [t["code"] for t in body["results"]] == ["resolved_conversation"]
    # The vendor's delivery costs and margin floor: the vendor's alone.
    assert ("costs" in body["results"][0]) is ("margin_floor" in body["results"][0]) is (principal == "vendor")
    assert body["results"][0]["criteria"]["account"] is None  # the product definition, not an override


def check_outcome_type(body: dict, principal: str, target: str | None) -> None:
    assert (body["code"], body["criteria"]["rule_version"]) == ("resolved_conversation", "resolved_conversation v1")
    assert ("costs" in body) is ("margin_floor" in body) is (principal == "vendor")


def check_cost_added(body: dict, principal: str, target: str | None) -> None:
    assert body == {"complexity": "complex", "amount": "0.450000", "effective_from": "2026-01-01"}


def check_criteria(body: dict, principal: str, target: str | None) -> None:
    overrides = {c["account"] for c in body["results"]} - {None}
    assert overrides == visible_accounts(principal)
    assert sum(1 for c in body["results"] if c["account"] is None) == 1


def check_events(body: dict, principal: str, target: str | None) -> None:
    expected = {(a, e) for a in visible_accounts(principal, target) for e in SEEDED_EVENTS[a]}
    rows = body["results"]
    assert {(r["account"], r["event_id"]) for r in rows} == expected
    assert len(rows) == len(expected)
    assert body["next_cursor"] is None
    for row in rows:
        # The vendor's delivery cost is the vendor's alone.
        assert ("cost_amount" in row) is (principal == "vendor")
        if principal == "vendor":
            assert row["cost_amount"] == "0.100000"


def check_event(body: dict, principal: str, target: str | None) -> None:
    assert (body["account"], body["event_id"]) == (target, "shared-1")
    assert body["decision"]["rule_version"] == f"resolved_conversation {target} v1"
    assert ("cost_amount" in body) is (principal == "vendor")


def check_certificate(body: dict, principal: str, target: str | None) -> None:
    event = body["payload"]["event"]
    assert (event["account"], event["event_id"]) == (target, "shared-1")
    assert body["payload"]["decision"]["rule_version"] == f"resolved_conversation {target} v1"
    assert ("cost_amount" in event) is (principal == "vendor")


def check_signal(body: dict, principal: str, target: str | None) -> None:
    assert body["signal"]["type"] == "reopened"
    assert body["signal"]["effect"] == "applied"
    assert (body["event"]["account"], body["event"]["event_id"]) == (target, "shared-1")
    assert body["event"]["non_billable_reason"] == "reopened_in_window"


def check_contract(body: dict, principal: str, target: str | None) -> None:
    assert body["account"] == target


def check_invoices(body: dict, principal: str, target: str | None) -> None:
    assert {i["account"] for i in body["results"]} == visible_accounts(principal, target)


def check_invoice(body: dict, principal: str, target: str | None) -> None:
    assert body["account"] == target
    assert [line["outcome_type"] for line in body["lines"] if line["events_url"]] == ["resolved_conversation"]


def check_line_events(body: dict, principal: str, target: str | None) -> None:
    assert [(r["account"], r["event_id"]) for r in body["results"]] == [(target, f"inv-{target}-1")]
    assert ("cost_amount" in body["results"][0]) is (principal == "vendor")


def check_credit_notes(body: dict, principal: str, target: str | None) -> None:
    notes = {(n["account"], n["reason"]) for n in body["results"]}
    assert notes == {(a, f"goodwill for {a}") for a in visible_accounts(principal, target)}


def check_deliveries(body: dict, principal: str, target: str | None) -> None:
    assert body == {"results": []}  # the world's invoices are drafts: nothing sent yet


def check_invoice_not_final(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "invoice_not_final"


def check_payment_status_refused(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "payment_status_refused"


def check_window_open(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "window_open"


def check_topup_refused(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "topup_refused"


def check_invalid_signature(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "invalid_signature"


def check_status(body: dict, principal: str, target: str | None) -> None:
    assert set(body) >= {"paused", "reason", "period", "period_spend", "cap", "outcomes_this_period", "alerts_fired"}
    assert (body["paused"], body["cap"]) == (False, None)


def check_spend_controls(body: dict, principal: str, target: str | None) -> None:
    assert body == {
        "monthly_cap": None,
        "monthly_cap_outcomes": None,
        "alert_thresholds": [50, 80, 100],
        "at_cap": "pause",
    }


def check_spend_controls_set(body: dict, principal: str, target: str | None) -> None:
    assert body == {
        "monthly_cap": "500.00",
        "monthly_cap_outcomes": None,
        "alert_thresholds": [50, 80],
        "at_cap": "pause",
    }


def check_credits(body: dict, principal: str, target: str | None) -> None:
    # Neither account is on a credit contract in this world: a zero balance and an empty ledger.
    assert (body["account"], body["unit"], body["balance"], body["results"], body["next_cursor"]) == (
        target,
        "money",
        "0",
        [],
        None,
    )


def check_lifecycle(body: dict, principal: str, target: str | None) -> None:
    assert (body["account"], body["status"]) == (target, "suspended")
    assert [(c["status"], c["effective_at"]) for c in body["history"]] == [("suspended", "2026-01-01T00:00:00Z")]


def check_attainment(body: dict, principal: str, target: str | None) -> None:
    # The whole book by month: this month holds the seeded outcomes of both accounts.
    (row,) = [r for r in body["rows"] if r["period"] == body["period"]]
    assert (row["segment"], row["not_attempted"]["sandbox"]) == ({}, 1)


def check_margin(body: dict, principal: str, target: str | None) -> None:
    # Every event reported a cost of 0.10: acme's four (sandbox included) and globex's three (this
    # month and the one before: the settled events are three days old).
    costs: dict[str, Decimal] = {}
    for row in body["rows"]:
        costs[row["segment"]["account"]] = costs.get(row["segment"]["account"], Decimal(0)) + Decimal(row["cost"])
    assert costs == {"acme": Decimal("0.4"), "globex": Decimal("0.3")}


def check_revenue(body: dict, principal: str, target: str | None) -> None:
    # Both accounts' drafts of the month the billed events occurred in (an hour of rounding aside).
    assert (body["currency"], len(body["months"]), body["cohorts"]) == ("USD", 2, [])


def check_scenarios(body: dict, principal: str, target: str | None) -> None:
    # The whole book: both accounts (USD), three months projected from the closed months before this one.
    assert (body["accounts"], body["currencies"], len(body["projection"])) == (2, ["USD"], 3)
    assert body["params"] == {"threshold": "0.5000", "points_per_month": "0"}


PRICE_125 = {"outcome_type": "resolved_conversation", "model": "unit", "price": "1.25"}


def check_contract_preview(body: dict, principal: str, target: str | None) -> None:
    # The world's invoices are drafts: no closed month to reprice (tests/billing/test_whatif.py has them).
    assert (body["account"], body["months"], body["periods"], body["difference"]) == (target, 0, [], "0.00")


def check_webhooks(body: dict, principal: str, target: str | None) -> None:
    assert [w["url"] for w in body["results"]] == [f"{WEBHOOK_URL}/{target}"]
    assert all(("secret" in w) is (principal in FINANCE) for w in body["results"])  # the signing secret


def check_webhook_added(body: dict, principal: str, target: str | None) -> None:
    assert (body["url"], body["active"], len(body["secret"])) == (f"{WEBHOOK_URL}/{target}/new", True, 48)


PEOPLE_OF = {"acme": ["ann"], "globex": ["gus", "viewer-of-globex"]}


def check_users(body: dict, principal: str, target: str | None) -> None:
    assert [p["username"] for p in body["results"]] == PEOPLE_OF[target]
    assert {p["role"] for p in body["results"]} == {"viewer"}


def check_invited(body: dict, principal: str, target: str | None) -> None:
    invited = (body["email"], body["role"], body["status"], body["send_count"])
    assert invited == ("new@x.example", "viewer", "pending", 1)
    assert body["invited_by"] is None  # a key invited


def check_user_changed(body: dict, principal: str, target: str | None) -> None:
    assert (body["username"], body["role"], body["active"]) == (PEOPLE_OF[target][0], "finance_admin", True)


def check_invitations(body: dict, principal: str, target: str | None) -> None:
    assert [(i["email"], i["status"]) for i in body["results"]] == [(f"pat@{target[0]}.example", "pending")]


def check_resent(body: dict, principal: str, target: str | None) -> None:
    assert (body["email"], body["send_count"]) == (f"pat@{target[0]}.example", 2)


def check_disputes(body: dict, principal: str, target: str | None) -> None:
    rows = {(d["account"], d["status"], tuple(d["event_ids"])) for d in body["results"]}
    assert rows == {(a, "rejected", (f"inv-{a}-1",)) for a in visible_accounts(principal, target)}


def check_dispute(body: dict, principal: str, target: str | None) -> None:
    assert (body["account"], body["status"], body["event_ids"]) == (target, "rejected", [f"inv-{target}-1"])
    assert (body["resolution_note"], body["credited_amount"]) == ("Confirmed by the customer.", "0.00")


def check_dispute_filed(body: dict, principal: str, target: str | None) -> None:
    assert (body["account"], body["status"], body["event_ids"]) == (target, "open", [f"inv-{target}-1"])
    assert (body["reason_code"], body["credited_amount"]) == ("duplicate", None)


def check_dispute_not_open(body: dict, principal: str, target: str | None) -> None:
    assert body["error"]["code"] == "dispute_not_open"


# --- The matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    url_name: str
    method: str
    path: str  # "{acct}" is the target account's external_id
    allowed: frozenset[str]  # who holds the right to call it at all
    perm: str  # named in the 403 body
    ok: int = 200
    tenant: bool = False  # the path or query names an account: another account's → 404
    body: Callable[[object], object] | None = None  # now → JSON body
    check: Callable[[dict, str, str | None], None] | None = None
    creates: dict[str, int] = field(default_factory=dict)  # model label → rows a successful call adds
    missing_path: str | None = None  # an object that does not exist: the 404 must look the same
    variant: str = ""
    public: bool = False  # authenticated by something other than a key (a signature): no 401 without one


def _new_event(now) -> dict:
    return {
        "events": [
            {
                "event_id": "evt-new",
                "account": "acme",
                "outcome_type": "resolved_conversation",
                "occurred_at": (now - timedelta(minutes=5)).isoformat(),
                "success_criteria_met": True,
            }
        ]
    }


def check_ledger_verified(body, principal, target):
    assert body["ok"] is True and body["problems"] == [], body
    assert body["checked"]["accounts"] == 2


CASES = [
    Case("accounts", "GET", "/api/v1/accounts", EVERYONE, "", check=check_accounts_list),
    Case(
        "accounts",
        "POST",
        "/api/v1/accounts",
        VENDOR,
        "accounts.manage",
        ok=201,
        body=lambda now: {"external_id": "newco", "name": "NewCo"},
        creates={"accounts.Account": 1},
    ),
    Case(
        "account",
        "GET",
        "/api/v1/accounts/{acct}",
        EVERYONE,
        "",
        tenant=True,
        check=check_account,
        missing_path="/api/v1/accounts/no-such-account",
    ),
    # The buyer on the account's invoices: the vendor, or the account's own customer admin.
    Case(
        "account",
        "PATCH",
        "/api/v1/accounts/{acct}",
        frozenset({"vendor", "admin_a", "admin_b"}),
        "billing_details.write",
        tenant=True,
        body=lambda now: {
            "billing_name": "{acct} Ltd",
            "billing_country": "de",
            "billing_emails": ["ap@{acct}.example"],
        },
        check=check_billing_details,
        missing_path="/api/v1/accounts/no-such-account",
    ),
    Case("outcome-types", "GET", "/api/v1/outcome-types", EVERYONE, "events.read", check=check_outcome_types),
    Case(
        "outcome-types",
        "POST",
        "/api/v1/outcome-types",
        VENDOR,
        "catalogue.manage",
        ok=201,
        body=lambda now: {"code": "qualified_lead", "name": "Qualified lead", "unit_price": "5.00"},
        creates={"metering.OutcomeType": 1, "metering.SuccessCriteria": 1},
    ),
    Case(
        "outcome-type",
        "GET",
        "/api/v1/outcome-types/resolved_conversation",
        EVERYONE,
        "events.read",
        check=check_outcome_type,
    ),
    Case(
        "outcome-type-costs",
        "POST",
        "/api/v1/outcome-types/resolved_conversation/costs",
        VENDOR,
        "catalogue.manage",
        ok=201,
        body=lambda now: {"complexity": "complex", "amount": "0.45", "effective_from": "2026-01-01"},
        check=check_cost_added,
        creates={"metering.OutcomeCost": 1},
    ),
    Case(
        "outcome-type-criteria",
        "GET",
        "/api/v1/outcome-types/resolved_conversation/criteria",
        EVERYONE,
        "events.read",
        check=check_criteria,
    ),
    Case(
        "outcome-type-criteria",
        "POST",
        "/api/v1/outcome-types/resolved_conversation/criteria",
        VENDOR,
        "catalogue.manage",
        ok=201,
        body=lambda now: {"measurement_window_hours": 12},
        creates={"metering.SuccessCriteria": 1},
    ),
    Case(
        "outcome-type-criteria",
        "POST",
        "/api/v1/outcome-types/resolved_conversation/criteria",
        VENDOR,
        "catalogue.manage",
        ok=201,
        tenant=True,
        body=lambda now: {"account": "{acct}", "measurement_window_hours": 6},
        creates={"metering.SuccessCriteria": 1},
        variant="override",
    ),
    Case("events", "GET", "/api/v1/events", EVERYONE, "events.read", check=check_events),
    Case(
        "events",
        "GET",
        "/api/v1/events?account={acct}",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_events,
        missing_path="/api/v1/events?account=no-such-account",
        variant="account filter",
    ),
    Case(
        "events",
        "POST",
        "/api/v1/events",
        VENDOR,
        "events.write",
        body=_new_event,
        creates={"metering.Event": 1},
    ),
    Case(
        "event",
        "GET",
        "/api/v1/events/{acct}/shared-1",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_event,
        missing_path="/api/v1/events/{acct}/no-such-event",
    ),
    Case(
        "event-certificate",
        "GET",
        "/api/v1/events/{acct}/shared-1/certificate",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_certificate,
        missing_path="/api/v1/events/{acct}/no-such-event/certificate",
    ),
    Case(
        "event-signals",
        "POST",
        "/api/v1/events/{acct}/shared-1/signals",
        VENDOR,
        "events.write",
        ok=201,
        tenant=True,
        body=lambda now: {"type": "reopened", "occurred_at": (now - timedelta(minutes=30)).isoformat()},
        check=check_signal,
        creates={"metering.Signal": 1},
        missing_path="/api/v1/events/{acct}/no-such-event/signals",
    ),
    # A deduction after the window: the world's outcomes are still in their window, so the vendor's call
    # is refused after the lookup (409 window_open); who reaches the lookup is what matters here.
    Case(
        "event-deductions",
        "POST",
        "/api/v1/events/{acct}/shared-1/deductions",
        VENDOR,
        "invoices.correct",
        ok=409,
        tenant=True,
        body=lambda now: {"reason": "Came back", "reported_at": (now - timedelta(minutes=30)).isoformat()},
        check=check_window_open,
        missing_path="/api/v1/events/{acct}/no-such-event/deductions",
    ),
    # --- accounts: the lifecycle (the vendor alone) ---
    Case(
        "account-lifecycle",
        "PUT",
        "/api/v1/accounts/{acct}/lifecycle",
        VENDOR,
        "accounts.manage",
        tenant=True,
        body=lambda now: {"status": "suspended", "effective_at": "2026-01-01T00:00:00Z"},
        check=check_lifecycle,
        creates={"accounts.AccountLifecycleChange": 1},
        missing_path="/api/v1/accounts/no-such-account/lifecycle",
    ),
    # --- accounts: webhook endpoints (everyone of the account reads; finance admins and the vendor change) ---
    Case(
        "account-webhooks",
        "GET",
        "/api/v1/accounts/{acct}/webhooks",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_webhooks,
        missing_path="/api/v1/accounts/no-such-account/webhooks",
    ),
    Case(
        "account-webhooks",
        "POST",
        "/api/v1/accounts/{acct}/webhooks",
        FINANCE,
        "spend_controls.write",
        ok=201,
        tenant=True,
        body=lambda now: {"url": f"{WEBHOOK_URL}/{{acct}}/new"},
        check=check_webhook_added,
        creates={"accounts.WebhookEndpoint": 1},
        missing_path="/api/v1/accounts/no-such-account/webhooks",
    ),
    Case(
        "account-webhook",
        "DELETE",
        "/api/v1/accounts/{acct}/webhooks/{webhook}",
        FINANCE,
        "spend_controls.write",
        ok=204,
        tenant=True,
        creates={"accounts.WebhookEndpoint": -1},
        missing_path="/api/v1/accounts/{acct}/webhooks/999999999",
    ),
    # --- accounts: people and invitations (the vendor or a customer admin) ---
    Case(
        "account-users",
        "GET",
        "/api/v1/accounts/{acct}/users",
        PEOPLE,
        "people.manage",
        tenant=True,
        check=check_users,
        missing_path="/api/v1/accounts/no-such-account/users",
    ),
    Case(
        "account-users",
        "POST",
        "/api/v1/accounts/{acct}/users",
        PEOPLE,
        "people.manage",
        ok=201,
        tenant=True,
        body=lambda now: {"email": "new@x.example", "role": "viewer"},
        check=check_invited,
        creates={"accounts.Invitation": 1, "accounts.PeopleChange": 1},
        missing_path="/api/v1/accounts/no-such-account/users",
    ),
    Case(
        "account-user",
        "PATCH",
        "/api/v1/accounts/{acct}/users/{user}",
        PEOPLE,
        "people.manage",
        tenant=True,
        body=lambda now: {"role": "finance_admin"},
        check=check_user_changed,
        creates={"accounts.PeopleChange": 1},
        missing_path="/api/v1/accounts/{acct}/users/999999999",
    ),
    Case(
        "account-invitations",
        "GET",
        "/api/v1/accounts/{acct}/invitations",
        PEOPLE,
        "people.manage",
        tenant=True,
        check=check_invitations,
        missing_path="/api/v1/accounts/no-such-account/invitations",
    ),
    Case(
        "account-invitation",
        "DELETE",
        "/api/v1/accounts/{acct}/invitations/{invitation}",
        PEOPLE,
        "people.manage",
        ok=204,
        tenant=True,
        creates={"accounts.PeopleChange": 1},
        missing_path="/api/v1/accounts/{acct}/invitations/999999999",
    ),
    Case(
        "account-invitation-resend",
        "POST",
        "/api/v1/accounts/{acct}/invitations/{invitation}/resend",
        PEOPLE,
        "people.manage",
        tenant=True,
        check=check_resent,
        creates={"accounts.PeopleChange": 1},
        missing_path="/api/v1/accounts/{acct}/invitations/999999999/resend",
    ),
    # --- billing: contracts, invoices, credit notes ---
    Case(
        "account-contract",
        "GET",
        "/api/v1/accounts/{acct}/contract",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_contract,
        missing_path="/api/v1/accounts/no-such-account/contract",
    ),
    Case(
        "account-contract",
        "PUT",
        "/api/v1/accounts/{acct}/contract",
        VENDOR,
        "catalogue.manage",
        ok=201,
        tenant=True,
        body=lambda now: {
            "effective_from": "2026-01-01",
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
        },
        check=check_contract,
        creates={"billing.ContractVersion": 1},
        missing_path="/api/v1/accounts/no-such-account/contract",
    ),
    Case("invoices", "GET", "/api/v1/invoices", EVERYONE, "invoices.read", check=check_invoices),
    Case(
        "invoices",
        "GET",
        "/api/v1/invoices?account={acct}",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_invoices,
        missing_path="/api/v1/invoices?account=no-such-account",
        variant="account filter",
    ),
    Case(
        "invoice",
        "GET",
        "/api/v1/invoices/{invoice}",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_invoice,
        missing_path="/api/v1/invoices/999999999",
    ),
    Case(
        "invoice-line-events",
        "GET",
        "/api/v1/invoices/{invoice}/lines/{line}/events",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_line_events,
        missing_path="/api/v1/invoices/999999999/lines/{line}/events",
    ),
    Case("credit-notes", "GET", "/api/v1/credit-notes", EVERYONE, "invoices.read", check=check_credit_notes),
    Case(
        "credit-notes",
        "GET",
        "/api/v1/credit-notes?account={acct}",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_credit_notes,
        missing_path="/api/v1/credit-notes?account=no-such-account",
        variant="account filter",
    ),
    # --- billing: payments and write-offs (the vendor's); the world's invoices are drafts, so the vendor's
    # own call is refused with 409 after the lookup — what matters here is who reaches the lookup at all ---
    Case(
        "invoice-payments",
        "POST",
        "/api/v1/invoices/{invoice}/payments",
        VENDOR,
        "receivables.manage",
        ok=409,
        tenant=True,
        body=lambda now: {"amount": "1.00", "paid_at": now.isoformat(), "reference": "BANK-1"},
        check=check_invoice_not_final,
        missing_path="/api/v1/invoices/999999999/payments",
    ),
    Case(
        "invoice-uncollectible",
        "POST",
        "/api/v1/invoices/{invoice}/uncollectible",
        VENDOR,
        "receivables.manage",
        ok=409,
        tenant=True,
        body=lambda now: {"reason": "Gone"},
        check=check_payment_status_refused,
        missing_path="/api/v1/invoices/999999999/uncollectible",
    ),
    # Corrections (the vendor's): a credit note on a draft is refused after the lookup, as payments are.
    Case(
        "invoice-credit-notes",
        "POST",
        "/api/v1/invoices/{invoice}/credit-notes",
        VENDOR,
        "invoices.correct",
        ok=409,
        tenant=True,
        body=lambda now: {"amount": "1.00", "reason": "Goodwill"},
        check=check_invoice_not_final,
        missing_path="/api/v1/invoices/999999999/credit-notes",
    ),
    # Void and reissue (the vendor's): the world's invoices are drafts, so voiding is refused after the lookup.
    Case(
        "invoice-void",
        "POST",
        "/api/v1/invoices/{invoice}/void",
        VENDOR,
        "invoices.correct",
        ok=409,
        tenant=True,
        body=lambda now: {"reason": "Issued to the wrong entity"},
        check=check_invoice_not_final,
        missing_path="/api/v1/invoices/999999999/void",
    ),
    # A processor's webhook takes no key: its HMAC signature is its authentication (none here: 400).
    Case(
        "payments-webhook",
        "POST",
        "/api/v1/payments/webhook",
        EVERYONE,
        "",
        ok=400,
        body=lambda now: {"id": "evt_1", "type": "invoice.paid", "data": {"invoice_number": "INV-000001"}},
        check=check_invalid_signature,
        public=True,
    ),
    Case(
        "payments-stripe",
        "POST",
        "/api/v1/payments/stripe",
        EVERYONE,
        "",
        ok=400,
        body=lambda now: {"id": "evt_1", "type": "invoice.paid", "data": {"object": {}}},
        check=check_invalid_signature,
        public=True,
    ),
    # --- billing: the delivery log (emails and webhooks of invoices and credit notes) is the vendor's ---
    Case("deliveries", "GET", "/api/v1/deliveries", VENDOR, "accounts.all", check=check_deliveries),
    Case(
        "deliveries",
        "GET",
        "/api/v1/deliveries?invoice={invoice}",
        VENDOR,
        "accounts.all",
        tenant=True,
        check=check_deliveries,
        missing_path="/api/v1/deliveries?invoice=999999999",
        variant="invoice filter",
    ),
    # --- billing: spend controls and the account status ---
    Case(
        "account-status",
        "GET",
        "/api/v1/accounts/{acct}/status",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_status,
        missing_path="/api/v1/accounts/no-such-account/status",
    ),
    Case(
        "spend-controls",
        "GET",
        "/api/v1/accounts/{acct}/spend-controls",
        EVERYONE,
        "events.read",
        tenant=True,
        check=check_spend_controls,
        missing_path="/api/v1/accounts/no-such-account/spend-controls",
    ),
    Case(
        "spend-controls",
        "PUT",
        "/api/v1/accounts/{acct}/spend-controls",
        FINANCE,
        "spend_controls.write",
        tenant=True,
        body=lambda now: {"monthly_cap": "500.00", "alert_thresholds": [80, 50], "at_cap": "pause"},
        check=check_spend_controls_set,
        creates={"billing.SpendControl": 1, "billing.SpendControlChange": 1},
        missing_path="/api/v1/accounts/no-such-account/spend-controls",
    ),
    # --- billing: the prepaid credit balance and its ledger ---
    Case(
        "account-credits",
        "GET",
        "/api/v1/accounts/{acct}/credits",
        EVERYONE,
        "invoices.read",
        tenant=True,
        check=check_credits,
        missing_path="/api/v1/accounts/no-such-account/credits",
    ),
    # A top-up: the world's contracts are priced in money, so the vendor's call is refused after the lookup.
    Case(
        "account-topups",
        "POST",
        "/api/v1/accounts/{acct}/topups",
        VENDOR,
        "invoices.correct",
        ok=409,
        tenant=True,
        body=lambda now: {"pack": "500"},
        check=check_topup_refused,
        missing_path="/api/v1/accounts/no-such-account/topups",
    ),
    # --- finance: the vendor's figures (finance.read) ---
    Case(
        "finance-attainment",
        "GET",
        f"/api/v1/finance/attainment?months=1&period={period_at(timezone.now(), 'UTC')}",
        VENDOR,
        "finance.read",
        check=check_attainment,
    ),
    Case(
        "finance-margin",
        "GET",
        f"/api/v1/finance/margin?period={period_at(timezone.now(), 'UTC')}&months=2&group_by=account",
        VENDOR,
        "finance.read",
        check=check_margin,
    ),
    Case("finance-revenue", "GET", "/api/v1/finance/revenue?months=2", VENDOR, "finance.read", check=check_revenue),
    Case(
        "finance-scenarios",
        "POST",
        "/api/v1/finance/scenarios",
        VENDOR,
        "finance.read",
        body=lambda now: {"scope": {}, "scenario": "churn", "months": 3, "params": {"threshold": "0.5000"}},
        check=check_scenarios,
    ),
    Case(
        "account-contract-preview",
        "POST",
        "/api/v1/accounts/{acct}/contract/preview",
        VENDOR,
        "finance.read",
        tenant=True,
        body=lambda now: {"contract": {"prices": [PRICE_125]}, "months": 3},
        check=check_contract_preview,
        missing_path="/api/v1/accounts/no-such-account/contract/preview",
    ),
    # --- disputes: customer admins file (and the vendor on their behalf); everyone reads; support resolves ---
    Case("disputes", "GET", "/api/v1/disputes", EVERYONE, "disputes.read", check=check_disputes),
    Case(
        "disputes",
        "GET",
        "/api/v1/disputes?account={acct}",
        EVERYONE,
        "disputes.read",
        tenant=True,
        check=check_disputes,
        missing_path="/api/v1/disputes?account=no-such-account",
        variant="account filter",
    ),
    Case(
        "disputes",
        "POST",
        "/api/v1/disputes",
        frozenset({"vendor", "admin_a", "admin_b"}),
        "disputes.file",
        ok=201,
        tenant=True,
        body=lambda now: {
            "account": "{acct}",
            "event_ids": ["inv-{acct}-1"],
            "reason_code": "duplicate",
            "message": "Counted twice.",
        },
        check=check_dispute_filed,
        creates={"disputes.Dispute": 1, "disputes.DisputeItem": 1, "disputes.DisputeHistory": 1},
        missing_path="/api/v1/disputes",
    ),
    Case(
        "dispute",
        "GET",
        "/api/v1/disputes/{dispute}",
        EVERYONE,
        "disputes.read",
        tenant=True,
        check=check_dispute,
        missing_path="/api/v1/disputes/999999999",
    ),
    Case(
        "dispute-resolve",
        "POST",
        "/api/v1/disputes/{dispute}/resolve",
        VENDOR,
        "disputes.resolve",
        ok=409,  # the seeded dispute is resolved already: the vendor reaches it, resolving it twice is refused
        tenant=True,
        body=lambda now: {"decision": "approved", "note": "Agreed."},
        check=check_dispute_not_open,
        missing_path="/api/v1/disputes/999999999/resolve",
    ),
    # --- billing: the money log, verified — the vendor only (no account's data in the answer) ---
    Case("ledger-verify", "GET", "/api/v1/ledger/verify", VENDOR, "ledger.verify", check=check_ledger_verified),
]


def case_id(case: Case) -> str:
    return f"{case.method} {case.url_name}" + (f" ({case.variant})" if case.variant else "")


def api_v1_views():
    """(url name, view class) of every endpoint in api_v1, includes flattened."""

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern.name, getattr(pattern.callback, "cls", None)

    return list(walk(api_v1))


def test_matrix_covers_every_api_v1_endpoint_and_method():
    endpoints = set()
    for name, view_class in api_v1_views():
        assert view_class is not None, f"{name}: not a DRF view; give it a matrix row by hand"
        methods = set(view_class().allowed_methods) - {"OPTIONS", "HEAD"}
        endpoints |= {(name, method) for method in methods}
    covered = {(case.url_name, case.method) for case in CASES}
    assert covered == endpoints, (
        f"missing from the tenancy matrix: {sorted(endpoints - covered)}; stale rows: {sorted(covered - endpoints)}"
    )


def test_every_case_resolves_to_its_endpoint():
    for case in CASES:
        path = case.path.format(acct="acme", invoice=1, line=2, dispute=3, webhook=4, user=5, invitation=6)
        match = resolve(path.split("?")[0])
        assert match.url_name == case.url_name, case
        assert match.namespace == "api"


def _params():
    for case in CASES:
        for principal in PRINCIPALS:
            for target in ("acme", "globex") if case.tenant else (None,):
                suffix = f"-{target}" if target else ""
                yield pytest.param(case, principal, target, id=f"{case_id(case)}-{principal}{suffix}")


def expected_status(case: Case, principal: str, target: str | None) -> int:
    if principal not in case.allowed:
        return 403  # no right at all: refused before any lookup, whichever account is named
    if case.tenant and principal != "vendor" and OWN_ACCOUNT[principal] != target:
        return 404
    return case.ok


def path_of(template: str, world: World, target: str | None) -> str:
    if target is None:
        return template
    return template.format(
        acct=target,
        invoice=world.invoice[target],
        line=world.line[target],
        dispute=world.dispute[target],
        webhook=world.webhook[target],
        user=world.user[target],
        invitation=world.invitation[target],
    )


def send(client: Client, case: Case, path: str, world: World, target: str | None):
    if case.method == "GET":
        return client.get(path)
    body = json.dumps(case.body(world.now)).replace("{acct}", target or "") if case.body else ""
    return client.generic(case.method, path, body, content_type="application/json")


@pytest.mark.parametrize(("case", "principal", "target"), list(_params()))
def test_matrix(world, case, principal, target):
    client = world.clients[principal]
    path = path_of(case.path, world, target)
    before = db_snapshot()

    response = send(client, case, path, world, target)

    status = expected_status(case, principal, target)
    assert response.status_code == status, response.content
    body = response.json() if status != 204 else None
    if principal != "vendor":
        # Never a word of the other account: not its id, name or events.
        other = OTHER[OWN_ACCOUNT[principal]]
        assert other.encode() not in response.content
        assert NAMES[other].encode() not in response.content
    if status in (403, 404):
        assert db_snapshot() == before, "a refused request changed the database"
    if status == 403:
        assert body == forbidden(case.perm)
    elif status == 404:
        # The same request about an object that does not exist (a body naming an account names a missing one).
        missing = send(client, case, path_of(case.missing_path, world, target), world, "no-such-account")
        assert missing.status_code == 404
        assert body == missing.json()
        assert set(body["error"]) == {"code", "message"}
        assert body["error"]["code"] == "not_found"
    else:
        if case.check:
            case.check(body, principal, target)
        counts_before, counts_after = before[0], db_snapshot()[0]
        for label, added in case.creates.items():
            assert counts_after[label] - counts_before[label] == added, label


@pytest.mark.parametrize("case", [c for c in CASES if not c.public], ids=case_id)
def test_no_key_is_401_and_changes_nothing(world, case):
    before = db_snapshot()
    response = send(Client(), case, path_of(case.path, world, "acme"), world, "acme")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert db_snapshot() == before


@pytest.mark.parametrize("principal", ["admin_a", "finance_a", "viewer_a"])
def test_account_key_cannot_post_events_for_its_own_or_another_account(world, principal):
    before = db_snapshot()
    for account in ("acme", "globex"):
        batch = _new_event(world.now)
        batch["events"][0]["account"] = account
        response = world.clients[principal].post("/api/v1/events", batch, content_type="application/json")
        assert response.status_code == 403
        assert response.json() == forbidden("events.write")
    assert db_snapshot() == before


@pytest.mark.parametrize("principal", ["admin_a", "viewer_a", "admin_b"])
def test_list_filters_cannot_reach_another_account(world, principal):
    other = OTHER[OWN_ACCOUNT[principal]]
    client = world.clients[principal]
    for query in (f"account={other}", f"account={other}&status=pending", f"account={other}&limit=500"):
        response = client.get(f"/api/v1/events?{query}")
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "No such account."}}
    # Paging through one's own events never crosses into the other account's.
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/v1/events?limit=1{cursor}").json()
        seen += [(r["account"], r["event_id"]) for r in page["results"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert {account for account, _ in seen} == {OWN_ACCOUNT[principal]}
    assert len(seen) == len(set(seen)) == len(SEEDED_EVENTS[OWN_ACCOUNT[principal]])


@pytest.mark.parametrize("principal", ["vendor", "admin_a", "admin_b"])
def test_an_invoice_line_of_another_invoice_is_404(world, principal):
    # Each account's own invoice, with the other account's line id.
    for account in ("acme", "globex"):
        if principal != "vendor" and OWN_ACCOUNT[principal] != account:
            continue
        path = f"/api/v1/invoices/{world.invoice[account]}/lines/{world.line[OTHER[account]]}/events"
        response = world.clients[principal].get(path)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "No such invoice line."}}


def test_every_test_left_the_shared_world_as_it_was(world):
    # Runs last: the writes of the tests above (vendor posts, signals, spend controls...) were rolled back.
    counts, events, _charges, accounts = db_snapshot()
    assert [a[0] for a in accounts] == ["acme", "globex"]
    assert len(events) == 7
    assert {e[1]: e[2] for e in events if e[0] == "acme"} == {
        "evt-acme-1": "pending",
        "evt-acme-2": "non_billable",
        "shared-1": "pending",
        "inv-acme-1": "billable",
    }
    assert (counts["metering.Signal"], counts["metering.OutcomeType"], counts["metering.SuccessCriteria"]) == (0, 1, 3)
    assert (counts["billing.SpendControl"], counts["billing.ContractVersion"], counts["billing.CreditNote"]) == (
        0,
        0,
        2,
    )
