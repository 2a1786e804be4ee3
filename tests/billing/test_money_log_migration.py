"""Migrations billing 0013 and disputes 0003 start the money log on an install that already holds money:
a genesis entry, then one per account with the state as found — and verify_ledger passes right after."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.access import Principal
from accounts.models import Role
from billing.ledger.models import Charge
from billing.moneylog import kinds
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.verify import ledger_verify
from billing.spend.services import spend_controls_set
from disputes.services import credits_issue, dispute_file, dispute_resolve
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize

BEFORE = [("billing", "0012_charges_confirmed_rated"), ("disputes", "0002_credits_back")]
JULY_6 = datetime(2026, 7, 6, tzinfo=UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    return list(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _principal(role: str, account=None) -> Principal:
    user = factories.make_user(role, account)
    return Principal(role=user.role, account_id=user.account_id, label=user.username, user_id=user.pk)


@pytest.mark.django_db(transaction=True)
def test_the_log_starts_with_the_state_as_found_and_verifies_right_after():
    factories.make_outcome_type()
    acme, globex = factories.make_account("acme"), factories.make_account("globex")
    for account in (acme, globex):
        contract(account, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
        post(account, 4)
    settle_and_finalize(acme)
    settle_and_finalize(globex)
    spend_controls_set(account=acme, monthly_cap=D("100"), monthly_cap_outcomes=None, alert_thresholds=[80],
                       at_cap="pause", changed_by="fin", now=AFTER_JUNE)  # fmt: skip
    admin, support = _principal(Role.CUSTOMER_ADMIN, acme), _principal(Role.VENDOR_SUPPORT)
    events = [f"e-resolved_conversation-06121000-{i}" for i in range(4)]
    credited = dispute_file(principal=admin, account=acme, reason_code="other", message="x", event_ids=events[:1],
                            now=JULY_6)  # fmt: skip
    dispute_resolve(principal=support, dispute=credited, decision="approved", now=JULY_6)
    credits_issue(now=JULY_6)
    dispute_file(principal=admin, account=acme, reason_code="other", message="y", event_ids=events[1:2], now=JULY_6)

    _migrate(BEFORE)  # an install from before the money log: the log's tables go
    _migrate(_latest())

    entries = list(MoneyLogEntry.objects.order_by("id"))
    assert [(e.kind, e.account_id) for e in entries] == [
        (kinds.GENESIS, None),
        (kinds.GENESIS, acme.pk),
        (kinds.GENESIS, globex.pk),
        (kinds.GENESIS, acme.pk),  # disputes 0003: acme's resolved and credited dispute
    ]
    assert {e.actor_label for e in entries} == {"migration billing.0013_money_log", "migration disputes.0003_money_log"}
    found = entries[1].data
    assert found["charges"] == {"currency": "USD", "count": 4, "amount": "3.960000", "credits": "0"}
    (invoiced,) = found["invoices"].values()
    assert (invoiced["count"], invoiced["amount"]) == (4, "3.960000")
    states = {Charge.objects.get(pk=pk).event.event_id: state for pk, state in found["charge_states"]}
    assert states == {events[0]: "credited", events[1]: "disputed"}
    assert set(found["tracked"]) == {"contract_version", "credit_note", "invoice", "spend_control_change"}
    assert set(entries[3].data["tracked"]) == {"dispute_resolution", "dispute_credit"}
    result = ledger_verify()
    assert result.ok, result.problems
    assert (result.invoices, result.charges, result.credit_notes) == (2, 8, 1)

    # From here on the genesis vouches for what it found.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute("UPDATE billing_charge SET amount = 0 WHERE account_id = %s AND state = 'invoiced'",
                           [acme.pk])  # fmt: skip
        finally:
            cursor.execute("SET session_replication_role = origin")
    first = ledger_verify().first
    assert (first.code, first.entry_id, first.entry_hash) == ("invoiced_charges_changed", entries[1].id,
                                                              entries[1].hash)  # fmt: skip
