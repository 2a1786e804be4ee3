"""The invoice as a document: seller, buyer, issue and due dates, tax, amounts — the same on the page,
the PDF and the API, fixed when the invoice is finalized."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from pypdf import PdfReader

from accounts.models import Role
from accounts.services import BillingDetailsInvalid, account_billing_details_update
from billing import pdf
from billing.contracts import TermsInvalid, terms_json, terms_parse
from billing.invoices.document import REVERSE_CHARGE_NOTE, TaxRule, tax_apply
from billing.invoices.models import Invoice, TaxRate
from billing.services import invoice_draft_refresh
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize

RES = "resolved_conversation"


@pytest.fixture
def acme(db, settings):
    settings.SELLER_LEGAL_NAME = "Eximius AI Ltd"
    settings.SELLER_ADDRESS = "1 Harbour Street|London EC1A 1AA"
    settings.SELLER_COUNTRY = "GB"
    settings.SELLER_TAX_ID = "GB123456789"
    settings.SELLER_EMAIL = "billing@eximius.example"
    settings.SELLER_PAYMENT_INSTRUCTIONS = "IBAN GB00 BANK 0000 0000 0000 00, BIC BANKGB2L."
    factories.make_outcome_type()
    account = factories.make_account("acme", name="Acme Support")
    account_billing_details_update(
        account=account,
        billing_name="Acme Support GmbH",
        billing_address="Hauptstraße 5\n10115 Berlin",
        billing_country="de",
        tax_id="DE999999999",
        billing_emails=["AP@acme.example", "cfo@acme.example"],
    )
    return account


def unit(p="0.99"):
    return [{"outcome_type": RES, "model": "unit", "price": p}]


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_payment_terms_are_a_contract_term_net_30_by_default():
    doc = {"effective_from": "2026-01-01", "prices": unit()}
    assert terms_parse(doc).payment_terms_days == 30
    assert terms_json(terms_parse({**doc, "payment_terms_days": 14}))["payment_terms_days"] == 14
    with pytest.raises(TermsInvalid) as refused:
        terms_parse({**doc, "payment_terms_days": -1})
    assert refused.value.fields == {"payment_terms_days": ["An integer from 0 to 365."]}


def test_a_finalized_invoice_carries_seller_buyer_dates_and_tax(acme):
    TaxRate.objects.create(country="DE", rate=D("19"), name="VAT")
    contract(acme, prices=unit(), payment_terms_days=14)
    post(acme, 48)
    invoice = settle_and_finalize(acme)

    assert (invoice.issued_at, invoice.due_at) == (AFTER_JUNE, AFTER_JUNE + timedelta(days=14))
    assert invoice.payment_terms_days == 14
    assert invoice.seller == {
        "name": "Eximius AI Ltd",
        "address": "1 Harbour Street\nLondon EC1A 1AA",
        "country": "GB",
        "tax_id": "GB123456789",
        "emails": ["billing@eximius.example"],
        "payment_instructions": "IBAN GB00 BANK 0000 0000 0000 00, BIC BANKGB2L.",
    }
    assert invoice.buyer == {
        "name": "Acme Support GmbH",
        "address": "Hauptstraße 5\n10115 Berlin",
        "country": "DE",
        "tax_id": "DE999999999",
        "emails": ["ap@acme.example", "cfo@acme.example"],
        "payment_instructions": "",
    }
    # 48 × 0.99 = 47.52; 19 % of it = 9.0288 → 9.03 (rounded once, half away from zero).
    assert (invoice.total, invoice.tax_rate, invoice.tax_amount) == (D("47.52"), D("19"), D("9.03"))
    assert (invoice.total_with_tax, invoice.amount_paid, invoice.amount_due) == (D("56.55"), D("0"), D("56.55"))
    assert (invoice.payment_status, invoice.tax_note) == ("open", "")


def test_the_account_rule_wins_over_the_country_and_reverse_charge_says_so(acme):
    TaxRate.objects.create(country="DE", rate=D("19"))
    TaxRate.objects.create(account=acme, rate=D("0"), reverse_charge=True)
    contract(acme, prices=unit())
    post(acme, 10)
    invoice = settle_and_finalize(acme)
    assert (invoice.tax_rate, invoice.tax_amount, invoice.total_with_tax) == (D("0"), D("0"), D("9.90"))
    assert invoice.tax_note == REVERSE_CHARGE_NOTE.format(name="VAT")


def test_no_rule_no_tax():
    tax = tax_apply(net=D("100.00"), currency="USD", rule=None)
    assert (tax.rate, tax.amount, tax.note) == (D("0"), D("0.00"), "")
    assert tax_apply(net=D("0.05"), currency="USD", rule=TaxRule(rate=D("10"))).amount == D("0.01")  # 0.005 → 0.01
    assert tax_apply(net=D("1000"), currency="JPY", rule=TaxRule(rate=D("10.5"))).amount == D("105")


def test_a_later_change_of_billing_details_or_tax_never_rewrites_an_issued_invoice(acme):
    contract(acme, prices=unit())
    post(acme, 3)
    invoice = settle_and_finalize(acme)
    account_billing_details_update(account=acme, billing_name="Acme Holdings", billing_country="FR")
    TaxRate.objects.create(country="FR", rate=D("20"))
    invoice.refresh_from_db()
    assert (invoice.buyer["name"], invoice.tax_amount) == ("Acme Support GmbH", D("0"))
    # The next draft says what is true now.
    draft = invoice_draft_refresh(account=acme, period="2026-07", now=AFTER_JUNE)
    assert (draft.buyer["name"], draft.buyer["country"], draft.tax_rate) == ("Acme Holdings", "FR", D("20"))
    assert (draft.payment_status, draft.issued_at, draft.due_at) == (None, None, None)


def test_the_document_of_a_final_invoice_never_changes_but_its_collection_may(acme):
    contract(acme, prices=unit())
    post(acme, 3)
    invoice = settle_and_finalize(acme)
    for change in ({"tax_amount": D("1")}, {"due_at": AFTER_JUNE}, {"buyer": {}}, {"seller": {}}):
        with pytest.raises(DatabaseError, match="it can never change"), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(**change)
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=D("1.00"))  # billing.receivables moves these
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=D("2.00"), total=D("0"))


def test_page_pdf_and_api_print_the_same_figures(acme):
    TaxRate.objects.create(country="DE", rate=D("19"))
    contract(acme, prices=unit(), payment_terms_days=14)
    post(acme, 48)
    invoice = settle_and_finalize(acme)

    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}").get(f"/api/v1/invoices/{invoice.pk}").json()
    assert {k: api[k] for k in ("subtotal", "total", "tax_rate", "tax_amount", "total_with_tax", "amount_due")} == {
        "subtotal": "47.52",
        "total": "47.52",
        "tax_rate": "19",
        "tax_amount": "9.03",
        "total_with_tax": "56.55",
        "amount_due": "56.55",
    }
    assert (api["issued_at"], api["due_at"], api["payment_terms_days"]) == (
        "2026-07-05T00:00:00Z",
        "2026-07-19T00:00:00Z",
        14,
    )
    assert (api["payment_status"], api["amount_paid"], api["amount_credited"]) == ("open", "0.00", "0.00")
    assert (api["seller"]["tax_id"], api["buyer"]["tax_id"]) == ("GB123456789", "DE999999999")

    client = Client()
    client.force_login(factories.make_user(Role.VIEWER, acme))
    page = client.get(f"/account/acme/invoices/{invoice.pk}/").content.decode()
    text = pdf_text(pdf.invoice_pdf(invoice))
    for figure in ("$47.52", "$9.03", "$56.55", "INV-000001", "5 Jul 2026", "19 Jul 2026 (net 14)",
                   "Acme Support GmbH", "DE999999999", "Eximius AI Ltd", "GB123456789", "Tax (19 %)"):  # fmt: skip
        assert figure in page, figure
        assert figure in text, figure
    assert "June 2026" in page and "June 2026" in text and "1 Jun 2026 – 30 Jun 2026" not in text  # the service period
    assert "IBAN GB00 BANK" in text and "Please quote INV-000001" in text


def test_billing_details_are_checked_field_by_field(acme):
    with pytest.raises(BillingDetailsInvalid) as refused:
        account_billing_details_update(account=acme, billing_country="Germany", billing_emails=["not-an-email"])
    assert refused.value.fields == {
        "billing_country": ["A two-letter ISO 3166-1 country code, e.g. DE, or empty."],
        "billing_emails": ["Not an email address: not-an-email."],
    }
    acme.refresh_from_db()
    assert (acme.billing_country, acme.billing_emails) == ("DE", ["ap@acme.example", "cfo@acme.example"])


@pytest.mark.parametrize(
    ("role", "status"), [(Role.CUSTOMER_ADMIN, 302), (Role.FINANCE_ADMIN, 403), (Role.VIEWER, 403)]
)
def test_the_customer_admin_edits_billing_details_in_the_portal(acme, role, status):
    client = Client()
    client.force_login(factories.make_user(role, acme))
    form = {"billing_name": "Acme AG", "billing_address": "Ring 1\nWien", "billing_country": "at",
            "tax_id": "ATU1", "billing_emails": "ap@acme.example, billing@acme.example"}  # fmt: skip
    response = client.post("/account/acme/billing-details/", form)
    assert response.status_code == status
    acme.refresh_from_db()
    if status == 302:
        assert (acme.billing_name, acme.billing_country, acme.billing_emails) == (
            "Acme AG",
            "AT",
            ["ap@acme.example", "billing@acme.example"],
        )
    else:
        assert acme.billing_name == "Acme Support GmbH"
    assert client.get("/account/acme/billing-details/").status_code == 200


def test_another_accounts_billing_details_page_is_404(acme):
    other = factories.make_account("globex")
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, other))
    assert client.get("/account/acme/billing-details/").status_code == 404
    assert client.post("/account/acme/billing-details/", {"billing_name": "x"}).status_code == 404
    acme.refresh_from_db()
    assert acme.billing_name == "Acme Support GmbH"
