"""The API contract's shapes, tenancy (B never sees A's invoices), and the drill-down pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import Role
from billing.invoices.models import ContractVersion
from billing.services import credit_note_issue
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize
from tests.conftest import key_client

RES = "resolved_conversation"


@pytest.fixture
def billed(db):
    """Acme: 48 resolutions at $0.99 on 12 June 2026, finalized; Globex: an invoice of its own."""
    factories.make_outcome_type()
    acme, globex = factories.make_account("acme", name="Acme Support"), factories.make_account("globex", name="Globex")
    for account in (acme, globex):
        contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    post(acme, 48, cost_amount="0.10")
    post(globex, 2)
    invoice = settle_and_finalize(acme)
    other = settle_and_finalize(globex)
    note = credit_note_issue(account=acme, amount=invoice.total / 48, reason="dispute approved", invoice_id=invoice.pk)
    return {"acme": acme, "globex": globex, "invoice": invoice, "other": other, "note": note}


def test_invoice_shapes_exactly_as_the_contract(billed):
    invoice = billed["invoice"]
    body = key_client(billed["acme"], Role.VIEWER).get(f"/api/v1/invoices/{invoice.pk}").json()
    line = invoice.lines.get()
    assert {k: body[k] for k in ("id", "number", "account", "period", "status", "currency", "subtotal",
                                 "credits_applied", "total")} == {
        "id": invoice.pk, "number": "INV-000001", "account": "acme", "period": "2026-06", "status": "finalized",
        "currency": "USD", "subtotal": "47.52", "credits_applied": "0.00", "total": "47.52"}  # fmt: skip
    assert [{k: ln[k] for k in ("id", "description", "outcome_type", "quantity", "unit_price", "amount")}
            for ln in body["lines"]] == [{"id": line.pk, "description": "Resolved conversation",
                                          "outcome_type": RES, "quantity": "48", "unit_price": "0.99",
                                          "amount": "47.52"}]  # fmt: skip


def test_line_events_paginated_like_events_and_without_cost_for_customers(billed):
    invoice = billed["invoice"]
    line = invoice.lines.get()
    client = key_client(billed["acme"], Role.VIEWER)
    seen, url = [], f"/api/v1/invoices/{invoice.pk}/lines/{line.pk}/events?limit=20"
    while url:
        page = client.get(url).json()
        seen += page["results"]
        url = (f"/api/v1/invoices/{invoice.pk}/lines/{line.pk}/events?limit=20&cursor={page['next_cursor']}"
               if page["next_cursor"] else None)  # fmt: skip
    assert len(seen) == len({r["event_id"] for r in seen}) == 48
    assert all(r["invoice_id"] == invoice.pk and r["amount"] == "0.990000" and "cost_amount" not in r for r in seen)
    assert [r["occurred_at"] for r in seen] == sorted((r["occurred_at"] for r in seen), reverse=True)
    vendor = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    row = vendor.get(f"/api/v1/invoices/{invoice.pk}/lines/{line.pk}/events?limit=1").json()["results"][0]
    assert row["cost_amount"] == "0.100000"
    # The events API itself now names the invoice of a billed event.
    event = client.get(f"/api/v1/events/acme/{row['event_id']}").json()
    assert (event["invoice_id"], event["invoice_line_id"]) == (invoice.pk, line.pk)


def test_another_accounts_invoice_lines_and_credit_notes_are_404(billed):
    invoice, line = billed["invoice"], billed["invoice"].lines.get()
    b = key_client(billed["globex"], Role.CUSTOMER_ADMIN)
    for path in (f"/api/v1/invoices/{invoice.pk}", f"/api/v1/invoices/{invoice.pk}/lines/{line.pk}/events",
                 "/api/v1/invoices?account=acme", "/api/v1/credit-notes?account=acme"):  # fmt: skip
        response = b.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert b"acme" not in b.get("/api/v1/invoices").content
    assert b.get("/api/v1/credit-notes").json() == {"results": []}
    other_line = billed["other"].lines.get()
    assert key_client(billed["acme"]).get(f"/api/v1/invoices/{invoice.pk}/lines/{other_line.pk}/events").status_code \
        == 404  # fmt: skip


def test_credit_notes_shape(billed):
    note = billed["note"]
    body = key_client(billed["acme"], Role.VIEWER).get("/api/v1/credit-notes?account=acme").json()
    assert body["results"] == [{"id": note.pk, "number": "CN-000001", "account": "acme",
                                "invoice_id": billed["invoice"].pk, "amount": "0.99", "currency": "USD",
                                "reason": "dispute approved", "event_ids": [], "dispute_id": None,
                                "created_at": body["results"][0]["created_at"]}]  # fmt: skip


def test_contract_put_and_get(db):
    factories.make_outcome_type()
    factories.make_account("acme")
    vendor = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    doc = {"effective_from": "2026-06-01", "prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
           "platform_fee": {"amount": "1500.00", "included_outcomes": 1000}}  # fmt: skip
    created = vendor.put("/api/v1/accounts/acme/contract", json.dumps(doc), content_type="application/json")
    assert created.status_code == 201
    assert (created.json()["version"], created.json()["terms"]["platform_fee"]["amount"]) == (1, "1500.00")
    bad = vendor.put("/api/v1/accounts/acme/contract", json.dumps({"prices": [{"outcome_type": "nope", "price": 1}]}),
                     content_type="application/json")  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"effective_from", "prices.0.outcome_type", "prices.0.price"}
    assert ContractVersion.objects.count() == 1
    got = key_client(factories.Account.objects.get(external_id="acme"), Role.VIEWER).get(
        "/api/v1/accounts/acme/contract?period=2026-07").json()  # fmt: skip
    assert got["version"] == 1 and any("1,000 outcomes" in s for s in got["plan"])
    admin = key_client(factories.Account.objects.get(external_id="acme"))
    refused = admin.put("/api/v1/accounts/acme/contract", json.dumps(doc), content_type="application/json")
    assert refused.status_code == 403 and ContractVersion.objects.count() == 1


def test_contract_put_prorated_inside_a_month(db):
    factories.make_outcome_type()
    factories.make_account("acme")
    vendor = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    doc = {"effective_from": "2026-06-01", "prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
           "platform_fee": {"amount": "1500.00", "included_outcomes": 1000}}  # fmt: skip
    vendor.put("/api/v1/accounts/acme/contract", json.dumps(doc), content_type="application/json")
    change = doc | {"effective_from": "2026-07-11", "mid_period": "prorate",
                    "platform_fee": {"amount": "3000.00", "included_outcomes": 2000}}  # fmt: skip
    created = vendor.put("/api/v1/accounts/acme/contract", json.dumps(change), content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert (body["version"], body["effective_from"]) == (2, "2026-07-01")  # the month's version
    # 10 of 31 days at 1,500.00 = 483.87; 21 of 31 at 3,000.00 = 2,032.26
    assert (body["terms"]["proration"]["before"]["amount"], body["terms"]["proration"]["after"]["amount"]) == (
        "483.87", "2032.26")  # fmt: skip
    assert body["terms"]["platform_fee"]["amount"] == "2516.13"
    assert [v["effective_from"] for v in body["versions"]][:3] in (
        ["2026-08-01", "2026-07-01", "2026-06-01"], ["2026-06-01", "2026-07-01", "2026-08-01"])  # fmt: skip
    bad = vendor.put("/api/v1/accounts/acme/contract", json.dumps(change | {"mid_period": "now"}),
                     content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"mid_period"}
    assert ContractVersion.objects.count() == 3


def test_why_was_i_charged_4752_on_june_12th_in_two_clicks(billed):
    user = factories.make_user(Role.CUSTOMER_ADMIN, billed["acme"])
    client = Client()
    client.force_login(user)
    invoice, line = billed["invoice"], billed["invoice"].lines.get()
    page = client.get("/account/acme/invoices/")  # click 1: "Invoices" in the navigation
    line_url = f"/account/acme/invoices/{invoice.pk}/lines/{line.pk}/"
    assert page.status_code == 200 and line_url.encode() in page.content and b"$47.52" in page.content
    drill = client.get(line_url)  # click 2: the line
    text = drill.content.decode()
    assert "$47.52: 48 × $0.99" in text and "12 Jun 2026" in text and text.count("/events/") >= 48
    assert f"?line={line.pk}" in text  # the audit table, filtered to this line


def test_pages_pdf_csv_plan_and_tenancy(billed):
    invoice = billed["invoice"]
    viewer = Client()
    viewer.force_login(factories.make_user(Role.VIEWER, billed["acme"]))
    base = f"/account/acme/invoices/{invoice.pk}/"
    assert viewer.get(base).status_code == 200
    assert b"INV-000001" in viewer.get(base + "print/").content
    pdf = viewer.get(base + "invoice.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    lines_csv = viewer.get(base + "lines.csv").content.decode().splitlines()
    assert lines_csv[1].endswith("Resolved conversation,resolved_conversation,48,0.99,,47.52,USD")
    events_csv = viewer.get(base + "events.csv").content.decode().splitlines()
    assert len(events_csv) == 49 and "cost" not in events_csv[0]
    plan = viewer.get("/account/acme/plan/").content.decode()
    assert "<h1>Prices and terms</h1>" in plan and "$0.99 per outcome" in plan
    assert viewer.get("/account/acme/contract/").status_code == 403  # vendor operators only
    outsider = Client()
    outsider.force_login(factories.make_user(Role.CUSTOMER_ADMIN, billed["globex"]))
    for path in (base, base + "invoice.pdf", base + "lines.csv", base + "events.csv", "/account/acme/invoices/",
                 f"/account/globex/invoices/{invoice.pk}/"):  # fmt: skip
        assert outsider.get(path).status_code == 404, path
