"""The contract as a form (billing/contract_form/, the page billing:contract).

Every contract model and every optional part goes document → form → document unchanged; what the
document's validation refuses lands on the input that holds it; the page saves a version from the
form and from pasted JSON, previews the plan in words and the last closed month repriced, and is the
vendor operators' alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import Role
from billing.contract_form import BAND_ROWS, ROW_MODELS, ContractEditor
from billing.contracts import terms_json, terms_parse
from billing.invoices.models import ContractVersion
from billing.pricing.models import MODELS
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize
from tests.test_csp import assert_nothing_inline

RES, LEAD = "resolved_conversation", "qualified_lead"
BANDS = [{"up_to": 1000, "price": "1.00"}, {"up_to": 5000, "price": "0.80"}, {"up_to": None, "price": "0.60"}]
SIX_BANDS = [{"up_to": up_to, "price": price} for up_to, price in
             ((10, "2.00"), (20, "1.75"), (30, "1.50"), (40, "1.25"), (50, "1.00"), (None, "0.50"))]  # fmt: skip
UNIT = {"outcome_type": RES, "model": "unit", "price": "0.99"}

# Each model of billing/pricing/models, and each part of the document, at least once.
DOCUMENTS: dict[str, dict] = {
    "unit": {"prices": [UNIT]},
    "complexity": {"prices": [{"outcome_type": RES, "model": "complexity", "default_tier": "moderate",
                               "tiers": {"simple": "0.50", "moderate": "1.50", "complex": "3.00"}}]},
    "graduated": {"prices": [{"outcome_type": RES, "model": "graduated", "bands": BANDS}]},
    "volume, more bands than rows": {"prices": [{"outcome_type": RES, "model": "volume", "bands": SIX_BANDS}]},
    "helpdesk": {"prices": [{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}]},
    "gain_share": {"prices": [{"outcome_type": RES, "model": "gain_share", "percent": "15", "baseline": "100.00"}]},
    "no price": {"prices": []},
    "per conversation, notes, net 45": {"basis": "per_conversation", "prices": [UNIT], "payment_terms_days": 45,
                                        "notes": "Signed by J. Doe.\nRenews yearly."},
    "platform fee, included outcomes of one type": {
        "prices": [UNIT, {"outcome_type": LEAD, "model": "unit", "price": "4.00"}],
        "platform_fee": {"name": "Support plan", "amount": "1500.00", "included_outcomes": 1000,
                         "included_types": [RES]}},
    "credits, rollover": {"unit": "credits", "credit_price": "0.02",
                          "prices": [{"outcome_type": RES, "model": "unit", "price": "50"},
                                     {"outcome_type": LEAD, "model": "complexity",
                                      "tiers": {"simple": "80", "moderate": "100", "complex": "150"}}],
                          "platform_fee": {"amount": "20.00", "included_credits": "1000", "rollover": True}},
    "commitment in arrears": {"prices": [UNIT], "commitment": {"amount": "50000.00", "start": "2026-01", "months": 12}},
    "commitment prepaid": {"prices": [UNIT],
                           "commitment": {"amount": "12.00", "start": "2026-05", "months": 3, "prepaid": True}},
    "onboarding": {"prices": [UNIT], "onboarding": {"starts": "2026-06-15", "training_days": 30,
                                                     "pilot_free_outcomes": 100, "implementation_fee": "2500.00"}},
    "onboarding, training only": {"prices": [UNIT], "onboarding": {"training_days": 14}},
    "price lock, minimum": {"prices": [UNIT], "monthly_minimum": "100.00",
                            "price_lock": {"days": 90, "previous_plan_cost": "2000.00"}},
    "guarantee": {"prices": [UNIT], "guarantee": {"outcome_type": RES, "min_attainment": "0.85",
                                                   "credit_percent_per_point": "5"}},
    "term, renews for a year with 60 days' notice": {
        "prices": [UNIT], "term": {"starts": "2026-01-15", "months": 24, "renewal_months": 12, "notice_days": 60}},
    "term, ends without renewal": {"prices": [UNIT], "term": {"starts": "2026-06-01", "months": 6,
                                                              "renewal": "none"}},
    "every model and every part": {
        "basis": "per_conversation", "monthly_minimum": "10.00", "payment_terms_days": 14, "notes": "All of it.",
        "prices": [
            {"outcome_type": RES, "model": "graduated", "bands": BANDS},
            {"outcome_type": LEAD, "model": "gain_share", "percent": "12.5", "baseline": "0"},
            {"outcome_type": "ticket", "model": "helpdesk", "item_fee": "0.25", "automation_fee": "0.75"},
            {"outcome_type": "screening", "model": "volume", "bands": BANDS[1:]},
            {"outcome_type": "saved_member", "model": "complexity",
             "tiers": {"simple": "1", "moderate": "2", "complex": "3"}},
        ],
        "platform_fee": {"amount": "99.00", "included_outcomes": 10, "included_types": [RES, "ticket"]},
        "commitment": {"amount": "1000.00", "start": "2026-06", "months": 6, "prepaid": False},
        "onboarding": {"pilot_free_outcomes": 5},
        "price_lock": {"starts": "2026-07-01", "days": 30, "previous_plan_cost": "500.00"},
        "guarantee": {"outcome_type": "ticket", "min_attainment": "0.9", "credit_percent_per_point": "2.5"},
        "term": {"starts": "2026-06-01", "months": 12, "renewal": "auto", "renewal_months": 1, "notice_days": 0},
    },
}  # fmt: skip
TYPES = (RES, LEAD, "ticket", "screening", "saved_member")


@pytest.fixture
def types(db):
    for code in TYPES:
        factories.make_outcome_type(code)


def normalised(document: dict) -> dict:
    return terms_json(terms_parse({"effective_from": "2026-06-01", **document}, known_types=set(TYPES)))


def form_data(editor: ContractEditor) -> dict:
    """What a browser submits for the editor as rendered: every field's value, ticked boxes only."""
    data: dict = {}
    forms = [editor.main, editor.prices.management_form, *editor.prices.forms, *editor.sections]
    for form in forms:
        for field in form:
            value = field.value()
            if field.widget_type == "checkbox":
                if value:
                    data[field.html_name] = "on"
            elif field.widget_type == "checkboxselectmultiple":
                data[field.html_name] = list(value or ())
            else:
                data[field.html_name] = "" if value is None else str(value)
    return data


def bound(data: dict, start: dict) -> ContractEditor:
    editor = ContractEditor(data, document=start)
    editor.is_valid()
    return editor


def test_every_pricing_model_has_its_fields_on_the_form():
    assert set(ROW_MODELS) == set(MODELS)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_document_goes_through_the_form_unchanged(types, name):
    document = normalised(DOCUMENTS[name])
    editor = bound(form_data(ContractEditor(document=document)), document)
    assert editor.messages == []
    assert editor.document == document


def test_a_new_row_a_removed_row_and_an_unticked_part(types):
    start = normalised(DOCUMENTS["platform fee, included outcomes of one type"])
    data = form_data(ContractEditor(document=start))
    data |= {"prices-0-DELETE": "on", "prices-2-outcome_type": "ticket", "prices-2-model": "helpdesk",
             "prices-2-item_fee": "0.30", "prices-2-automation_fee": "0.90"}  # fmt: skip
    del data["platform_fee-include"]  # its fields are still filled in: left out all the same
    data |= {"commitment-amount": "10.00", "commitment-start": "2026-07"}  # typed, but the part not ticked
    editor = bound(data, start)
    assert editor.messages == []
    assert editor.document["prices"] == [
        {"outcome_type": LEAD, "model": "unit", "price": "4.00"},
        {"outcome_type": "ticket", "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"},
    ]
    assert (editor.document["platform_fee"], editor.document["commitment"]) == (None, None)


def test_a_band_whose_bound_does_not_increase_is_refused_on_its_up_to(types):
    start = normalised(DOCUMENTS["graduated"])
    data = form_data(ContractEditor(document=start))
    # Bands typed in rows 1, 3 and 4 (row 2 left empty): the document's band 1 is the form's row 3.
    data |= {"prices-0-band1_up_to": "", "prices-0-band1_price": "", "prices-0-band2_up_to": "800",
             "prices-0-band2_price": "0.80", "prices-0-band3_price": "0.60"}  # fmt: skip
    editor = bound(data, start)
    row = editor.prices.forms[0]
    assert list(row.errors) == ["band2_up_to"]
    assert row.errors["band2_up_to"][-1] == "Bounds must increase."
    assert editor.messages[-1] == ("Price 1 · Band 3: up to (outcomes a month)", "Bounds must increase.")


def test_the_last_band_has_no_upper_bound(types):
    start = normalised(DOCUMENTS["graduated"])
    data = form_data(ContractEditor(document=start)) | {"prices-0-band2_up_to": "9000"}
    row = bound(data, start).prices.forms[0]
    assert row.errors == {"band2_up_to": ["The last band has no upper bound (null)."]}


def test_a_credits_contract_refuses_a_gain_share_row_on_its_model(types):
    start = normalised(DOCUMENTS["credits, rollover"])
    data = form_data(ContractEditor(document=start))
    data |= {"prices-2-outcome_type": "ticket", "prices-2-model": "gain_share", "prices-2-percent": "10"}
    editor = bound(data, start)
    assert editor.document is None
    refused = {"model": ["Gain-share and helpdesk fees are priced in money, not credits."]}
    assert editor.prices.forms[2].errors == refused
    assert [f.errors for f in editor.prices.forms[:2]] == [{}, {}]


@pytest.mark.parametrize(
    ("change", "form", "field", "message"),
    [
        ({"credit_price": ""}, "main", "credit_price",
         "Required with credits: the money value of one credit (the published conversion)."),
        ({"effective_from": ""}, "main", "effective_from",
         "Required: the date this version takes effect (YYYY-MM-DD)."),
        ({"payment_terms_days": "400"}, "main", "payment_terms_days", "An integer from 0 to 365."),
        ({"prices-0-price": "1,50"}, "price 0", "price", 'A decimal string such as "0.99".'),
        ({"prices-0-price": ""}, "price 0", "price", "Required."),
        ({"prices-1-outcome_type": RES}, "price 1", "outcome_type", "Priced twice."),
        ({"platform_fee-included_outcomes": "5"}, "platform_fee", "included_outcomes",
         "With credits, include credits (included_credits)."),
        ({"guarantee-include": "on", "guarantee-outcome_type": RES, "guarantee-min_attainment": "0.9",
          "guarantee-credit_percent_per_point": "1"}, "guarantee", "include",
         "A guarantee credits outcome charges in money: not in a credits contract."),
        ({"commitment-include": "on", "commitment-amount": "100"}, "commitment", "start",
         "The first period of the term, YYYY-MM."),
        ({"term-include": "on"}, "term", "starts",
         "Required: the first day of the contract's first term (YYYY-MM-DD)."),
        ({"term-include": "on", "term-starts": "2026-01-01", "term-months": "0"}, "term", "months",
         "An integer from 1 to 120."),
        ({"term-include": "on", "term-starts": "2026-01-01", "term-notice_days": "400"}, "term", "notice_days",
         "An integer from 0 to 365."),
        ({"term-include": "on", "term-starts": "2026-01-01", "term-renewal": "monthly"}, "term", "renewal",
         "Select a valid choice. monthly is not one of the available choices."),
    ],
)  # fmt: skip
def test_what_the_document_refuses_is_shown_on_its_field(types, change, form, field, message):
    start = normalised(DOCUMENTS["credits, rollover"])
    editor = bound(form_data(ContractEditor(document=start)) | change, start)
    if form == "main":
        target = editor.main
    elif form.startswith("price"):
        target = editor.prices.forms[int(form.split()[1])]
    else:
        target = editor.sections_by_key[form]
    assert target.errors == {field: [message]}
    assert editor.document is None


# --- The page -----------------------------------------------------------------------------------


@pytest.fixture
def acme(types):
    account = factories.make_account("acme", name="Acme Support")
    contract(account, effective_from="2026-05-01", prices=[UNIT])
    return account


@pytest.fixture
def operator(db):
    client = Client()
    client.force_login(factories.make_user(Role.VENDOR_OPERATOR, None, username="olga"))
    return client


def _page_data(client: Client) -> dict:
    page = client.get("/account/acme/contract/")
    assert page.status_code == 200
    return form_data(page.context["editor"])


def test_the_form_starts_from_the_latest_version_and_saves_a_new_one(acme, operator):
    page = operator.get("/account/acme/contract/")
    assert page.status_code == 200
    assert_nothing_inline(page.content.decode())
    assert page.context["editor"].prices.forms[0].initial == {"outcome_type": RES, "model": "unit", "price": "0.99"}
    data = _page_data(operator) | {"action": "save", "prices-0-price": "1.25", "effective_from": "2026-08-01"}
    response = operator.post("/account/acme/contract/", data)
    assert response.status_code == 302
    version = ContractVersion.objects.get(account=acme, version=2)
    assert (version.created_by, str(version.effective_from)) == ("olga", "2026-08-01")
    assert version.terms == normalised({"effective_from": "2026-08-01", "prices": [{**UNIT, "price": "1.25"}]})


def test_a_change_inside_a_month_can_take_effect_at_once_prorated(acme, operator):
    data = _page_data(operator) | {"action": "save", "effective_from": "2026-08-17", "mid_period": "prorate",
                                   "platform_fee-include": "on", "platform_fee-amount": "310.00"}  # fmt: skip
    assert operator.post("/account/acme/contract/", data).status_code == 302
    month, after = ContractVersion.objects.filter(account=acme, version__gt=1).order_by("version")
    assert (str(month.effective_from), str(after.effective_from)) == ("2026-08-01", "2026-09-01")
    # No fee before; 310.00 for the 15 days from 17 Aug of 31: 150.00
    assert month.terms["proration"]["after"] | {"name": "x"} == {
        "name": "x",
        "days": 15,
        "amount": "150.00",
        "included_outcomes": 0,
        "included_credits": "0",
    }
    assert after.terms["platform_fee"]["amount"] == "310.00" and "proration" not in after.terms


def test_a_refused_form_saves_nothing_and_shows_the_error_by_its_input(acme, operator):
    data = _page_data(operator) | {"action": "save", "prices-0-model": "graduated", "prices-0-band0_up_to": "10",
                                   "prices-0-band0_price": "1.00", "prices-0-band1_up_to": "5",
                                   "prices-0-band1_price": "0.90", "prices-0-band2_price": "0.80"}  # fmt: skip
    response = operator.post("/account/acme/contract/", data)
    assert response.status_code == 200
    assert ContractVersion.objects.filter(account=acme).count() == 1
    html = response.content.decode()
    assert 'id="id_prices-0-band1_up_to_errors"' in html and "Bounds must increase." in html
    assert 'aria-invalid="true"' in html


def test_a_first_contract_starts_blank(types, operator):
    factories.make_account("acme", name="Acme Support")
    editor = operator.get("/account/acme/contract/").context["editor"]
    assert editor.main.initial["unit"] == "money" and editor.prices.initial_form_count() == 0
    data = form_data(editor) | {"action": "save", "prices-0-outcome_type": LEAD, "prices-0-price": "4.00"}
    assert operator.post("/account/acme/contract/", data).status_code == 302
    assert ContractVersion.objects.get().terms["prices"] == [{"outcome_type": LEAD, "model": "unit", "price": "4.00"}]


def test_the_json_document_still_saves_and_loads_into_the_form(acme, operator):
    pasted = {"effective_from": "2026-09-01", "prices": [{"outcome_type": LEAD, "model": "unit", "price": "3.00"}]}
    loaded = operator.post("/account/acme/contract/", {"action": "json_load", "document": json.dumps(pasted)})
    assert loaded.status_code == 200 and ContractVersion.objects.count() == 1  # loaded, not saved
    assert form_data(loaded.context["editor"])["prices-0-outcome_type"] == LEAD
    saved = operator.post("/account/acme/contract/", {"action": "json", "document": json.dumps(pasted)})
    assert saved.status_code == 302
    assert ContractVersion.objects.get(version=2).terms == normalised(pasted)
    broken = operator.post("/account/acme/contract/", {"action": "json", "document": "{"})
    assert broken.context["json_errors"]["document"][0].startswith("Not valid JSON")
    refused = operator.post("/account/acme/contract/", {"action": "json", "document": '{"prices": 1}'})
    assert set(refused.context["json_errors"]) == {"effective_from", "prices"}
    assert ContractVersion.objects.count() == 2


def test_the_preview_says_the_plan_and_reprices_the_last_closed_month(acme, operator):
    post(acme, 10, at=datetime(2026, 6, 12, 10, tzinfo=UTC))
    settle_and_finalize(acme, "2026-06")
    data = _page_data(operator) | {"action": "preview", "prices-0-price": "1.50"}
    response = operator.post("/account/acme/contract/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the preview alone
    assert "Resolved conversation: $1.50 per outcome." in html
    assert '<th scope="row">Invoiced · 2026-06 · INV-000001</th>' in html
    for cell, amount in (("invoiced", "$9.90"), ("candidate", "$15.00"), ("difference", "+$5.10")):
        assert f'<td class="num" id="preview-{cell}">{amount}</td>' in html
    assert ContractVersion.objects.count() == 1  # a preview saves nothing


def test_the_preview_without_a_closed_month_says_so(acme, operator):
    data = _page_data(operator) | {"action": "preview"}
    html = operator.post("/account/acme/contract/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "No month is closed yet" in html and "Resolved conversation: $0.99 per outcome." in html


def test_the_preview_of_a_refused_form_lists_what_to_fix(acme, operator):
    data = _page_data(operator) | {"action": "preview", "prices-0-price": "abc"}
    html = operator.post("/account/acme/contract/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing to preview until the contract is valid" in html
    assert "<strong>Price 1 · Price per outcome</strong>: A decimal string such as &quot;0.99&quot;." in html


def test_only_vendor_operators_edit_contracts(acme, operator):
    data = _page_data(operator) | {"action": "save", "prices-0-price": "0.01"}
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER):
        client = Client()
        client.force_login(factories.make_user(role, acme))
        assert client.get("/account/acme/contract/").status_code == 403
        assert client.post("/account/acme/contract/", data).status_code == 403
        assert client.post("/account/acme/contract/", {"action": "json", "document": "{}"}).status_code == 403
    for role in (Role.VENDOR_SUPPORT, Role.VENDOR_FINANCE):
        client = Client()
        client.force_login(factories.make_user(role, None))
        assert client.post("/account/acme/contract/", data).status_code == 403
    outsider = Client()
    outsider.force_login(factories.make_user(Role.CUSTOMER_ADMIN, factories.make_account("globex")))
    assert outsider.post("/account/acme/contract/", data).status_code == 403
    assert operator.get("/account/nobody/contract/").status_code == 404
    assert list(ContractVersion.objects.values_list("version", flat=True)) == [1]  # nothing changed


def test_a_longer_band_list_gets_rows_enough(types):
    editor = ContractEditor(document=normalised(DOCUMENTS["volume, more bands than rows"]))
    assert editor.prices.forms[0].band_count == len(SIX_BANDS) + 1 > BAND_ROWS
