"""Void and reissue (billing.invoices.corrections.invoice_void): refusals, the charges released and
billed again by the catch-up, the credit ledger reversed, the money log and the rollups still true."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.access import Principal
from accounts.models import Role
from billing.charges import period_charges
from billing.credits.models import CreditLedgerEntry
from billing.ingestion import outcomes_settle
from billing.invoices.catchup import invoices_catch_up
from billing.invoices.corrections import CorrectionRefused, credit_note_for_amount, invoice_void
from billing.invoices.models import CreditNote, Invoice
from billing.ledger.models import Charge
from billing.moneylog import kinds
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.services import moneylog_flush
from billing.moneylog.verify import ledger_verify
from billing.receivables.models import PaymentStatusChange
from billing.receivables.services import invoice_payment_record
from billing.services import invoice_draft_refresh, invoice_finalize
from disputes.services import dispute_file
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize
from tests.conftest import key_client
from tests.credits.helpers import LEAD, at, balance, credit_contract, outcome_types

UNIT = [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}]
JULY_10 = datetime(2026, 7, 10, tzinfo=UTC)


@pytest.fixture
def june(db):
    """Acme's June invoice, final and stamped: 6 outcomes at $0.99 = $5.94; a July outcome on the draft."""
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 6)
    invoice = settle_and_finalize(account)
    post(account, 1, at=datetime(2026, 7, 2, tzinfo=UTC), prefix="july")
    return invoice


def charges(account) -> list[tuple[str, int | None]]:
    """(state, invoice id) of the account's June charges, in event order."""
    rows = Charge.objects.filter(account=account, occurred_at__lt=datetime(2026, 7, 1, tzinfo=UTC)).order_by("event")
    return [(c.state, c.invoice_line.invoice_id if c.invoice_line_id else None) for c in rows]


def unchanged(invoice: Invoice) -> None:
    """A refused void changed nothing."""
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == ("finalized", "open")
    assert Invoice.objects.filter(account=invoice.account, period=invoice.period).count() == 1
    assert {state for state, _ in charges(invoice.account)} <= {"invoiced", "credited", "disputed"}
    assert not CreditLedgerEntry.objects.filter(kind="reversal").exists()


# --- Refusals -----------------------------------------------------------------------------------


def test_a_draft_is_not_voided(june):
    draft = invoice_draft_refresh(account=june.account, period="2026-07", now=JULY_10)
    with pytest.raises(CorrectionRefused) as refused:
        invoice_void(invoice=draft, reason="Wrong contract")
    assert refused.value.code == "invoice_not_final"
    assert Invoice.objects.get(pk=draft.pk).status == "draft"


def test_a_void_needs_a_reason(june):
    with pytest.raises(CorrectionRefused) as refused:
        invoice_void(invoice=june, reason="   ")
    assert (refused.value.code, refused.value.field) == ("validation_error", "reason")
    unchanged(june)


def test_an_invoice_with_a_payment_is_not_voided(june):
    invoice_payment_record(invoice=june, amount=D("1.00"), paid_at=AFTER_JUNE, reference="BANK-1")
    with pytest.raises(CorrectionRefused, match="Record a credit note instead") as refused:
        invoice_void(invoice=june, reason="Wrong contract")
    assert refused.value.code == "invoice_paid"
    june.refresh_from_db()
    assert (june.status, june.amount_paid) == ("finalized", D("1.00"))
    assert Invoice.objects.filter(period="2026-06").count() == 1


def test_an_invoice_with_a_credit_note_is_not_voided(june):
    credit_note_for_amount(invoice=june, amount=D("1.00"), reason="Goodwill", by="olga")
    with pytest.raises(CorrectionRefused, match="CN-000001") as refused:
        invoice_void(invoice=june, reason="Wrong contract")
    assert refused.value.code == "invoice_has_credit_notes"
    unchanged(june)


def test_an_invoice_under_dispute_is_not_voided(june):
    admin = Principal(role=Role.CUSTOMER_ADMIN, account_id=june.account_id, label="alice")
    dispute_file(principal=admin, account=june.account, reason_code="other", message="Not resolved",
                 event_ids=["e-resolved_conversation-06121000-0"], now=JULY_10)  # fmt: skip
    with pytest.raises(CorrectionRefused) as refused:
        invoice_void(invoice=june, reason="Wrong contract")
    assert refused.value.code == "invoice_disputed"
    unchanged(june)


def test_only_the_latest_final_invoice_is_voided(june):
    july = invoice_finalize(account=june.account, period="2026-07", now=datetime(2026, 8, 5, tzinfo=UTC)).invoice
    with pytest.raises(CorrectionRefused, match=f"{july.number} of 2026-07 is final") as refused:
        invoice_void(invoice=june, reason="Wrong contract")
    assert refused.value.code == "invoice_not_latest"
    unchanged(june)


def test_voiding_twice_is_refused_and_reverses_nothing_twice(june):
    invoice_void(invoice=june, reason="Wrong contract")
    with pytest.raises(CorrectionRefused, match="void already") as refused:
        invoice_void(invoice=june, reason="Again")
    assert refused.value.code == "invoice_not_final"
    assert Invoice.objects.filter(period="2026-06").count() == 2
    assert len(_entries(kinds.INVOICE_VOIDED)) == 1


# --- Void and reissue -------------------------------------------------------------------------------


def _entries(*kinds_: str) -> list[MoneyLogEntry]:
    moneylog_flush()
    return list(MoneyLogEntry.objects.filter(kind__in=kinds_).order_by("id"))


def test_void_releases_the_charges_and_the_catch_up_reissues_the_same_total(june):
    account = june.account
    assert charges(account) == [("invoiced", june.pk)] * 6
    done = invoice_void(invoice=june, reason="Issued to the wrong entity", by="olga", now=JULY_10)

    void, draft = done.invoice, done.replacement
    assert (void.status, void.payment_status, void.void_reason, void.voided_at) == (
        "void", "void", "Issued to the wrong entity", JULY_10,
    )  # fmt: skip
    assert (void.number, void.total, void.amount_due) == ("INV-000001", D("5.94"), D("0"))
    assert list(PaymentStatusChange.objects.values_list("from_status", "to_status", "by")) == [("open", "void", "olga")]
    assert (draft.status, draft.period, draft.replaces_id, draft.total) == ("draft", "2026-06", void.pk, D("5.94"))
    assert done.charges_released == 6
    assert charges(account) == [("rated", None)] * 6
    assert void.lines.get().amount == D("5.94")  # the void invoice keeps its lines as issued
    assert Invoice.objects.live().get(account=account, period="2026-06") == draft
    assert factories.rollups_match_rows()
    assert ledger_verify().ok

    # The July draft does not count June's released outcomes as late ones.
    outcomes_settle(now=JULY_10)
    july = invoice_draft_refresh(account=account, period="2026-07", now=JULY_10)
    assert [ln.kind for ln in july.lines.all()] == ["outcome"]
    assert period_charges(account=account, period="2026-07", now=JULY_10).total == D("0.99")

    built = invoices_catch_up(now=JULY_10 + timedelta(hours=1))
    assert built.periods == ["acme:2026-06"]
    reissued = Invoice.objects.get(pk=draft.pk)
    assert (reissued.status, reissued.number, reissued.total) == ("finalized", "INV-000002", D("5.94"))
    assert charges(account) == [("invoiced", reissued.pk)] * 6
    assert invoices_catch_up(now=JULY_10 + timedelta(hours=2)).periods == []  # nothing more to reissue
    assert factories.rollups_match_rows()
    assert ledger_verify().ok


def test_the_reissue_is_priced_under_the_contract_as_it_then_stands(june):
    done = invoice_void(invoice=june, reason="Priced at the wrong rate", now=JULY_10)
    contract(june.account, effective_from="2026-06-01",
             prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "1.50"}])  # fmt: skip
    invoices_catch_up(now=JULY_10 + timedelta(hours=1))
    reissued = Invoice.objects.get(pk=done.replacement.pk)
    assert (reissued.status, reissued.total) == ("finalized", D("9.00"))
    assert ledger_verify().ok


def test_the_money_log_records_the_void_and_the_release(june):
    invoice_void(invoice=june, reason="Issued by mistake", now=JULY_10)
    (released,) = _entries(kinds.CHARGES_RELEASED)
    assert (released.data["invoice_id"], released.data["count"]) == (june.pk, 6)
    assert [e.kind for e in _entries(kinds.INVOICE_VOIDED, kinds.INVOICE_PAYMENT_STATUS, kinds.CHARGES_RELEASED)] == [
        "invoice_voided", "invoice_payment_status", "charges_released",
    ]  # fmt: skip
    assert not _entries(kinds.CREDITS_REVERSED)  # a money contract posted no credits


def test_a_release_is_refused_by_the_database_unless_the_invoice_is_void(june):
    line = june.lines.get()
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_charge SET state = 'rated', invoice_line_id = NULL WHERE invoice_line_id = %s", [line.pk]
        )


def test_credit_notes_applied_on_the_void_invoice_are_applied_again_by_its_replacement(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 4, at=datetime(2026, 5, 12, tzinfo=UTC))
    may = settle_and_finalize(account, "2026-05", datetime(2026, 6, 5, tzinfo=UTC))
    credit_note_for_amount(invoice=may, amount=D("1.00"), reason="Goodwill", by="olga")
    post(account, 6)
    june = settle_and_finalize(account)
    assert (june.subtotal, june.credits_applied, june.total) == (D("5.94"), D("1.00"), D("4.94"))
    done = invoice_void(invoice=june, reason="Wrong entity", now=JULY_10)
    assert (done.replacement.credits_applied, done.replacement.total) == (D("1.00"), D("4.94"))
    invoices_catch_up(now=JULY_10 + timedelta(hours=1))
    assert Invoice.objects.get(pk=done.replacement.pk).total == D("4.94")
    assert CreditNote.objects.count() == 1
    assert ledger_verify().ok


# --- Credits ------------------------------------------------------------------------------------------


def test_the_credit_ledger_is_reversed_and_posted_again_by_the_reissue(db):
    outcome_types()
    account = factories.make_account("acme")
    credit_contract(account)
    post(account, 12, at=at(6, 12))  # 600 credits
    post(account, 3, at=at(6, 12), outcome_type=LEAD)  # 300 credits: 900 of the 1,000 included, 100 roll over
    outcomes_before = balance(account)
    june = settle_and_finalize(account, "2026-06", at(7, 5))
    posted = list(CreditLedgerEntry.objects.filter(reference=f"invoice:{june.pk}").values_list("kind", "credits"))
    assert sorted(posted) == [("bundle_grant", D("1000")), ("rollover", D("0")), ("usage", D("-900"))]
    after_june = balance(account)
    post(account, 2, at=at(7, 2))  # July: 100 credits on the draft

    done = invoice_void(invoice=june, reason="Wrong plan", by="olga", now=at(7, 10))
    assert sorted((r.kind, r.credits, r.reference.startswith("void:")) for r in done.credits_reversed) == [
        ("reversal", D("-1000"), True), ("reversal", D("0"), True), ("reversal", D("900"), True),
    ]  # fmt: skip
    assert balance(account) == outcomes_before  # as before the invoice
    # The July draft's carry is the replacement's (100 plan credits rolled over), not nothing.
    assert done.replacement.carry_out == june.carry_out
    july = invoice_draft_refresh(account=account, period="2026-07", now=at(7, 10))
    assert july.carry_in == june.carry_out
    (reversed_,) = _entries(kinds.CREDITS_REVERSED)
    assert len(reversed_.data["tracked"]["credit_entry"]) == 3

    invoice_finalize(account=account, period="2026-06", now=at(7, 10, 11))  # (the catch-up would bill Jan–May too)
    reissued = Invoice.objects.get(pk=done.replacement.pk)
    assert (reissued.status, reissued.total) == ("finalized", june.total)
    assert balance(account) == after_june
    assert factories.rollups_match_rows()
    assert ledger_verify().ok


def test_top_ups_of_the_month_stay_and_are_billed_by_the_replacement(db):
    from billing.credits.services import topup_buy

    outcome_types()
    account = factories.make_account("acme")
    credit_contract(account)
    topup_buy(account=account, credits=D(500), key="topup-key-0001", bought_by="finance", now=at(6, 2))
    post(account, 30, at=at(6, 12))  # 1,500 credits: the plan's 1,000 and the top-up's 500
    june = settle_and_finalize(account, "2026-06", at(7, 5))
    assert [ln.kind for ln in june.lines.order_by("position")][:2] == ["platform_fee", "topup"]
    done = invoice_void(invoice=june, reason="Wrong plan", now=at(7, 10))
    assert CreditLedgerEntry.objects.filter(kind="topup").count() == 1  # bought: never reversed
    invoice_finalize(account=account, period="2026-06", now=at(7, 10, 11))
    reissued = Invoice.objects.get(pk=done.replacement.pk)
    assert (reissued.total, [ln.kind for ln in reissued.lines.order_by("position")][:2]) == (
        june.total, ["platform_fee", "topup"],
    )  # fmt: skip
    assert ledger_verify().ok


# --- API ------------------------------------------------------------------------------------------------


def void(client, invoice, **body):
    return client.post(f"/api/v1/invoices/{invoice.pk}/void", body, content_type="application/json")


def test_the_vendor_voids_over_the_api(june, vendor_client):
    answer = void(vendor_client, june, reason="Issued to the wrong entity")
    assert answer.status_code == 200
    body = answer.json()
    replacement = Invoice.objects.get(replaces=june)
    assert (body["id"], body["status"], body["payment_status"], body["amount_due"]) == (june.pk, "void", "void", "0.00")
    assert (body["void_reason"], body["replaced_by"], body["replaces"]) == ("Issued to the wrong entity",
                                                                           replacement.pk, None)  # fmt: skip
    again = vendor_client.get(f"/api/v1/invoices/{replacement.pk}").json()
    assert (again["status"], again["replaces"], again["replaced_by"], again["total"]) == (
        "draft",
        june.pk,
        None,
        "5.94",
    )
    listed = vendor_client.get("/api/v1/invoices", {"account": "acme", "period": "2026-06"}).json()["results"]
    assert [(i["id"], i["status"]) for i in listed] == [(replacement.pk, "draft"), (june.pk, "void")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({}, 400, "validation_error"), ({"reason": ""}, 400, "validation_error")],
)
def test_a_void_without_a_reason_is_refused(june, vendor_client, body, status, code):
    answer = void(vendor_client, june, **body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert "reason" in answer.json()["error"]["fields"]
    unchanged(june)


def test_api_refusals_are_409_with_their_code(june, vendor_client):
    draft = invoice_draft_refresh(account=june.account, period="2026-07", now=JULY_10)
    answer = void(vendor_client, draft, reason="x")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_not_final")
    credit_note_for_amount(invoice=june, amount=D("1.00"), reason="Goodwill", by="olga")
    answer = void(vendor_client, june, reason="x")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_has_credit_notes")
    invoice_payment_record(invoice=june, amount=D("1.00"), paid_at=AFTER_JUNE, reference="BANK-1")
    answer = void(vendor_client, june, reason="x")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_paid")
    assert "credit note" in answer.json()["error"]["message"]
    assert Invoice.objects.get(pk=june.pk).status == "finalized"


def test_customers_cannot_void(june):
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER):
        answer = void(key_client(june.account, role), june, reason="Mine")
        assert answer.status_code == 403, role
    other = factories.make_account("globex")
    assert void(key_client(other), june, reason="Theirs").status_code in (403, 404)
    unchanged(june)
