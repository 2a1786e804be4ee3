"""Migrations billing 0007 and metering 0013 carry an install's data over to the charge ledger.

Events are written as the old schema stored them (money, billing's statuses and reasons on the
event row), then migrated: every event that can cost money gets its charge with its amount, state,
reason, contract version and invoice line; the events keep metering's decision only; both rollups
match their rows; and settlement then rates what billing had ruled out while it was pending.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice, InvoiceLine
from billing.ledger.models import Charge
from metering.models import Event, PendingWindow
from tests import factories
from tests.billing.helpers import contract

BEFORE = [("metering", "0012_rollup_complexity_capped"), ("billing", "0006_spend_period_bound")]
NOW = datetime.now(UTC).replace(microsecond=0)
OLD_CHECKS_OK = "PPNPPNNPPPPPPP"  # fourteen checks, every one passed (n/a where no session / no methods)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes()]


def _old_event(account, criteria_id, type_id, event_id: str, *, status: str, reason: str = "", amount=None,
               line_id=None, state: str = "{}", checks: str = OLD_CHECKS_OK, at: datetime, window_hours: int = 72,
               handoff: bool = False, sandbox: bool = False, complexity: str = "") -> int:  # fmt: skip
    """An event row as the old schema stored it (money and billing's words on the event)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_event (account_id, event_id, outcome_type_id, occurred_at, success_criteria_met, "
            "human_handoff, channel, workflow, session_id, complexity, verification_method, source_url, sandbox, "
            "failure_reason, attributes, payload_hash, received_at, status, non_billable_reason, window_ends_at, "
            "criteria_id, checks, state, decided_at, settled_at, amount, currency, credits, invoice_line_id) "
            "VALUES (%s, %s, %s, %s, true, %s, 'chat', '', '', %s, '', '', %s, '', '{}', 'h', %s, %s, %s, %s, %s, %s, "
            "%s::jsonb, %s, %s, %s, 'USD', NULL, %s) RETURNING id",
            [account.pk, event_id, type_id, at, handoff, complexity, sandbox, at, status, reason,
             at + timedelta(hours=window_hours), criteria_id, checks, state, at,
             at if status == "billable" else None, amount, line_id],
        )  # fmt: skip
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_every_event_that_can_cost_money_gets_its_charge_and_the_events_keep_metering_decisions():
    outcome_type = factories.make_outcome_type()
    acme = factories.make_account("acme")
    version = contract(acme, effective_from="2026-01-01",
                       prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
                       platform_fee={"name": "Platform fee", "amount": "100.00", "included_outcomes": 1})  # fmt: skip
    criteria_id = outcome_type.criteria.get().pk
    draft = Invoice.objects.create(account=acme, period="2026-11", period_start=NOW, period_end=NOW, currency="USD",
                                   refreshed_at=NOW)  # fmt: skip
    included = InvoiceLine.objects.create(invoice=draft, account=acme, key="inc", position=1, kind="included",
                                          description="included", quantity=1, amount=0)  # fmt: skip
    charged = InvoiceLine.objects.create(invoice=draft, account=acme, key="out", position=2, kind="outcome",
                                         description="outcomes", quantity=1, amount=D("0.99"))  # fmt: skip
    _migrate(BEFORE)
    try:
        past, recent = NOW - timedelta(days=10), NOW - timedelta(hours=1)
        args = (acme, criteria_id, outcome_type.pk)
        ids = {
            "pending": _old_event(*args, "pending", status="pending", amount=D("0.99"), at=recent),
            "billable": _old_event(*args, "billable", status="billable", amount=D("0.99"), at=past),
            # the same day and decision as "billable", another complexity: one row once complexity leaves the key
            "billable-complex": _old_event(*args, "billable-complex", status="billable", amount=D("0.99"), at=past,
                                           complexity="complex"),
            "included": _old_event(*args, "included", status="invoiced", amount=D(0), line_id=included.pk, at=past),
            "credited": _old_event(*args, "credited", status="credited", amount=D("0.99"), line_id=charged.pk, at=past),
            "pilot": _old_event(*args, "pilot", status="non_billable", reason="pilot_free",
                                state='{"pilot_free": true}', checks="PPNPPNNPPPPFPP", at=past),
            "capped-handoff": _old_event(*args, "capped-handoff", status="non_billable", reason="human_handoff",
                                         state='{"cap_reached": true}', checks="PPFPPNNPPPPPFP", at=past,
                                         handoff=True),
            "sandbox": _old_event(*args, "sandbox", status="non_billable", reason="sandbox", checks="FPNPPNNPPPPPPP",
                                  at=past, sandbox=True),
        }  # fmt: skip
    finally:
        _migrate(_latest())

    charges = {c.event_id: c for c in Charge.objects.all()}
    seen = {name: (c.state, c.reason, c.amount, c.invoice_line_id, c.attempt)
            for name, pk in ids.items() if (c := charges.get(pk))}  # fmt: skip
    assert seen == {
        "pending": ("estimated", "", D("0.99"), None, False),
        "billable": ("rated", "", D("0.99"), None, False),
        "billable-complex": ("rated", "", D("0.99"), None, False),
        "included": ("invoiced", "included", D(0), included.pk, False),  # keeps its invoice
        "credited": ("credited", "", D("0.99"), charged.pk, False),
        "pilot": ("estimated", "pilot_free", None, None, False),
        "capped-handoff": ("rated", "cap_reached", None, None, True),
    }  # the sandbox event can cost nothing: no charge
    assert {c.contract_version_id for c in charges.values()} == {version.pk}
    assert {c.currency for c in charges.values()} == {"USD"}

    decided = {e.event_id: (e.status, e.non_billable_reason, len(e.checks), e.state) for e in Event.objects.all()}
    assert decided == {
        "pending": ("pending", "", 10, {}),
        "billable": ("billable", "", 10, {}),
        "billable-complex": ("billable", "", 10, {}),
        "included": ("billable", "", 10, {}),
        "credited": ("billable", "", 10, {}),
        "pilot": ("pending", "", 10, {}),  # metering's decision: it succeeded; settlement rates its charge
        "capped-handoff": ("non_billable", "human_handoff", 10, {}),
        "sandbox": ("non_billable", "sandbox", 10, {}),
    }
    assert PendingWindow.objects.filter(event_id=ids["pilot"]).exists()
    assert factories.rollups_match_rows()
    assert factories.event_seen("pilot").shown_status == "non_billable"
    assert factories.event_seen("pilot").shown_reason == "pilot_free"

    outcomes_settle(now=NOW)
    assert Charge.objects.get(event_id=ids["pilot"]).state == "rated"  # still free: its reason stays
    assert factories.event_seen("pilot").shown_reason == "pilot_free"
    assert factories.rollups_match_rows()
