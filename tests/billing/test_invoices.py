"""Invoices against PostgreSQL: billing events, drafts, late lines, onboarding, credit notes, immutability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.ingestion import outcomes_settle
from billing.invoices.corrections import CorrectionRefused, invoice_void
from billing.invoices.models import CreditNote, Invoice, InvoiceLine, NumberSeries
from billing.ledger.models import Charge
from billing.selectors import line_events
from billing.services import (
    CreditNoteRefused,
    InvoiceImmutable,
    credit_note_issue,
    invoice_draft_refresh,
    invoice_finalize,
    invoice_line_update,
)
from metering.models import Event
from tests import factories
from tests.billing.helpers import AFTER_JUNE, JUNE_12, contract, post, settle_and_finalize
from tests.faults import finalize_steps

RES = "resolved_conversation"


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def unit(p="0.99"):
    return [{"outcome_type": RES, "model": "unit", "price": p}]


def test_finalize_bills_each_event_on_its_line(acme):
    contract(acme, prices=unit())
    post(acme, 48)
    post(acme, 5, prefix="abandoned", failure_reason="abandoned")
    invoice = settle_and_finalize(acme)
    line = invoice.lines.get()
    assert (invoice.status, invoice.number, invoice.total) == ("finalized", "INV-000001", D("47.52"))
    billed = Charge.objects.filter(invoice_line_id=line.pk)
    assert billed.count() == 48
    assert set(billed.values_list("state", "amount", "event__status")) == {("invoiced", D("0.99"), "billable")}
    # A unit price charges no fee for attempts that did not succeed: they cannot cost money (no charge).
    assert Event.objects.filter(non_billable_reason="abandoned").count() == 5
    assert not Charge.objects.filter(event__non_billable_reason="abandoned").exists()
    assert len(line_events(invoice=invoice, line=line, limit=500)) == 48


def test_draft_follows_settlement(acme):
    contract(acme, prices=unit())
    post(acme, 48)
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(hours=2))
    assert (draft.status, draft.number, draft.total, draft.lines.count()) == ("draft", None, 0, 0)  # all pending
    outcomes_settle(now=JUNE_12 + timedelta(days=4))
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(days=4))
    assert draft.total == D("47.52")
    line = draft.lines.get()
    assert len(line_events(invoice=draft, line=line, limit=500)) == 48  # what finalizing would bill
    line_id = line.pk
    post(acme, 2, at=JUNE_12 + timedelta(days=1), prefix="more")
    outcomes_settle(now=JUNE_12 + timedelta(days=5))
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(days=5))
    assert (draft.total, draft.lines.get().pk) == (D("49.50"), line_id)  # same line, new quantity


def test_included_outcomes_are_the_earliest_events(acme):
    contract(acme, prices=unit("0.75"), platform_fee={"amount": "100.00", "included_outcomes": 10})
    post(acme, 13)
    invoice = settle_and_finalize(acme)
    _fee, included, overage = invoice.lines.order_by("position")
    assert invoice.total == D("102.25")  # 100.00 + 3 × 0.75
    included_at = Charge.objects.filter(invoice_line_id=included.pk).values_list("occurred_at", flat=True)
    overage_at = Charge.objects.filter(invoice_line_id=overage.pk).values_list("occurred_at", flat=True)
    assert (len(included_at), len(overage_at)) == (10, 3)
    assert max(included_at) < min(overage_at)
    assert set(Charge.objects.filter(invoice_line_id=overage.pk).values_list("amount", flat=True)) == {D("0.75")}
    assert set(Charge.objects.filter(invoice_line_id=included.pk).values_list("reason", "amount")) == {
        ("included", D(0))
    }


def test_pilot_of_100_free_outcomes(acme):
    contract(acme, effective_from="2026-06-01", prices=unit(), onboarding={"pilot_free_outcomes": 100})
    post(acme, 60, prefix="a")
    post(acme, 70, at=JUNE_12 + timedelta(days=1), prefix="b")
    assert Charge.objects.filter(reason="pilot_free").count() == 100
    invoice = settle_and_finalize(acme)
    assert invoice.total == D("29.70")  # 30 × 0.99


def test_training_window_outcomes_are_free(acme):
    contract(acme, effective_from="2026-06-01", prices=unit(), onboarding={"training_days": 10})
    post(acme, 5, at=datetime(2026, 6, 5, tzinfo=UTC), prefix="early")
    post(acme, 4, prefix="late")
    assert Charge.objects.filter(reason="training_window").count() == 5
    assert settle_and_finalize(acme).total == D("3.96")


def test_per_conversation_bills_attempts_and_keeps_their_decision(acme):
    contract(acme, basis="per_conversation", prices=unit("0.40"))
    post(acme, 30)
    post(acme, 20, prefix="x", failure_reason="abandoned")
    post(acme, 3, prefix="sb", sandbox=True)  # never a conversation to bill
    invoice = settle_and_finalize(acme)
    assert invoice.total == D("20.00")
    line = invoice.lines.get()
    # Each attempt's charge is invoiced on the line at the conversation price, while metering's
    # decision stays not billable (abandoned): customers read the attempt as not billable.
    assert Charge.objects.filter(invoice_line_id=line.pk, state="invoiced", attempt=True, amount=D("0.40"),
                                 event__status="non_billable",
                                 event__non_billable_reason="abandoned").count() == 20  # fmt: skip
    seen = factories.event_seen(Charge.objects.filter(attempt=True).values_list("event__event_id", flat=True)[0])
    assert (seen.shown_status, seen.shown_reason) == ("non_billable", "abandoned")


def test_helpdesk_ticket_and_automation_fees(acme):
    contract(acme, prices=[{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}])
    post(acme, 15)
    post(acme, 5, prefix="h", human_handoff=True)
    invoice = settle_and_finalize(acme)
    ticket, automation = invoice.lines.order_by("position")
    assert (ticket.amount, automation.amount, invoice.total) == (D("6.00"), D("13.50"), D("19.50"))
    assert len(line_events(invoice=invoice, line=ticket, limit=500)) == 20  # every ticket
    assert len(line_events(invoice=invoice, line=automation, limit=500)) == 15


def test_gain_share_records_each_events_share(acme):
    contract(acme, prices=[{"outcome_type": RES, "model": "gain_share", "percent": "15", "baseline": "100"}])
    for i, value in enumerate(["250", "80", "400.50"]):
        post(acme, 1, at=JUNE_12 + timedelta(hours=i), prefix=f"g{i}", value_amount=value)
    invoice = settle_and_finalize(acme)
    assert invoice.total == D("67.58")
    assert sorted(Charge.objects.values_list("amount", flat=True)) == [D(0), D("22.5"), D("45.075")]


def test_events_settling_after_the_invoice_are_billed_as_a_late_line(acme):
    contract(acme, prices=unit())
    post(acme, 48)
    post(acme, 2, at=datetime(2026, 6, 30, 20, 0, tzinfo=UTC), prefix="tail")  # windows close 3 July
    june = settle_and_finalize(acme, now=datetime(2026, 7, 1, 1, tzinfo=UTC))
    assert june.total == D("47.52")
    outcomes_settle(now=datetime(2026, 7, 4, tzinfo=UTC))
    july = invoice_finalize(account=acme, period="2026-07", now=datetime(2026, 8, 1, tzinfo=UTC)).invoice
    late = july.lines.get()
    assert (late.kind, late.quantity, late.amount, july.total) == ("late", 2, D("1.98"), D("1.98"))
    assert "from 2026-06" in late.description
    assert Charge.objects.filter(invoice_line_id=late.pk, state="invoiced").count() == 2
    june.refresh_from_db()
    assert june.total == D("47.52")


def test_credit_note_is_applied_to_the_next_invoice(acme):
    contract(acme, prices=unit())
    post(acme, 48)
    june = settle_and_finalize(acme)
    note = credit_note_issue(account=acme, amount=D("10"), reason="dispute approved", invoice_id=june.pk,
                             event_ids=list(Event.objects.values_list("pk", flat=True)[:2]), dispute_id=7)  # fmt: skip
    assert (note.number, note.amount) == ("CN-000001", D("10.00"))
    assert credit_note_issue(account=acme, amount=D("10"), reason="again", dispute_id=7) == note  # once per dispute
    post(acme, 20, at=datetime(2026, 7, 10, tzinfo=UTC), prefix="jul")
    outcomes_settle(now=datetime(2026, 8, 2, tzinfo=UTC))
    july = invoice_finalize(account=acme, period="2026-07", now=datetime(2026, 8, 2, tzinfo=UTC)).invoice
    assert (july.subtotal, july.credits_applied, july.total) == (D("19.80"), D("10.00"), D("9.80"))
    assert july.lines.get(kind="credit_note").amount == D("-10.00")
    with pytest.raises(CreditNoteRefused):
        credit_note_issue(account=acme, amount=D("1"), reason="x", invoice_id=Invoice.objects.create(
            account=acme, period="2026-09", period_start=june.period_start, period_end=june.period_end,
            currency="USD", refreshed_at=june.period_end).pk)  # fmt: skip


def test_finalized_invoice_is_immutable_in_the_service_and_in_the_database(acme):
    contract(acme, prices=unit())
    post(acme, 48)
    invoice = settle_and_finalize(acme)
    line = invoice.lines.get()
    with pytest.raises(InvoiceImmutable):
        invoice_line_update(line=line, amount=D("1.00"))
    for sql in (
        f"UPDATE billing_invoice SET total = 0, subtotal = 0 WHERE id = {invoice.pk}",
        f"UPDATE billing_invoiceline SET amount = 1 WHERE id = {line.pk}",
        f"DELETE FROM billing_invoiceline WHERE id = {line.pk}",
        f"DELETE FROM billing_invoice WHERE id = {invoice.pk}",
        f"INSERT INTO billing_invoiceline (invoice_id, account_id, key, position, kind, description, quantity, amount) "
        f"VALUES ({invoice.pk}, {acme.pk}, 'x', 9, 'outcome', 'sneaky', 1, 5)",
    ):
        with pytest.raises(DatabaseError, match="never"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    # The one allowed move: finalized -> void (its period reissued as a new draft); then nothing at all.
    void = invoice_void(invoice=invoice, reason="duplicate account").invoice
    assert (void.status, void.number, void.total) == ("void", "INV-000001", D("47.52"))
    with pytest.raises(CorrectionRefused, match="void already"):
        invoice_void(invoice=void, reason="again")
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(void_reason="edited")
    note = credit_note_issue(account=acme, amount=D("1"), reason="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditNote.objects.filter(pk=note.pk).update(amount=D("2"))


@pytest.mark.parametrize("checkpoint", ["lines_saved", "events_billed", "numbered"])
def test_a_build_killed_midway_leaves_nothing_and_a_rerun_completes_it(acme, monkeypatch, checkpoint):

    contract(acme, prices=unit())
    post(acme, 48)
    outcomes_settle(now=AFTER_JUNE)

    def crash(name):
        if name == checkpoint:
            raise RuntimeError(f"killed at {name}")

    with finalize_steps(crash), pytest.raises(RuntimeError):
        call_command("build_invoices", period="2026-06", now=AFTER_JUNE.isoformat())
    assert not Invoice.objects.filter(status="finalized").exists()
    assert not InvoiceLine.objects.exists()
    assert Charge.objects.filter(state="rated", event__status="billable", invoice_line_id__isnull=True).count() == 48
    assert not NumberSeries.objects.filter(name="invoice", next_value__gt=1).exists()  # no number consumed

    call_command("build_invoices", period="2026-06", now=AFTER_JUNE.isoformat())
    call_command("build_invoices", period="2026-06", now=AFTER_JUNE.isoformat())  # twice: no change
    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.total, invoice.status) == ("INV-000001", D("47.52"), "finalized")
    assert Charge.objects.filter(state="invoiced", attempt=False).count() == 48


def test_a_period_that_has_not_ended_is_not_finalized(acme):
    with pytest.raises(ValueError, match="not ended"):
        invoice_finalize(account=acme, period="2026-06", now=JUNE_12)
    # Accounts are billed by their own months: Tokyo's June ends 9 hours before UTC's.
    tokyo = factories.make_account("tokyo", currency="JPY", timezone_name="Asia/Tokyo")
    call_command("build_invoices", period="2026-06", now="2026-06-30T16:00:00Z")
    assert list(Invoice.objects.values_list("account__external_id", "status")) == [(tokyo.external_id, "finalized")]


def test_a_draft_lines_events_show_what_they_add_to_that_line(acme):
    """The upcoming invoice's drill-down: events inside the allowance are "included", not $0.99."""
    from django.test import Client

    contract(acme, prices=unit("0.75"), platform_fee={"amount": "100.00", "included_outcomes": 10})
    post(acme, 13)
    outcomes_settle(now=JUNE_12 + timedelta(days=4))
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(days=4))
    _fee, included, overage = draft.lines.order_by("position")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    rows = api.get(f"/api/v1/invoices/{draft.pk}/lines/{included.pk}/events").json()["results"]
    assert [(r["line_amount"], r["included"]) for r in rows] == [("0", True)] * 10
    rows = api.get(f"/api/v1/invoices/{draft.pk}/lines/{overage.pk}/events").json()["results"]
    assert [(r["line_amount"], r["included"]) for r in rows] == [("0.750000", False)] * 3
    admin = Client()
    admin.force_login(factories.make_user("customer_admin", acme))
    page = admin.get(f"/account/acme/invoices/{draft.pk}/lines/{included.pk}/").content.decode()
    assert page.count('<td class="num">included</td>') == 10 and "0.99" not in page
    page = admin.get(f"/account/acme/invoices/{draft.pk}/lines/{overage.pk}/").content.decode()
    assert page.count('<td class="num">$0.75</td>') == 3


def test_the_invoice_events_csv_says_its_zone_and_what_each_event_adds_to_its_line(acme):
    import csv
    import io

    from django.test import Client

    from accounts.models import Account

    Account.objects.filter(pk=acme.pk).update(timezone="America/New_York")
    contract(acme, prices=unit("0.75"), platform_fee={"amount": "100.00", "included_outcomes": 2})
    post(acme, 3)
    outcomes_settle(now=JUNE_12 + timedelta(days=4))
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(days=4))
    admin = Client()
    admin.force_login(factories.make_user("customer_admin", acme))
    body = admin.get(f"/account/acme/invoices/{draft.pk}/events.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted((r["amount"], r["time_zone"]) for r in rows) == [
        ("0", "America/New_York"), ("0", "America/New_York"), ("0.750000", "America/New_York")
    ]  # fmt: skip
    assert all(r["occurred_at"].endswith("-04:00") for r in rows)  # 12 June in New York, with its offset
