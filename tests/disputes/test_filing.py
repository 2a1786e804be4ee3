"""Filing: who may file and read, what can be disputed, and that a refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Notification
from billing.invoices.models import InvoiceLine
from billing.services import credit_note_issue, invoice_draft_refresh
from disputes import services
from disputes.models import Dispute, DisputeHistory, DisputeItem
from disputes.services import dispute_file, dispute_resolve
from metering.models import Event
from tests.disputes.conftest import JULY_12, JULY_13

JSON = "application/json"


def file_body(**overrides) -> dict:
    body = {"account": "acme", "event_ids": ["jun-0", "jun-1"], "reason_code": "not_resolved", "message": "Reopened."}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def snapshot() -> tuple:
    """Everything a filing could write."""
    return (
        Dispute.objects.count(),
        DisputeItem.objects.count(),
        DisputeHistory.objects.count(),
        Notification.objects.count(),
        sorted(Event.objects.values_list("account__external_id", "event_id", "status", "non_billable_reason")),
    )


def statuses(world, *event_ids) -> list[str]:
    return [world.event(e).shown_status for e in event_ids]


# --- Who files, who reads ---------------------------------------------------------------------


def test_a_customer_admin_files_over_the_api(world, api):
    response = api["admin_a"].post("/api/v1/disputes", file_body(), content_type=JSON)

    assert response.status_code == 201, response.content
    body = response.json()
    dispute = Dispute.objects.get()
    assert body == {
        "id": dispute.pk,
        "account": "acme",
        "status": "open",
        "event_ids": ["jun-0", "jun-1"],
        "reason_code": "not_resolved",
        "sla_due_at": (dispute.filed_at + timedelta(hours=48)).isoformat().replace("+00:00", "Z"),
        "resolution_note": None,
        "credited_amount": None,
        "message": "Reopened.",
        "invoice_line_id": None,
        "invoice_id": world.june_invoice_a.pk,
        "period": "2026-06",
        "currency": "USD",
        "amount_at_stake": "1.98",
        "filed_at": dispute.filed_at.isoformat().replace("+00:00", "Z"),
        "filed_by": "key:test customer_admin",
        "resolved_at": None,
        "approved_event_ids": [],
        "credit_status": "none",
        "credit_note_id": None,
        "credit_note_number": None,
        "credited_at": None,
        "credited_credits": None,
    }
    # Invoiced events under an open dispute say so; the others are untouched.
    assert statuses(world, "jun-0", "jun-1", "jun-2") == ["disputed", "disputed", "invoiced"]
    trail = list(dispute.history.values_list("subject", "subject_ref", "from_state", "to_state", "actor"))
    assert trail == [
        ("dispute", "", "", "open", "key:test customer_admin"),
        ("event", "jun-0", "invoiced", "disputed", "key:test customer_admin"),
        ("event", "jun-1", "invoiced", "disputed", "key:test customer_admin"),
    ]
    (note,) = Notification.objects.filter(kind="dispute_status")
    assert (note.account_id, note.title, note.roles) == (
        world.a.pk,
        f"Dispute #{dispute.pk} received",
        ["customer_admin", "finance_admin"],
    )


def test_not_yet_invoiced_events_stay_billable_and_on_the_draft_while_disputed(world):
    dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="duplicate",
        message="Twice.",
        event_ids=["jul-0"],
        now=JULY_12,
    )

    assert statuses(world, "jul-0") == ["billable"]  # still charged until support decides
    draft = invoice_draft_refresh(account=world.a, period="2026-07", now=JULY_13)
    assert (draft.status, draft.subtotal, draft.total) == ("draft", Decimal("3.9600"), Decimal("3.9600"))


@pytest.mark.parametrize(("who", "perm"), [("viewer_a", "disputes.file"), ("finance_a", "disputes.file")])
def test_viewers_and_finance_admins_cannot_file_and_nothing_changes(world, api, who, perm):
    before = snapshot()
    response = api[who].post("/api/v1/disputes", file_body(), content_type=JSON)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "permission_denied", "message": f"This key or user is not allowed to do this ({perm})."}
    }
    assert snapshot() == before


def test_the_service_refuses_them_too(world):
    # Tenancy and roles are held below HTTP as well.
    with pytest.raises(services.DisputeRefused) as refused:
        dispute_file(
            principal=world.principal("viewer_a"),
            account=world.a,
            reason_code="other",
            message="x",
            event_ids=["jun-0"],
        )
    assert (refused.value.code, refused.value.status) == ("permission_denied", 403)
    with pytest.raises(services.DisputeRefused) as refused:
        dispute_file(
            principal=world.principal("admin_b"),
            account=world.a,
            reason_code="other",
            message="x",
            event_ids=["jun-0"],
        )
    assert (refused.value.code, refused.value.status) == ("not_found", 404)
    assert Dispute.objects.count() == 0


def test_another_accounts_events_are_404_and_reveal_nothing(world, api):
    before = snapshot()
    # B names A's account: the account is "not found".
    named = api["admin_b"].post("/api/v1/disputes", file_body(), content_type=JSON)
    assert (named.status_code, named.json()) == (404, {"error": {"code": "not_found", "message": "No such account."}})
    # B names its own account and A's event IDs: exactly as unknown as an ID nobody has.
    theirs = api["admin_b"].post(
        "/api/v1/disputes", file_body(account="globex", event_ids=["jun-0"]), content_type=JSON
    )
    unknown = api["admin_b"].post(
        "/api/v1/disputes", file_body(account="globex", event_ids=["nope-9"]), content_type=JSON
    )
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == {"error": {"code": "not_found", "message": "No such event in this account: jun-0."}}
    assert unknown.json() == {"error": {"code": "not_found", "message": "No such event in this account: nope-9."}}
    assert b"Acme" not in theirs.content and b"acme" not in theirs.content
    assert snapshot() == before


@pytest.mark.parametrize("who", ["admin_a", "finance_a", "viewer_a", "vendor"])
def test_viewers_finance_admins_and_the_vendor_read_disputes(world, api, who):
    dispute = dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=["jun-0"]
    )
    one = api[who].get(f"/api/v1/disputes/{dispute.pk}")
    assert one.status_code == 200
    assert (one.json()["id"], one.json()["event_ids"]) == (dispute.pk, ["jun-0"])
    listed = api[who].get("/api/v1/disputes?account=acme&status=open")
    assert [d["id"] for d in listed.json()["results"]] == [dispute.pk]
    assert api[who].get("/api/v1/disputes?status=rejected").json() == {"results": []}


def test_another_accounts_dispute_is_404_like_a_missing_one(world, api):
    dispute = dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=["jun-0"]
    )
    theirs = api["admin_b"].get(f"/api/v1/disputes/{dispute.pk}")
    missing = api["admin_b"].get("/api/v1/disputes/999999")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() == {"error": {"code": "not_found", "message": "No such dispute."}}
    assert api["admin_b"].get("/api/v1/disputes").json() == {"results": []}
    assert api["admin_b"].get("/api/v1/disputes?account=acme").status_code == 404


# --- What can be disputed ---------------------------------------------------------------------


def _approve_and_credit(world, event_ids):
    dispute = dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=event_ids
    )
    dispute_resolve(principal=world.principal("support"), dispute=dispute, decision="approved", now=JULY_12)
    services.credits_issue(now=JULY_13)


@pytest.mark.parametrize(
    ("setup", "event_ids", "code", "detail"),
    [
        (
            None,
            ["jul-pending"],
            "event_not_billed",
            "jul-pending: pending — its measurement window is still open, so it is not charged yet.",
        ),
        (None, ["jul-sandbox"], "event_not_billed", "jul-sandbox: not billable (sandbox) — not charged."),
        ("open", ["jun-0"], "event_in_open_dispute", "jun-0: already in open dispute #{id}."),
        ("credited", ["jun-0"], "event_already_credited", "jun-0: already credited by dispute #{id}."),
        ("credited_open_period", ["jul-0"], "event_already_credited", "jul-0: already credited by dispute #{id}."),
    ],
)
def test_events_that_cannot_be_disputed_are_refused_with_a_clear_error(world, api, setup, event_ids, code, detail):
    first = None
    if setup == "open":
        first = dispute_file(
            principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=event_ids
        )
    elif setup in ("credited", "credited_open_period"):
        _approve_and_credit(world, event_ids)
        first = Dispute.objects.get()
    before = snapshot()

    response = api["admin_a"].post("/api/v1/disputes", file_body(event_ids=[*event_ids, "jun-4"]), content_type=JSON)

    assert response.status_code == 400
    detail = detail.format(id=first.pk if first else "")
    assert response.json() == {
        "error": {
            "code": code,
            "message": "Nothing was filed: 1 of the 2 events cannot be disputed.",
            "fields": {"event_ids": [detail]},
        }
    }
    assert snapshot() == before


def test_events_of_two_invoices_are_disputed_one_invoice_at_a_time(world, api):
    before = snapshot()
    response = api["admin_a"].post("/api/v1/disputes", file_body(event_ids=["jun-0", "jul-0"]), content_type=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "events_on_several_invoices"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (file_body(reason_code="too_expensive"), {"reason_code": ['"too_expensive" is not a valid choice.']}),
        (file_body(message=""), {"message": ["This field may not be blank."]}),
        (file_body(event_ids=[]), {"event_ids": ["From 1 to 5000 event IDs."]}),
        (file_body(invoice_line_id=1), {"event_ids": ["Give either event_ids or invoice_line_id."]}),
        (
            {"account": "acme", "reason_code": "other", "message": "x"},
            {"event_ids": ["Give either event_ids or invoice_line_id."]},
        ),
    ],
)
def test_invalid_filings_are_400_with_fields(world, api, body, fields):
    before = snapshot()
    response = api["admin_a"].post("/api/v1/disputes", body, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields
    assert response.json()["error"]["code"] == "validation_error"
    assert snapshot() == before


def test_one_open_dispute_per_event_is_held_by_the_database(world, monkeypatch):
    """Even a filing that skipped the check (a race: both checked before either inserted) is refused."""
    dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=["jun-0"]
    )
    monkeypatch.setattr(services.filing, "event_refusals", lambda events: {})
    before = snapshot()
    with pytest.raises(services.DisputeRefused) as refused:
        dispute_file(
            principal=world.principal("admin_a"),
            account=world.a,
            reason_code="other",
            message="y",
            event_ids=["jun-0", "jun-1"],
        )
    assert refused.value.code == "event_in_open_dispute"
    assert snapshot() == before
    # And at the lowest level: the partial unique index.
    with pytest.raises(IntegrityError), transaction.atomic():
        DisputeItem.objects.create(
            dispute=Dispute.objects.get(), account=world.a, event=world.event("jun-0"), status_at_filing="invoiced"
        )


def test_once_resolved_an_event_can_be_disputed_again(world):
    dispute = dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=["jun-0"]
    )
    dispute_resolve(principal=world.principal("support"), dispute=dispute, decision="rejected", note="Confirmed.")
    assert statuses(world, "jun-0") == ["invoiced"]
    again = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="other",
        message="New evidence.",
        event_ids=["jun-0"],
    )
    assert (again.status, statuses(world, "jun-0")) == ("open", ["disputed"])


# --- An invoice line --------------------------------------------------------------------------


def test_an_invoice_line_disputes_its_still_disputable_events(world, api):
    dispute_file(
        principal=world.principal("admin_a"), account=world.a, reason_code="other", message="x", event_ids=["jun-4"]
    )
    (line,) = InvoiceLine.objects.filter(invoice=world.june_invoice_a)

    response = api["admin_a"].post(
        "/api/v1/disputes",
        file_body(event_ids=None, invoice_line_id=line.pk, reason_code="outside_definition"),
        content_type=JSON,
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["event_ids"], body["invoice_line_id"], body["amount_at_stake"]) == (
        ["jun-0", "jun-1", "jun-2", "jun-3"],  # jun-4 is in the other open dispute
        line.pk,
        "3.96",
    )


def test_a_line_of_another_account_or_not_per_outcome_is_refused(world, api):
    (line_b,) = InvoiceLine.objects.filter(invoice=world.june_invoice_b)
    theirs = api["admin_a"].post(
        "/api/v1/disputes", file_body(event_ids=None, invoice_line_id=line_b.pk), content_type=JSON
    )
    assert theirs.json() == {"error": {"code": "not_found", "message": "No such invoice line."}}
    credit_note_issue(account=world.a, amount=Decimal("1.00"), reason="goodwill")
    draft = invoice_draft_refresh(account=world.a, period="2026-07", now=JULY_13)
    credit_line = draft.lines.get(kind="credit_note")
    response = api["admin_a"].post(
        "/api/v1/disputes", file_body(event_ids=None, invoice_line_id=credit_line.pk), content_type=JSON
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "line_not_disputable"


def test_the_vendor_files_on_behalf_of_an_account(world, api):
    response = api["vendor"].post(
        "/api/v1/disputes", file_body(event_ids=["b-jun-0"], account="globex"), content_type=JSON
    )
    assert response.status_code == 201
    assert (response.json()["account"], response.json()["filed_by"]) == ("globex", "key:test vendor")


def test_the_filing_notification_gives_the_sla_in_the_accounts_own_zone(world):
    world.a.timezone = "Asia/Tokyo"
    world.a.save(update_fields=["timezone"])
    dispute = dispute_file(principal=world.principal("admin_a"), account=world.a, reason_code="not_resolved",
                           message="Still broken.", event_ids=["jun-0"], now=JULY_12)  # fmt: skip
    note = Notification.objects.filter(kind__startswith="dispute", title=f"Dispute #{dispute.pk} received").get()
    # Filed 12 July 12:00 UTC with a 48 h SLA: 14 July 12:00 UTC is 21:00 in Tokyo.
    assert "Support answers by 14 Jul 2026, 21:00 JST (Asia/Tokyo)." in note.body
