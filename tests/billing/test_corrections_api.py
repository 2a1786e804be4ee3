"""The vendor's corrections over the API: credit notes on a finalized invoice (for an amount or for
chosen outcomes) and top-ups sold — refusals change nothing, customers cannot, tenancy holds."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from accounts.models import Role
from billing.credits.models import CreditLedgerEntry
from billing.ingestion import outcomes_settle
from billing.invoices.corrections import invoice_void
from billing.invoices.models import CreditNote
from billing.ledger.models import Charge, Deduction
from billing.services import invoice_draft_refresh
from metering.models import Event
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize
from tests.conftest import key_client
from tests.credits.helpers import credit_contract, outcome_types

RES = "resolved_conversation"


@pytest.fixture
def vendor():
    return Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "1.25"}])
    post(account, 8)
    return account


@pytest.fixture
def invoice(acme):
    return settle_and_finalize(acme)  # 8 × $1.25 = $10.00


def credit(client, invoice, **body):
    return client.post(f"/api/v1/invoices/{invoice.pk}/credit-notes", body, content_type="application/json")


def event_ids(account, n):
    return list(Event.objects.filter(account=account).order_by("occurred_at").values_list("event_id", flat=True)[:n])


def states(account):
    return sorted(Charge.objects.filter(account=account).values_list("state", flat=True))


# --- Credit notes ---------------------------------------------------------------------------------


def test_a_credit_note_for_an_amount_up_to_what_the_invoice_has_left(invoice, vendor):
    assert invoice.total == D("10.00")
    first = credit(vendor, invoice, amount="7.50", reason="Outage on 3 June")
    assert first.status_code == 201, first.content
    note = first.json()["credit_note"]
    assert (note["amount"], note["invoice_id"], note["reason"], note["event_ids"]) == (
        "7.50", invoice.pk, "Outage on 3 June", []
    )  # fmt: skip
    assert first.json()["credit_grant"] is None

    too_much = credit(vendor, invoice, amount="2.51", reason="More")
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "credit_exceeds_invoice"
    rest = credit(vendor, invoice, amount="2.50", reason="The rest")
    assert rest.status_code == 201
    assert sorted(CreditNote.objects.values_list("amount", flat=True)) == [D("2.50"), D("7.50")]
    assert states(invoice.account) == ["invoiced"] * 8  # an amount credits no outcome


def test_a_credit_note_for_chosen_outcomes_credits_their_charges_once(invoice, vendor):
    chosen = event_ids(invoice.account, 3)
    made = credit(vendor, invoice, event_ids=chosen, reason="The customer came back")
    assert made.status_code == 201, made.content
    note = made.json()["credit_note"]
    assert note["amount"] == "3.75"
    assert sorted(note["event_ids"]) == sorted(chosen)
    assert "3 outcomes of invoice" in note["reason"]
    assert states(invoice.account) == ["credited"] * 3 + ["invoiced"] * 5

    again = credit(vendor, invoice, event_ids=chosen[:1], reason="Twice")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "event_not_creditable"
    assert CreditNote.objects.count() == 1

    # What is left to credit counts the note for the outcomes.
    assert credit(vendor, invoice, amount="6.26", reason="Too much").status_code == 409
    assert credit(vendor, invoice, amount="6.25", reason="All the rest").status_code == 201


def test_refusals_change_nothing(invoice, acme, vendor):
    other = factories.make_account("globex")
    contract(other, prices=[{"outcome_type": RES, "model": "unit", "price": "1.25"}])
    post(other, 2, prefix="g")
    cases = [
        ({"reason": "neither"}, 400, "validation_error"),
        ({"amount": "1.00", "event_ids": event_ids(acme, 1), "reason": "both"}, 400, "validation_error"),
        ({"amount": "1.00", "reason": "  "}, 400, "validation_error"),
        ({"amount": "0.00", "reason": "zero"}, 400, "validation_error"),
        ({"amount": "1.001", "reason": "a tenth of a cent"}, 400, "validation_error"),
        ({"amount": "-1", "reason": "negative"}, 400, "validation_error"),
        ({"event_ids": ["no-such-event"], "reason": "unknown"}, 409, "event_not_on_invoice"),
        ({"event_ids": event_ids(other, 1), "reason": "another account's"}, 409, "event_not_on_invoice"),
        ({"event_ids": [], "reason": "none"}, 400, "validation_error"),
    ]
    for body, code, error in cases:
        answer = credit(vendor, invoice, **body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (code, error), body
    assert not CreditNote.objects.exists()
    assert states(acme) == ["invoiced"] * 8


def test_only_a_final_invoice_takes_a_credit_note(acme, vendor):
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=AFTER_JUNE)
    assert draft.status == "draft"
    answer = credit(vendor, draft, amount="1.00", reason="A draft")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_not_final")
    final = settle_and_finalize(acme)
    invoice_void(invoice=final, reason="Issued to the wrong entity")
    answer = credit(vendor, final, amount="1.00", reason="A void invoice")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_not_final")
    assert not CreditNote.objects.exists()


def test_customers_cannot_issue_credit_notes(invoice):
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER):
        answer = credit(key_client(invoice.account, role), invoice, amount="1.00", reason="Mine")
        assert answer.status_code == 403, role
    other = factories.make_account("globex")
    assert credit(key_client(other), invoice, amount="1.00", reason="Theirs").status_code in (403, 404)
    assert not CreditNote.objects.exists()


# --- Top-ups ----------------------------------------------------------------------------------------


@pytest.fixture
def credits_acme(db):
    outcome_types()
    account = factories.make_account("acme")
    credit_contract(account)  # $0.02 a credit; packs of 500, 1,000, 2,500
    return account


def topup(client, account, key=None, **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/accounts/{account.external_id}/topups", body, content_type="application/json",
                       **headers)  # fmt: skip


def test_a_pack_sold_over_the_api_once_per_key(credits_acme, vendor):
    first = topup(vendor, credits_acme, key="order-00000001", pack="500")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["kind"], body["credits"], body["amount"], body["balance_after"]) == ("topup", "500", "10.00", "500")
    again = topup(vendor, credits_acme, key="order-00000001", pack="500")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    other = topup(vendor, credits_acme, key="order-00000001", pack="1000")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_conflict")
    assert CreditLedgerEntry.objects.filter(kind="topup").count() == 1


def test_any_number_of_credits_at_the_published_conversion(credits_acme, vendor):
    answer = topup(vendor, credits_acme, credits="123.5")
    assert answer.status_code == 201, answer.content
    assert (answer.json()["credits"], answer.json()["amount"]) == ("123.5", "2.47")  # 2.47 = 123.5 × 0.02
    assert topup(vendor, credits_acme, credits="123.5").status_code == 201  # no key: another purchase
    assert CreditLedgerEntry.objects.filter(kind="topup").count() == 2


def test_top_up_refusals(credits_acme, acme_money, vendor):
    cases = [
        (credits_acme, {"pack": "700"}, 409, "topup_refused"),  # not a pack on sale
        (credits_acme, {}, 400, "validation_error"),
        (credits_acme, {"pack": "500", "credits": "500"}, 400, "validation_error"),
        (credits_acme, {"credits": "0"}, 400, "validation_error"),
        (credits_acme, {"credits": "1.23456"}, 400, "validation_error"),
        (credits_acme, {"credits": "-5"}, 400, "validation_error"),
        (acme_money, {"pack": "500"}, 409, "topup_refused"),  # a contract priced in money
    ]
    for account, body, code, error in cases:
        answer = topup(vendor, account, **body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (code, error), body
    bad_key = topup(vendor, credits_acme, key="short", pack="500")
    assert bad_key.status_code == 400
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN):
        assert topup(key_client(credits_acme, role), credits_acme, pack="500").status_code == 403
    assert not CreditLedgerEntry.objects.filter(kind="topup").exists()


@pytest.fixture
def acme_money(credits_acme):
    account = factories.make_account("initech")
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "1.25"}])
    return account


# --- Deductions after the window ---------------------------------------------------------------------


def deduct(client, account, event_id, reason="Customer wrote back: not resolved", reported_at="2026-07-02T09:00:00Z"):
    return client.post(f"/api/v1/events/{account.external_id}/{event_id}/deductions",
                       {"reason": reason, "reported_at": reported_at}, content_type="application/json")  # fmt: skip


def shown(client, account, event_id):
    body = client.get(f"/api/v1/events/{account.external_id}/{event_id}").json()
    return body["status"], body["non_billable_reason"]


def test_a_settled_outcome_not_yet_invoiced_leaves_the_draft_once(acme, vendor):
    outcomes_settle(now=AFTER_JUNE)
    before = invoice_draft_refresh(account=acme, period="2026-06", now=AFTER_JUNE).total
    target = event_ids(acme, 1)[0]
    assert shown(vendor, acme, target) == ("billable", None)

    made = deduct(vendor, acme, target)
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["how"], body["amount"], body["credit_note"], body["reported_at"]) == (
        "left_draft", "1.250000", None, "2026-07-02T09:00:00Z"
    )  # fmt: skip
    assert shown(vendor, acme, target) == ("non_billable", "deducted")
    after = invoice_draft_refresh(account=acme, period="2026-06", now=AFTER_JUNE).total
    assert before - after == D("1.25")

    again = deduct(vendor, acme, target, reason="Reported twice")
    assert (again.status_code, again.json()["reason"]) == (200, "Customer wrote back: not resolved")
    assert Deduction.objects.count() == 1
    assert states(acme).count("credited") == 1


def test_an_invoiced_outcome_is_credited_on_the_next_invoice(invoice, vendor):
    target = event_ids(invoice.account, 2)[1]
    made = deduct(vendor, invoice.account, target)
    assert made.status_code == 201, made.content
    note = made.json()["credit_note"]
    assert (made.json()["how"], note["amount"], note["invoice_id"], note["event_ids"]) == (
        "credit_note", "1.25", invoice.pk, [target]
    )  # fmt: skip
    assert note["reason"] == f"Outcome {target} deducted after its window: Customer wrote back: not resolved"
    assert shown(vendor, invoice.account, target) == ("credited", None)
    assert deduct(vendor, invoice.account, target).status_code == 200
    assert CreditNote.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.total == D("10.00")  # a final invoice never changes: the note credits the next one


def test_deductions_refused_change_nothing(acme, vendor):
    target = event_ids(acme, 1)[0]
    pending = deduct(vendor, acme, target)  # not settled: its window is still open
    assert (pending.status_code, pending.json()["error"]["code"]) == (409, "window_open")
    post(acme, 1, prefix="fail", success_criteria_met=False)
    attempt = Event.objects.get(account=acme, event_id__startswith="fail").event_id
    answer = deduct(vendor, acme, attempt)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "nothing_to_deduct")
    for body, field in (({"reason": " "}, "reason"), ({"reported_at": "yesterday"}, "reported_at"),
                        ({"reported_at": "2999-01-01T00:00:00Z"}, "reported_at")):  # fmt: skip
        answer = deduct(vendor, acme, target, **body)
        assert (answer.status_code, field in answer.json()["error"]["fields"]) == (400, True), body
    assert deduct(vendor, acme, "no-such-event").status_code == 404
    other = factories.make_account("globex")
    assert deduct(vendor, other, target).status_code == 404  # acme's event under another account
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN):
        assert deduct(key_client(acme, role), acme, target).status_code == 403
    assert not Deduction.objects.exists()
    assert states(acme) == ["estimated"] * 8


# --- The event page's deduction (vendor operators) ----------------------------------------------------


def test_a_vendor_operator_deducts_from_the_event_page_and_everyone_reads_it(acme):
    outcomes_settle(now=AFTER_JUNE)
    target = event_ids(acme, 1)[0]
    page = f"/account/{acme.external_id}/events/{target}"
    operator, support, customer = Client(), Client(), Client()
    operator.force_login(factories.make_user(Role.VENDOR_OPERATOR, None, "olivia"))
    support.force_login(factories.make_user(Role.VENDOR_SUPPORT, None, "sam"))
    customer.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme, "cora"))
    assert "Deduct this outcome" in operator.get(page).content.decode()
    for other in (support, customer):
        assert "Deduct this outcome" not in other.get(page).content.decode()
        refused = other.post(f"/account/{acme.external_id}/deductions/{target}",
                             {"reason": "x", "reported_at": "2026-07-02T09:00"})  # fmt: skip
        assert refused.status_code == 403
    assert not Deduction.objects.exists()

    bad = operator.post(f"/account/{acme.external_id}/deductions/{target}", {"reason": "Came back"}, follow=True)
    assert "The deduction was not made" in bad.content.decode()
    made = operator.post(f"/account/{acme.external_id}/deductions/{target}",
                         {"reason": "Came back on day 9", "reported_at": "2026-07-02T09:00"}, follow=True)  # fmt: skip
    assert "Deducted: left the upcoming invoice." in made.content.decode()
    deduction = Deduction.objects.get()
    assert (deduction.created_by, deduction.reason) == ("olivia", "Came back on day 9")
    shown = customer.get(page).content.decode()
    assert "Deducted after the window" in shown and "Came back on day 9" in shown
    assert "Customer came back (reported)" in shown  # the timeline


def test_no_correction_gives_back_more_than_the_invoice_charged(invoice, vendor):
    assert credit(vendor, invoice, amount="9.00", reason="Goodwill").status_code == 201  # $1.00 left
    two = event_ids(invoice.account, 2)
    answer = credit(vendor, invoice, event_ids=two, reason="Two outcomes: $2.50")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "credit_exceeds_invoice")
    assert answer.json()["error"]["message"] == "Invoice INV-000001 has $1.00 left to credit; $2.50 is more."
    assert states(invoice.account) == ["invoiced"] * 8
    assert credit(vendor, invoice, event_ids=two[:1], reason="One outcome: $1.25").status_code == 409
    refused = deduct(vendor, invoice.account, two[0])
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "credit_exceeds_invoice")
    assert not Deduction.objects.exists()
    assert CreditNote.objects.count() == 1
    assert credit(vendor, invoice, amount="1.00", reason="The rest").status_code == 201
