"""The OpenAPI schema documents the invoice document, payment and delivery endpoints with their exact answers."""

from __future__ import annotations

import pytest

PATHS = {
    ("/api/v1/invoices/{invoice_id}/payments", "post"): {"200", "201", "400", "401", "403", "404", "409"},
    ("/api/v1/invoices/{invoice_id}/uncollectible", "post"): {"200", "400", "401", "403", "404", "409"},
    ("/api/v1/invoices/{invoice_id}/void", "post"): {"200", "400", "401", "403", "404", "409"},
    ("/api/v1/payments/webhook", "post"): {"200", "400", "403", "404", "409"},
    ("/api/v1/payments/stripe", "post"): {"200", "400", "403", "404", "409"},
    ("/api/v1/deliveries", "get"): {"200", "400", "401", "403", "404"},
    ("/api/v1/accounts/{external_id}", "patch"): {"200", "400", "401", "403", "404"},
}


@pytest.fixture
def schema(vendor_client):
    return vendor_client.get("/api/schema/", {"format": "json"}).json()


def test_every_new_operation_lists_its_answers(schema):
    for (path, method), codes in PATHS.items():
        assert codes <= set(schema["paths"][path][method]["responses"]), (path, method)  # (+ the shared errors)


def test_the_webhook_needs_no_key_but_its_signature_header(schema):
    operation = schema["paths"]["/api/v1/payments/webhook"]["post"]
    assert operation.get("security", []) in ([], [{}])  # no key: nothing to authenticate with
    assert "security" not in schema  # (each keyed operation lists its own)
    assert schema["paths"]["/api/v1/invoices/{invoice_id}/payments"]["post"]["security"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"]) == ("OutcomePortal-Signature", True)


def test_the_invoice_schema_names_the_document_fields(schema):
    invoice = schema["components"]["schemas"]["Invoice"]["properties"]
    for name in ("issued_at", "due_at", "payment_terms_days", "payment_status", "amount_paid", "amount_credited",
                 "amount_due", "tax_rate", "tax_amount", "seller", "buyer", "void_reason", "replaces",
                 "replaced_by"):  # fmt: skip
        assert name in invoice, name
    assert schema["components"]["schemas"]["PaymentStatusEnum"]["enum"] == ["open", "paid", "void", "uncollectible"]
