"""Migration billing 0009 carries invoices finalized before it over to the invoice as a document:
issued when finalized, due net 30, open (or void), the buyer as the account is named; drafts stay drafts.
And the guard trigger it installs lets a final invoice's collection columns move, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from billing.invoices.models import Invoice

BEFORE = [("billing", "0008_charge_reason_account_inactive"), ("accounts", "0009_invitation_roles_with_vendor_finance")]
FINALIZED_AT = datetime(2026, 7, 1, 1, tzinfo=UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    return list(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _sql(query: str, params=()) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0] if cursor.description else None


def _old_invoice(account_id: int, period: str, status: str, number: str | None, total: str) -> int:
    start = datetime.fromisoformat(f"{period}-01T00:00:00+00:00")
    return _sql(
        "INSERT INTO billing_invoice (account_id, period, period_start, period_end, status, number, currency, "
        "subtotal, credits_applied, total, carry_in, carry_out, notes, refreshed_at, finalized_at, voided_at, "
        "void_reason) VALUES (%s, %s, %s, %s, %s, %s, 'USD', %s, 0, %s, '{}', '{}', '[]', %s, %s, %s, %s) RETURNING id",
        [account_id, period, start, start + timedelta(days=30), status, number, total, total, FINALIZED_AT,
         None if status == "draft" else FINALIZED_AT, FINALIZED_AT if status == "void" else None,
         "wrong entity" if status == "void" else ""],
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_final_invoices_become_documents_open_or_void():
    _migrate(BEFORE)
    vendor = _sql("INSERT INTO accounts_vendor (name, created_at) VALUES ('Eximius', now()) RETURNING id")
    account = _sql(
        "INSERT INTO accounts_account (vendor_id, external_id, name, currency, timezone, tier, industry, use_case, "
        "created_at) VALUES (%s, 'acme', 'Acme Support', 'USD', 'UTC', '', '', '', now()) RETURNING id",
        [vendor],
    )
    final = _old_invoice(account, "2026-06", "finalized", "INV-000001", "47.52")
    void = _old_invoice(account, "2026-05", "void", "INV-000000", "10.00")
    draft = _old_invoice(account, "2026-07", "draft", None, "3.00")

    _migrate(_latest())

    inv = Invoice.objects.get(pk=final)
    assert (inv.issued_at, inv.due_at, inv.payment_terms_days) == (FINALIZED_AT, FINALIZED_AT + timedelta(days=30), 30)
    assert (inv.payment_status, inv.amount_paid, inv.amount_due, inv.tax_amount) == ("open", D("0"), D("47.52"), D("0"))
    assert inv.buyer == {"name": "Acme Support", "address": "", "country": "", "tax_id": "", "emails": []}
    assert (Invoice.objects.get(pk=void).payment_status, Invoice.objects.get(pk=void).amount_due) == ("void", D("0"))
    assert (Invoice.objects.get(pk=draft).payment_status, Invoice.objects.get(pk=draft).issued_at) == (None, None)
    # The new guard: the collection columns move, the document does not.
    Invoice.objects.filter(pk=final).update(amount_paid=D("47.52"), payment_status="paid")
    with pytest.raises(DatabaseError, match="it can never change"), transaction.atomic():
        Invoice.objects.filter(pk=final).update(due_at=FINALIZED_AT)
    with pytest.raises(DatabaseError, match="void: it can never change"), transaction.atomic():
        Invoice.objects.filter(pk=void).update(amount_paid=D("1"))
