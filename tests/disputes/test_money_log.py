"""Disputes in the money log: filing, resolving and crediting are recorded; the resolution and the
credit can no longer change in SQL; what a superuser changes with the triggers off, verify names."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from billing.ledger.models import Charge
from billing.moneylog import kinds
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.services import moneylog_flush
from billing.moneylog.verify import ledger_verify
from disputes.models import Dispute, DisputeItem
from disputes.services import credits_issue, dispute_file, dispute_resolve
from tests.disputes.conftest import JULY_12, JULY_13


def _entries(*kinds_: str) -> list[MoneyLogEntry]:
    moneylog_flush()
    return list(MoneyLogEntry.objects.filter(kind__in=kinds_).order_by("id"))


def _sql(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture
def credited(world):
    """D1 (two invoiced June events) approved and credited by a credit note; D2 (one) rejected."""
    admin, support = world.principal("admin_a"), world.principal("support")
    d1 = dispute_file(principal=admin, account=world.a, reason_code="other", message="x", event_ids=["jun-0", "jun-1"],
                      now=JULY_12)  # fmt: skip
    d2 = dispute_file(principal=admin, account=world.a, reason_code="other", message="y", event_ids=["jun-2"],
                      now=JULY_12)  # fmt: skip
    dispute_resolve(principal=support, dispute=d1, decision="approved", now=JULY_12)
    dispute_resolve(principal=support, dispute=d2, decision="rejected", note="It stands.", now=JULY_12)
    credits_issue(now=JULY_13)
    return d1, d2


def test_filing_resolving_and_crediting_are_recorded_with_who_did_them(world, credited):
    d1, d2 = credited
    resolved = _entries(kinds.DISPUTE_RESOLVED)
    assert [(e.ref, e.actor_type, e.actor_label) for e in resolved] == [
        (f"dispute_resolution:{d1.pk}", "user", "sam"),
        (f"dispute_resolution:{d2.pk}", "user", "sam"),
    ]
    assert resolved[0].data["row"]["status"] == "approved"
    assert [i["decision"] for i in resolved[0].data["row"]["items"]] == ["approved", "approved"]
    moves = [(e.kind, e.data["event_ids"]) for e in _entries(*kinds.INVOICED_CHARGE_STATES)]
    ids = {c.event.event_id: c.pk for c in Charge.objects.select_related("event").filter(account=world.a)}
    assert moves == [
        (kinds.CHARGES_DISPUTED, [ids["jun-0"], ids["jun-1"]]),
        (kinds.CHARGES_DISPUTED, [ids["jun-2"]]),
        (kinds.CHARGES_DISPUTE_REJECTED, [ids["jun-2"]]),
        (kinds.CHARGES_CREDITED, [ids["jun-0"], ids["jun-1"]]),
    ]
    (credit,) = _entries(kinds.DISPUTE_CREDITED)
    assert (credit.ref, credit.data["row"]["credited_amount"]) == (f"dispute_credit:{d1.pk}", "1.9800")
    assert len(_entries(kinds.CREDIT_NOTE_ISSUED)) == 1
    assert ledger_verify().ok


REFUSED = {
    "change a resolution": "UPDATE disputes_dispute SET status = 'approved' WHERE status = 'rejected'",
    "rewrite the note the customer read": "UPDATE disputes_dispute SET resolution_note = 'other' "
    "WHERE status <> 'open'",
    "change a credit": "UPDATE disputes_dispute SET credited_amount = 100 WHERE credit_state = 'issued'",
    "delete a resolved dispute": "DELETE FROM disputes_dispute WHERE status <> 'open'",
    "change an item's decision": "UPDATE disputes_disputeitem SET decision = 'approved' WHERE decision = 'rejected'",
    "delete a decided item": "DELETE FROM disputes_disputeitem WHERE decision <> ''",
    "truncate the disputes": "TRUNCATE disputes_dispute CASCADE",
    "truncate the credit ledger": "TRUNCATE disputes_disputecredit",
    "truncate the audit trail": "TRUNCATE disputes_disputehistory",
    "put a credited charge back on the invoice": "UPDATE billing_charge SET state = 'invoiced' "
    "WHERE state = 'credited'",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_database_refuses_to_change_a_resolution_or_a_credit(credited, statement):
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # pending checks would stop the TRUNCATE first
    with pytest.raises(DatabaseError), transaction.atomic():
        _sql(statement)
    assert ledger_verify().ok


def test_an_open_dispute_still_changes_as_support_works_on_it(world):
    admin = world.principal("admin_a")
    dispute = dispute_file(principal=admin, account=world.a, reason_code="other", message="x", event_ids=["jun-3"],
                           now=JULY_12)  # fmt: skip
    Dispute.objects.filter(pk=dispute.pk).update(assignee=world.people["support"])
    assert DisputeItem.objects.filter(dispute=dispute, is_open=True).count() == 1


def test_a_resolution_changed_by_a_superuser_names_its_entry(credited):
    _, d2 = credited
    entry = _entries(kinds.DISPUTE_RESOLVED)[1]
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    _sql("SET LOCAL session_replication_role = replica")
    _sql(f"UPDATE disputes_dispute SET resolution_note = 'Approved after all.' WHERE id = {d2.pk}")
    _sql("SET LOCAL session_replication_role = origin")
    result = ledger_verify()
    assert (result.first.code, result.first.entry_id, result.first.entry_hash) == ("row_changed", entry.id, entry.hash)


def test_a_credited_charge_put_back_by_a_superuser_names_the_credit_move(credited, world):
    (move,) = _entries(kinds.CHARGES_CREDITED)
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    _sql("SET LOCAL session_replication_role = replica")
    _sql(f"UPDATE billing_charge SET state = 'invoiced' WHERE event_id = {move.data['event_ids'][0]}")
    _sql("SET LOCAL session_replication_role = origin")
    result = ledger_verify()
    assert (result.first.code, result.first.entry_id) == ("charge_state_changed", move.id)
