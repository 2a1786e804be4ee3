"""Approve, partially approve, reject — end to end through the issue_credits job, to the credit note
and the next invoice, with exact amounts. The finalized invoice never changes."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.access import Principal
from accounts.models import Notification
from billing.ingestion import outcomes_settle
from billing.invoices.models import CreditNote, Invoice
from billing.ledger.models import Charge
from billing.services import invoice_draft_refresh, invoice_finalize
from disputes.models import CreditMethod, DisputeCredit
from disputes.services import credits_issue, dispute_file
from metering.services import decision_replay
from tests import factories
from tests.disputes.conftest import AUG_5, JULY_12, JULY_13

JSON = "application/json"


def invoice_state(invoice: Invoice) -> tuple:
    """Everything a customer reads on an invoice: its header and every line, as stored."""
    invoice = Invoice.objects.get(pk=invoice.pk)
    lines = list(
        invoice.lines.order_by("position").values_list("key", "description", "quantity", "unit_price", "amount")
    )
    return (invoice.number, invoice.status, invoice.subtotal, invoice.credits_applied, invoice.total, lines)


def file(world, event_ids, reason="not_resolved", account=None, who="admin_a"):
    return dispute_file(
        principal=world.principal(who),
        account=account or world.a,
        reason_code=reason,
        message="Not what we agreed.",
        event_ids=event_ids,
        now=JULY_12,
    )


def resolve(api, dispute, **body):
    response = api["vendor"].post(f"/api/v1/disputes/{dispute.pk}/resolve", body, content_type=JSON)
    assert response.status_code == 200, response.content
    return response.json()


def run_job(now=JULY_13) -> str:
    out = StringIO()
    call_command("issue_credits", "--now", now.isoformat(), stdout=out)
    return out.getvalue().strip()


def status_of(world, *event_ids):
    return {e: (world.event(e).shown_status, world.event(e).shown_reason) for e in event_ids}


def test_approving_invoiced_events_issues_a_credit_note_applied_to_the_next_invoice(world, api):
    june_before = invoice_state(world.june_invoice_a)
    dispute = file(world, ["jun-0", "jun-1"])

    body = resolve(api, dispute, decision="approved", note="Both reopened within a day.")
    assert (body["status"], body["credit_status"], body["credited_amount"]) == ("approved", "pending", None)
    assert body["approved_event_ids"] == ["jun-0", "jun-1"]

    out = run_job()
    assert out.startswith("1 disputes credited (credit notes: CN-000001), 0 failed, 0 events marked disputed, 0 SLA ")

    note = CreditNote.objects.get()
    assert (note.number, note.amount, note.invoice_id, note.dispute_id, note.currency) == (
        "CN-000001",
        Decimal("1.9800"),
        world.june_invoice_a.pk,
        dispute.pk,
        "USD",
    )
    assert note.event_ids == sorted([world.event("jun-0").pk, world.event("jun-1").pk])
    assert status_of(world, "jun-0", "jun-1", "jun-2") == {
        "jun-0": ("credited", ""),
        "jun-1": ("credited", ""),
        "jun-2": ("invoiced", ""),
    }
    # The finalized invoice is exactly as it was.
    assert invoice_state(world.june_invoice_a) == june_before
    # The next invoice (July, still a draft) carries the credit line: 4 × $0.99 − $1.98.
    july = Invoice.objects.get(account=world.a, period="2026-07")
    assert invoice_state(july)[1:] == (
        "draft",
        Decimal("3.9600"),
        Decimal("1.9800"),
        Decimal("1.9800"),
        [
            (
                "2026-07:resolved_conversation:all:unit",
                "Resolved conversation",
                Decimal("4.0000"),
                Decimal("0.990000"),
                Decimal("3.9600"),
            ),
            (
                f"credit_note:{note.pk}",
                "Credit note CN-000001",
                Decimal("1.0000"),
                Decimal("-1.980000"),
                Decimal("-1.9800"),
            ),
        ],
    )
    # July closes: the credit is on the final July invoice, once.
    invoice_finalize(account=world.a, period="2026-07", now=AUG_5)
    assert invoice_state(july)[:5] == (
        "INV-000003",
        "finalized",
        Decimal("3.9600"),
        Decimal("1.9800"),
        Decimal("1.9800"),
    )
    assert invoice_state(world.june_invoice_a) == june_before
    # The next run records where the credit note went, once.
    run_job(AUG_5)
    run_job(AUG_5)
    applied = list(dispute.history.filter(subject="credit_note").values_list("subject_ref", "from_state", "to_state"))
    assert applied == [("CN-000001", "", "issued"), ("CN-000001 → INV-000003", "issued", "applied")]
    # The API says what happened.
    after = api["admin_a"].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert (after["credited_amount"], after["credit_status"], after["credit_note_number"]) == (
        "1.98",
        "issued",
        "CN-000001",
    )
    notes = api["admin_a"].get("/api/v1/credit-notes?account=acme").json()["results"]
    assert [(n["number"], n["amount"], n["invoice_id"], n["dispute_id"]) for n in notes] == [
        ("CN-000001", "1.98", world.june_invoice_a.pk, dispute.pk)
    ]
    # The events it credits by the platform's event_id, as every other endpoint names them (never row ids).
    assert notes[0]["event_ids"] == ["jun-0", "jun-1"]


def test_the_job_output_and_a_second_run(world, api):
    dispute = file(world, ["jun-0"])
    resolve(api, dispute, decision="approved")
    first = run_job()
    assert first.startswith("1 disputes credited (credit notes: CN-000001), 0 failed, 0 events marked disputed, ")
    second = run_job()
    assert second.startswith("0 disputes credited (credit notes: none), 0 failed, 0 events marked disputed, ")
    assert CreditNote.objects.count() == 1
    assert DisputeCredit.objects.count() == 1


def test_partially_approving_open_period_events_takes_them_off_the_draft(world, api):
    july_before = invoice_draft_refresh(account=world.a, period="2026-07", now=JULY_13)
    assert july_before.subtotal == Decimal("3.9600")
    dispute = file(world, ["jul-0", "jul-1", "jul-2"], reason="duplicate")

    body = resolve(
        api, dispute, decision="partially_approved", event_ids=["jul-0", "jul-1"], note="jul-2 was a separate request."
    )
    assert body["approved_event_ids"] == ["jul-0", "jul-1"]
    run_job()

    assert status_of(world, "jul-0", "jul-1", "jul-2", "jul-3") == {
        "jul-0": ("non_billable", "dispute_credited"),
        "jul-1": ("non_billable", "dispute_credited"),
        "jul-2": ("billable", ""),
        "jul-3": ("billable", ""),
    }
    assert CreditNote.objects.count() == 0  # nothing was invoiced: no credit note needed
    july = Invoice.objects.get(account=world.a, period="2026-07")
    assert invoice_state(july)[1:] == (
        "draft",
        Decimal("1.9800"),
        Decimal("0.0000"),
        Decimal("1.9800"),
        [
            (
                "2026-07:resolved_conversation:all:unit",
                "Resolved conversation",
                Decimal("2.0000"),
                Decimal("0.990000"),
                Decimal("1.9800"),
            )
        ],
    )
    after = api["admin_a"].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert (after["status"], after["credited_amount"], after["credit_note_id"]) == ("partially_approved", "1.98", None)
    credits = sorted(DisputeCredit.objects.values_list("event__event_id", "method", "amount"))
    assert credits == [
        ("jul-0", CreditMethod.EXCLUSION, Decimal("0.990000")),
        ("jul-1", "exclusion", Decimal("0.990000")),
    ]
    # Billing credited their charges; metering's decision is untouched (replay still agrees).
    for event_id in ("jul-0", "jul-1"):
        event = world.event(event_id)
        assert (event.charge.state, event.charge.reason, event.amount) == ("credited", "dispute_credited", None)
        assert (event.status, event.state) == ("billable", {})
        assert decision_replay(event=event, now=JULY_13) is None
    # July closes: the credited events are not billed.
    invoice_finalize(account=world.a, period="2026-07", now=AUG_5)
    assert invoice_state(july)[1:5] == ("finalized", Decimal("1.9800"), Decimal("0.0000"), Decimal("1.9800"))
    assert not Charge.objects.filter(
        account=world.a, event__event_id__in=["jul-0", "jul-1"], invoice_line_id__isnull=False
    ).exists()


def test_partially_approving_invoiced_events(world, api):
    june_before = invoice_state(world.june_invoice_a)
    dispute = file(world, ["jun-3", "jun-4"])
    resolve(api, dispute, decision="partially_approved", event_ids=["jun-4"], note="jun-3 was confirmed by email.")
    assert status_of(world, "jun-3", "jun-4") == {"jun-3": ("invoiced", ""), "jun-4": ("disputed", "")}
    run_job()
    assert status_of(world, "jun-3", "jun-4") == {"jun-3": ("invoiced", ""), "jun-4": ("credited", "")}
    note = CreditNote.objects.get()
    assert (note.amount, note.event_ids, note.dispute_id) == (Decimal("0.9900"), [world.event("jun-4").pk], dispute.pk)
    assert invoice_state(world.june_invoice_a) == june_before
    july = Invoice.objects.get(account=world.a, period="2026-07")
    assert (july.subtotal, july.credits_applied, july.total) == (
        Decimal("3.9600"),
        Decimal("0.9900"),
        Decimal("2.9700"),
    )


def test_rejecting_leaves_the_charges_and_credits_nothing(world, api):
    june_before = invoice_state(world.june_invoice_a)
    july_before = invoice_state(invoice_draft_refresh(account=world.a, period="2026-07", now=JULY_12))
    dispute = file(world, ["jun-2"])
    open_period = file(world, ["jul-3"])

    body = resolve(api, dispute, decision="rejected", note="The customer confirmed the fix.")
    assert (body["status"], body["credited_amount"], body["credit_status"]) == ("rejected", "0.00", "none")
    resolve(api, open_period, decision="rejected", note="Resolved on the first contact.")
    run_job()

    assert status_of(world, "jun-2", "jul-3") == {"jun-2": ("invoiced", ""), "jul-3": ("billable", "")}
    assert (CreditNote.objects.count(), DisputeCredit.objects.count()) == (0, 0)
    assert invoice_state(world.june_invoice_a) == june_before
    july = invoice_draft_refresh(account=world.a, period="2026-07", now=JULY_13)
    assert invoice_state(july)[2:] == july_before[2:]
    trail = list(dispute.history.values_list("subject", "subject_ref", "from_state", "to_state", "actor"))
    assert trail == [
        ("dispute", "", "", "open", "alice"),
        ("event", "jun-2", "invoiced", "disputed", "alice"),
        ("dispute", "", "open", "rejected", "key:test vendor"),
        ("event", "jun-2", "disputed", "invoiced", "key:test vendor"),
    ]


def test_an_approved_dispute_of_events_invoiced_meanwhile_gets_a_credit_note(world, api):
    """Filed while July was open; July was finalized before the job ran: the events are now on a
    final invoice, so the credit is a credit note — never a change to the final invoice."""
    dispute = file(world, ["jul-0"])
    resolve(api, dispute, decision="approved")
    july = invoice_finalize(account=world.a, period="2026-07", now=AUG_5).invoice
    july_final = invoice_state(july)
    assert july_final[:5] == ("INV-000003", "finalized", Decimal("3.9600"), Decimal("0.0000"), Decimal("3.9600"))

    run_job(AUG_5)

    note = CreditNote.objects.get()
    assert (note.amount, note.invoice_id) == (Decimal("0.9900"), july.pk)
    assert status_of(world, "jul-0") == {"jul-0": ("credited", "")}
    assert invoice_state(july) == july_final
    august = Invoice.objects.get(account=world.a, period="2026-08")
    assert (august.subtotal, august.credits_applied, august.total) == (Decimal(0), Decimal(0), Decimal(0))
    # August has nothing to charge yet: the credit waits for it (applied as far as the subtotal goes).
    assert august.lines.filter(kind="credit_note").count() == 0


def test_events_invoiced_while_their_dispute_is_open_are_marked_disputed_by_the_job(world, api):
    dispute = file(world, ["jul-1"])
    invoice_finalize(account=world.a, period="2026-07", now=AUG_5)
    assert status_of(world, "jul-1") == {"jul-1": ("invoiced", "")}
    assert run_job(AUG_5).startswith("0 disputes credited (credit notes: none), 0 failed, 1 events marked disputed")
    assert status_of(world, "jul-1") == {"jul-1": ("disputed", "")}
    assert dispute.history.filter(subject="event", to_state="disputed").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"decision": "partially_approved", "event_ids": ["jun-0", "jun-1"], "note": "x"}, 400, "validation_error"),
        ({"decision": "partially_approved", "event_ids": ["jun-4"], "note": "x"}, 400, "validation_error"),
        ({"decision": "partially_approved", "event_ids": ["jun-0"]}, 400, "validation_error"),
        ({"decision": "rejected"}, 400, "validation_error"),
        ({"decision": "rejected", "note": "x", "event_ids": ["jun-0"]}, 400, "validation_error"),
        ({"decision": "approved", "event_ids": ["jun-0"]}, 400, "validation_error"),
        ({"decision": "credited", "note": "x"}, 400, "validation_error"),
    ],
)
def test_invalid_resolutions_are_refused_and_change_nothing(world, api, body, status, code):
    dispute = file(world, ["jun-0", "jun-1"])
    response = api["vendor"].post(f"/api/v1/disputes/{dispute.pk}/resolve", body, content_type=JSON)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    dispute.refresh_from_db()
    assert (dispute.status, dispute.credit_state, dispute.history.count()) == ("open", "none", 3)
    assert status_of(world, "jun-0") == {"jun-0": ("disputed", "")}


def test_a_dispute_is_resolved_once(world, api):
    dispute = file(world, ["jun-0"])
    resolve(api, dispute, decision="approved")
    again = api["vendor"].post(
        f"/api/v1/disputes/{dispute.pk}/resolve", {"decision": "rejected", "note": "no"}, content_type=JSON
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": {"code": "dispute_not_open", "message": f"Dispute #{dispute.pk} was already resolved (approved)."}
    }


@pytest.mark.parametrize("who", ["admin_a", "finance_a", "viewer_a"])
def test_customers_cannot_resolve(world, api, who):
    dispute = file(world, ["jun-0"])
    response = api[who].post(f"/api/v1/disputes/{dispute.pk}/resolve", {"decision": "approved"}, content_type=JSON)
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == "open"


def test_the_customer_is_told_of_every_status_change_in_the_app_and_by_email(
    world, api, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api["admin_a"].post(
            "/api/v1/disputes",
            {"account": "acme", "event_ids": ["jun-0"], "reason_code": "duplicate", "message": "x"},
            content_type=JSON,
        )
    dispute_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        resolve(api, type("D", (), {"pk": dispute_id}), decision="approved", note="Agreed, counted twice.")
    with django_capture_on_commit_callbacks(execute=True):
        credits_issue(now=JULY_13)

    titles = list(Notification.objects.filter(kind="dispute_status").order_by("id").values_list("title", "body"))
    assert titles == [
        (f"Dispute #{dispute_id} received", titles[0][1]),
        (
            f"Dispute #{dispute_id} approved",
            "The outcome will be credited ($0.99). Support: “Agreed, counted twice.”",
        ),
        (f"Dispute #{dispute_id}: $0.99 credited", "credit note CN-000001 will be applied to your next invoice."),
    ]
    assert titles[0][1].startswith("1 outcome, $0.99 at stake. Support answers by ")
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"[Acme Support] Dispute #{dispute_id} received",
        f"[Acme Support] Dispute #{dispute_id} approved",
        f"[Acme Support] Dispute #{dispute_id}: $0.99 credited",
    ]
    assert all(m.to == ["alice@example.com", "fiona@example.com"] for m in mail.outbox)  # not the viewer


def test_under_a_contract_priced_in_credits_the_credits_go_back_to_the_prepaid_balance(world, api):
    from billing.credits.models import CreditLedgerEntry
    from tests.billing.helpers import contract
    from tests.disputes.conftest import JULY_5, JUNE_10, post

    kredit = factories.make_account("kredit", name="Kredit Co")
    contract(
        kredit,
        unit="credits",
        credit_price="0.02",
        prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "50"}],
        platform_fee={"name": "Growth plan", "amount": "20.00", "included_credits": "1000"},
    )
    post(kredit, ["k-0", "k-1", "k-2"], JUNE_10)
    outcomes_settle(now=JULY_5)
    june = invoice_finalize(account=kredit, period="2026-06", now=JULY_5).invoice
    june_before = invoice_state(june)
    admin = Principal(role="customer_admin", account_id=kredit.pk, label="kim")
    dispute = dispute_file(
        principal=admin,
        account=kredit,
        reason_code="duplicate",
        message="Twice.",
        event_ids=["k-0", "k-1"],
        now=JULY_12,
    )
    resolve(api, dispute, decision="approved")
    run_job()

    (grant,) = CreditLedgerEntry.objects.filter(account=kredit, kind="dispute_credit")
    assert (grant.credits, grant.dispute_id, grant.reference) == (
        Decimal("100.0000"),
        dispute.pk,
        f"dispute:{dispute.pk}",
    )
    assert CreditNote.objects.filter(account=kredit).count() == 0  # credits, not money
    assert status_of_account(kredit, "k-0", "k-1", "k-2") == ["credited", "credited", "invoiced"]
    assert invoice_state(june) == june_before
    body = api["vendor"].get(f"/api/v1/disputes/{dispute.pk}").json()
    assert (body["credited_amount"], body["credited_credits"], body["credit_note_id"]) == ("0.00", "100", None)
    assert sorted(DisputeCredit.objects.filter(dispute=dispute).values_list("method", "credits")) == [
        ("credits", Decimal("50.0000")),
        ("credits", Decimal("50.0000")),
    ]
    assert run_job().startswith("0 disputes credited")  # once
    assert CreditLedgerEntry.objects.filter(account=kredit, kind="dispute_credit").count() == 1


def status_of_account(account, *event_ids) -> list[str]:
    return [factories.event_seen(e, account).shown_status for e in event_ids]
