"""The catalogue in the portal: vendor operators create outcome types, publish criteria versions (the
product's or one account's) and set delivery costs, with the API's validation in the API's words;
every vendor staff member reads the history; customers get 403 there, and read on "What counts" the
changelog of the definitions that applied to them — never another account's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Role
from metering.criteria_changes import FIELD_LABELS, criteria_changes
from metering.models import OutcomeCost, OutcomeType, SuccessCriteria
from metering.services import CRITERIA_RULE_FIELDS, CRITERIA_TEXT_FIELDS, criteria_version_create
from tests import factories
from tests.metering.helpers import post_json

pytestmark = pytest.mark.django_db

NEW_URL = "/catalogue/new/"
TYPE_URL = "/catalogue/types/resolved_conversation/"
PUBLISH_URL = "/catalogue/types/resolved_conversation/criteria/new/"
COSTS_URL = "/catalogue/types/resolved_conversation/costs/"

# A form as a browser posts it: every field, text as typed, a ticked box as "on", an unticked one absent.
NEW_TYPE_FORM = {
    "code": "qualified_lead",
    "name": "Qualified lead",
    "unit_price": "4.00",
    "value_type": "revenue_generation",
    "description": "A lead the customer's sales team accepts.",
    "system_action": "the AI SDR qualifies an inbound lead",
    "customer_result": "a sales-qualified lead accepted in the CRM",
    "failure_condition": "sales rejecting the lead",
    "verification_source": "CRM acceptance",
    "measurement_window_hours": "168",
    "reopen_after_window": "continuation",
    "required_verification_methods": "crm_accepted",
    "excluded_workflows": "",
    "excluded_channels": "sms, voice",
    "dispute_process": "",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(account_a, account_b):
    outcome_type = factories.make_outcome_type(
        required_verification_methods=["customer_confirmed", "inactivity_timeout"]
    )
    people = {
        "admin_a": factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice"),
        "finance_a": factories.make_user(Role.FINANCE_ADMIN, account_a, "fiona"),
        "viewer_a": factories.make_user(Role.VIEWER, account_a, "victor"),
        "admin_b": factories.make_user(Role.CUSTOMER_ADMIN, account_b, "bob"),
        "support": factories.make_user(Role.VENDOR_SUPPORT, None, "sam"),
        "vendor_finance": factories.make_user(Role.VENDOR_FINANCE, None, "ana"),
        "operator": factories.make_user(Role.VENDOR_OPERATOR, None, "olga"),
    }
    clients = {name: _client(user) for name, user in people.items()} | {"anonymous": Client()}
    return {"type": outcome_type, "a": account_a, "b": account_b, "clients": clients}


def _publish_form(criteria: SuccessCriteria, account: str = "", **changes) -> dict:
    """The publish form as it comes prefilled from ``criteria``, with ``changes`` typed over it."""
    form = {
        "account": account,
        **{name: getattr(criteria, name) for name in CRITERIA_TEXT_FIELDS},
        "measurement_window_hours": str(criteria.measurement_window_hours),
        "reopen_after_window": criteria.reopen_after_window,
        "required_verification_methods": ", ".join(criteria.required_verification_methods),
        "excluded_workflows": ", ".join(criteria.excluded_workflows),
        "excluded_channels": ", ".join(criteria.excluded_channels),
    }
    for flag in ("one_per_session", "handoff_is_billable", "confirm_closes_window"):
        if getattr(criteria, flag):
            form[flag] = "on"
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _product(version: int = 1) -> SuccessCriteria:
    return SuccessCriteria.objects.get(outcome_type__code="resolved_conversation", account=None, version=version)


def _page(response) -> str:
    return response.content.decode()


# --- Creating an outcome type -------------------------------------------------------------------------


def test_an_operator_creates_an_outcome_type_with_the_form(world):
    client = world["clients"]["operator"]
    assert client.get(NEW_URL).status_code == 200

    response = client.post(NEW_URL, NEW_TYPE_FORM)

    assert response.status_code == 302
    assert response["Location"] == "/catalogue/types/qualified_lead/"
    created = OutcomeType.objects.get(code="qualified_lead")
    assert (created.name, created.unit_price, created.value_type) == (
        "Qualified lead",
        Decimal("4.0000"),
        "revenue_generation",
    )
    criteria = SuccessCriteria.objects.get(outcome_type=created)
    assert (criteria.version, criteria.account_id, criteria.created_by) == (1, None, "olga")
    assert criteria.measurement_window_hours == 168
    assert criteria.one_per_session is False  # the box was not ticked
    assert criteria.required_verification_methods == ["crm_accepted"]
    assert criteria.excluded_channels == ["sms", "voice"]
    assert criteria.customer_result == "a sales-qualified lead accepted in the CRM"
    page = _page(client.get(response["Location"]))
    assert "Qualified lead (qualified_lead) is in the catalogue, at version 1." in page
    assert "qualified_lead v1" in page


def test_an_empty_sentence_part_takes_the_services_default_as_over_the_api(world):
    form = NEW_TYPE_FORM | {"system_action": "", "customer_result": "", "failure_condition": ""}
    assert world["clients"]["operator"].post(NEW_URL, form).status_code == 302
    criteria = SuccessCriteria.objects.get(outcome_type__code="qualified_lead")
    assert (criteria.system_action, criteria.customer_result) == (
        "Qualified lead: the AI completes the work",
        "qualified lead",
    )


@pytest.mark.parametrize(
    ("form_changes", "api_changes"),
    [
        (
            {"code": "bad code!", "unit_price": "-1", "name": "", "measurement_window_hours": "-5"},
            {"code": "bad code!", "unit_price": "-1", "measurement_window_hours": -5, "name": None},
        ),
        (
            {"unit_price": "0.123456", "measurement_window_hours": "abc", "value_type": "nonsense"},
            {"unit_price": "0.123456", "measurement_window_hours": "abc", "value_type": "nonsense"},
        ),
        (
            {"code": "", "unit_price": "", "required_verification_methods": "ok, " + "x" * 65},
            {"code": None, "unit_price": None, "required_verification_methods": ["ok", "x" * 65]},
        ),
        (
            {"measurement_window_hours": "9999", "system_action": "y" * 301, "reopen_after_window": "never"},
            {"measurement_window_hours": 9999, "system_action": "y" * 301, "reopen_after_window": "never"},
        ),
    ],
)
def test_bad_input_is_refused_field_by_field_in_the_apis_words(world, vendor_client, form_changes, api_changes):
    """The form and POST /api/v1/outcome-types refuse the same fields with the same messages."""
    api_body = {
        "code": "qualified_lead",
        "name": "Qualified lead",
        "unit_price": "4.00",
        "value_type": "revenue_generation",
        "measurement_window_hours": 168,
        "one_per_session": False,
        **api_changes,
    }
    api_body = {k: v for k, v in api_body.items() if v is not None}
    api = post_json(vendor_client, "/api/v1/outcome-types", api_body)
    assert api.status_code == 400
    api_fields = api.json()["error"]["fields"]

    response = world["clients"]["operator"].post(NEW_URL, NEW_TYPE_FORM | form_changes)

    assert response.status_code == 200
    form_errors = response.context["form"].errors
    expected = {}
    for name, messages in api_fields.items():
        field, _, index = name.partition(".")
        item = api_body[field][int(index)] if index else None
        expected.setdefault(field, []).extend(f"“{item}”: {m}" if index else m for m in messages)
    assert form_errors == expected
    for messages in expected.values():
        for message in messages:
            assert message.replace('"', "&quot;") in _page(response)
    assert OutcomeType.objects.count() == 1  # only the fixture's


def test_a_code_taken_is_refused_on_the_code_field_as_the_api_says_it(world, vendor_client):
    api = post_json(
        vendor_client, "/api/v1/outcome-types", {"code": "resolved_conversation", "name": "X", "unit_price": "1.00"}
    )
    assert api.status_code == 409

    response = world["clients"]["operator"].post(NEW_URL, NEW_TYPE_FORM | {"code": "resolved_conversation"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [api.json()["error"]["message"]]}
    assert SuccessCriteria.objects.count() == 1


# --- Publishing criteria versions -------------------------------------------------------------------


def test_an_operator_publishes_a_product_version_and_the_history_shows_what_changed(world):
    client = world["clients"]["operator"]
    page = client.get(PUBLISH_URL)
    assert page.status_code == 200
    assert page.context["form"].initial["measurement_window_hours"] == "72"

    response = client.post(
        PUBLISH_URL,
        _publish_form(
            _product(),
            measurement_window_hours="48",
            required_verification_methods="customer_confirmed, inactivity_timeout, llm_verified",
            handoff_is_billable="on",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == f"{TYPE_URL}#history"
    v2 = _product(2)
    assert (v2.measurement_window_hours, v2.handoff_is_billable, v2.created_by) == (48, True, "olga")
    assert v2.required_verification_methods == ["customer_confirmed", "inactivity_timeout", "llm_verified"]
    assert _product(1).measurement_window_hours == 72  # earlier versions never change
    history = _page(client.get(TYPE_URL))
    assert "Published resolved_conversation v2: the product definition of Resolved conversation." in history
    assert (
        '<li><span class="change-field">Measurement window</span>: <del>72 hours</del> → <ins>48 hours</ins></li>'
        in history
    )
    assert (
        '<span class="change-field">Accepted verification methods</span>: '
        "<del>customer_confirmed, inactivity_timeout</del> → "
        "<ins>customer_confirmed, inactivity_timeout, llm_verified</ins>" in history
    )
    assert '<span class="change-field">A hand-off to a person still counts</span>: <del>no</del> → <ins>yes</ins>' in (
        history
    )
    assert "First version." in history  # v1


def test_an_operator_publishes_an_override_for_one_account(world):
    client = world["clients"]["operator"]
    page = client.get(f"{PUBLISH_URL}?account=acme")
    assert "has no definition of its own yet" in _page(page)

    response = client.post(
        PUBLISH_URL, _publish_form(_product(), account="acme", customer_result="a ticket Acme marks solved")
    )

    assert response.status_code == 302
    override = SuccessCriteria.objects.get(account=world["a"])
    assert (override.version, override.customer_result, override.label) == (
        1,
        "a ticket Acme marks solved",
        "resolved_conversation acme v1",
    )
    assert not SuccessCriteria.objects.filter(account=world["b"]).exists()
    assert SuccessCriteria.objects.filter(account=None).count() == 1  # the product definition is untouched
    history = _page(client.get(TYPE_URL))
    assert "Published resolved_conversation acme v1: Acme Support&#x27;s definition of Resolved conversation." in (
        history
    )
    assert "Started from resolved_conversation v1." in history
    assert "<del>resolved conversation</del> → <ins>a ticket Acme marks solved</ins>" in history

    # The next version of acme's definition starts from its override, and is its v2.
    again = client.get(f"{PUBLISH_URL}?account=acme")
    assert again.context["form"].initial["customer_result"] == "a ticket Acme marks solved"
    client.post(PUBLISH_URL, _publish_form(override, account="acme", measurement_window_hours="24"))
    assert SuccessCriteria.objects.get(account=world["a"], version=2).customer_result == "a ticket Acme marks solved"


def test_the_scope_selector_swaps_the_form_with_htmx(world):
    response = world["clients"]["operator"].get(f"{PUBLISH_URL}?account=acme", HTTP_HX_REQUEST="true")
    body = _page(response)
    assert body.lstrip().startswith('<div id="publish">')
    assert "<html" not in body
    assert '<input type="hidden" name="account" value="acme">' in body


def test_a_version_that_changes_nothing_is_refused(world):
    response = world["clients"]["operator"].post(PUBLISH_URL, _publish_form(_product()))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Nothing changed: this is the version in force. Change a field to publish a new one."
    ]
    assert SuccessCriteria.objects.count() == 1


@pytest.mark.parametrize(
    ("form_changes", "api_changes"),
    [
        ({"measurement_window_hours": "abc"}, {"measurement_window_hours": "abc"}),
        (
            {"measurement_window_hours": "-1", "customer_result": ""},
            {"measurement_window_hours": -1, "customer_result": ""},
        ),
        ({"excluded_channels": "chat, " + "c" * 65}, {"excluded_channels": ["chat", "c" * 65]}),
    ],
)
def test_a_bad_version_is_refused_in_the_apis_words(world, vendor_client, form_changes, api_changes):
    api = post_json(vendor_client, "/api/v1/outcome-types/resolved_conversation/criteria", api_changes)
    assert api.status_code == 400

    response = world["clients"]["operator"].post(PUBLISH_URL, _publish_form(_product(), **form_changes))

    assert response.status_code == 200
    expected = {}
    for name, messages in api.json()["error"]["fields"].items():
        field, _, index = name.partition(".")
        expected.setdefault(field, []).extend(
            f"“{api_changes[field][int(index)]}”: {m}" if index else m for m in messages
        )
    assert response.context["form"].errors == expected
    assert SuccessCriteria.objects.count() == 1


def test_an_unknown_account_is_404_and_publishes_nothing(world):
    response = world["clients"]["operator"].post(PUBLISH_URL, _publish_form(_product(), account="nope"))
    assert response.status_code == 404
    assert SuccessCriteria.objects.count() == 1


# --- Delivery costs ---------------------------------------------------------------------------------


def test_an_operator_adds_a_delivery_cost_and_a_bad_one_is_refused_in_the_apis_words(world, vendor_client):
    client = world["clients"]["operator"]
    response = client.post(COSTS_URL, {"complexity": "", "amount": "0.045", "effective_from": "2026-01-01"})
    assert response.status_code == 302
    assert response["Location"] == f"{TYPE_URL}#costs"
    cost = OutcomeCost.objects.get()
    assert (cost.amount, str(cost.effective_from), cost.created_by) == (Decimal("0.045000"), "2026-01-01", "olga")
    assert "0.045" in _page(client.get("/catalogue/"))

    api = post_json(
        vendor_client, "/api/v1/outcome-types/resolved_conversation/costs", {"amount": "-1", "effective_from": "x"}
    )
    bad = client.post(COSTS_URL, {"complexity": "", "amount": "-1", "effective_from": "x"})
    assert bad.status_code == 200
    assert bad.context["cost_form"].errors == api.json()["error"]["fields"]

    again = client.post(COSTS_URL, {"complexity": "", "amount": "0.05", "effective_from": "2026-01-01"})
    assert again.context["cost_form"].non_field_errors() == [
        "A cost of resolved_conversation any tier from 2026-01-01 exists; costs are never edited."
    ]
    assert OutcomeCost.objects.count() == 1


# --- Who may do what ---------------------------------------------------------------------------------

READ_PAGES = ("/catalogue/", TYPE_URL, f"{TYPE_URL}?account=acme")
WRITE_PAGES = (NEW_URL, PUBLISH_URL)
READ_STATUS = {
    "admin_a": 403,
    "finance_a": 403,
    "viewer_a": 403,
    "admin_b": 403,
    "support": 200,
    "vendor_finance": 200,
    "operator": 200,
    "anonymous": 302,
}
WRITE_STATUS = READ_STATUS | {"support": 403, "vendor_finance": 403}


@pytest.mark.parametrize("role", READ_STATUS)
def test_vendor_staff_read_the_catalogue_and_customers_get_403(world, role):
    for url in READ_PAGES:
        response = world["clients"][role].get(url)
        assert response.status_code == READ_STATUS[role], url
        if READ_STATUS[role] == 403:
            assert "You do not have access to this page" in _page(response)
            assert "resolved_conversation v1" not in _page(response)


@pytest.mark.parametrize("role", WRITE_STATUS)
def test_only_operators_write_and_a_refused_write_changes_nothing(world, role):
    client = world["clients"][role]
    for url in WRITE_PAGES:
        assert client.get(url).status_code == WRITE_STATUS[role], url
    responses = [
        client.post(NEW_URL, NEW_TYPE_FORM),
        client.post(PUBLISH_URL, _publish_form(_product(), account="acme", measurement_window_hours="12")),
        client.post(COSTS_URL, {"complexity": "", "amount": "0.05", "effective_from": "2026-01-01"}),
    ]
    expected = 302 if role in ("operator", "anonymous") else 403
    assert [r.status_code for r in responses] == [expected] * 3
    if role != "operator":
        assert OutcomeType.objects.count() == 1
        assert SuccessCriteria.objects.count() == 1
        assert OutcomeCost.objects.count() == 0


def test_vendor_staff_see_the_catalogue_in_the_nav_and_customers_do_not(world):
    assert 'href="/catalogue/"' in _page(world["clients"]["support"].get("/overview/"))
    assert 'href="/catalogue/"' not in _page(world["clients"]["admin_a"].get("/account/acme/not-charged/"))


def test_the_history_filtered_to_one_account_shows_no_other_accounts_override(world):
    criteria_version_create(outcome_type=world["type"], account=world["a"], customer_result="acme's own result")
    criteria_version_create(outcome_type=world["type"], account=world["b"], customer_result="globex's own result")
    client = world["clients"]["operator"]
    assert "globex&#x27;s own result" in _page(client.get(TYPE_URL))
    only_a = _page(client.get(f"{TYPE_URL}?account=acme", HTTP_HX_REQUEST="true"))
    assert only_a.lstrip().startswith('<div id="history-table"')
    assert "acme&#x27;s own result" in only_a
    assert "globex" not in only_a


# --- The customer's changelog ("What counts") -------------------------------------------------------


def test_a_customer_sees_its_own_override_in_the_changelog_and_never_another_accounts(world):
    product = world["type"]
    criteria_version_create(
        outcome_type=product, account=world["a"], customer_result="a ticket Acme marks solved", created_by="olga"
    )
    criteria_version_create(
        outcome_type=product,
        account=world["b"],
        customer_result="globex-secret-result",
        dispute_process="globex-secret-process",
        excluded_workflows=["globex.internal"],
    )
    criteria_version_create(outcome_type=product, account=None, measurement_window_hours=48)  # product v2

    page_a = _page(world["clients"]["admin_a"].get("/account/acme/not-charged/"))
    assert 'rule version <code class="code">resolved_conversation acme v1</code>, in force since' in page_a
    assert (
        'Your agreed definition replaced the product definition <code class="code">resolved_conversation v1</code>:'
        in page_a
    )
    assert "Customer-recognised result: now “a ticket Acme marks solved” (was “resolved conversation”)." in page_a
    assert "First published." in page_a  # product v1, before acme's override
    assert "globex" not in page_a.lower()
    assert "resolved_conversation v2" not in page_a  # the product's v2 came after acme's own: it never applied

    page_b = _page(world["clients"]["admin_b"].get("/account/globex/not-charged/"))
    assert "globex-secret-result" in page_b
    assert "a ticket Acme marks solved" not in page_b
    assert "acme v1" not in page_b
    # Acme's page through B's login is the same 404 as a page that does not exist.
    assert world["clients"]["admin_b"].get("/account/acme/not-charged/").status_code == 404


def test_an_account_without_an_override_reads_the_product_versions_in_plain_words(world, account_a):
    third = factories.make_account("initech", name="Initech")
    viewer = _client(factories.make_user(Role.VIEWER, third, "ivy"))
    criteria_version_create(outcome_type=world["type"], account=account_a, customer_result="acme-only")
    criteria_version_create(
        outcome_type=world["type"],
        account=None,
        measurement_window_hours=48,
        required_verification_methods=["customer_confirmed", "llm_verified"],
        one_per_session=False,
    )

    page = _page(viewer.get("/account/initech/not-charged/"))

    assert 'rule version <code class="code">resolved_conversation v2</code>' in page
    assert "What changed — 2 versions of this definition, last on" in page
    assert "The measurement window went from 72 hours to 48 hours." in page
    assert (
        "Accepted verification methods: “Checked by a language model” added; “No reply before the timeout” removed "
        in page
    )
    assert "(now: “Confirmed by the customer”, “Checked by a language model”)." in page
    assert "Each outcome in a session can be charged now (no longer one per session)." in page
    assert "acme" not in page.lower()


# --- The changes, in words (metering.criteria_changes, pure) -----------------------------------------


def test_every_criteria_field_has_a_label():
    assert set(FIELD_LABELS) == set(CRITERIA_RULE_FIELDS) | set(CRITERIA_TEXT_FIELDS)


def test_changes_read_field_by_field():
    before = {
        "measurement_window_hours": 72,
        "one_per_session": True,
        "excluded_channels": [],
        "reopen_after_window": "continuation",
        "dispute_process": "",
        "confirm_closes_window": False,
    }
    after = before | {
        "measurement_window_hours": 1,
        "excluded_channels": ["sms"],
        "reopen_after_window": "new_outcome",
        "dispute_process": "Email billing@",
        "confirm_closes_window": True,
    }
    changes = criteria_changes(before, after)
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("measurement_window_hours", "72 hours", "1 hour"),
        ("excluded_channels", "", "sms"),
        ("confirm_closes_window", "no", "yes"),
        ("reopen_after_window", "continues the same outcome", "is a new outcome"),
        ("dispute_process", "", "Email billing@"),
    ]
    assert [c.sentence for c in changes] == [
        "The measurement window went from 72 hours to 1 hour.",
        "Channels never charged: “SMS” added (now: “SMS”).",
        "Your confirmation closes the measurement window early now.",
        "A reopen after the window is a new outcome now.",
        "Dispute process: now “Email billing@”.",
    ]
    assert criteria_changes(None, after) == []
    assert criteria_changes(after, dict(after)) == []


def test_an_unknown_outcome_type_is_404(world):
    client = world["clients"]["operator"]
    for url in ("/catalogue/types/nope/", "/catalogue/types/nope/criteria/new/"):
        assert client.get(url).status_code == 404
    assert (
        client.post("/catalogue/types/nope/costs/", {"amount": "1", "effective_from": "2026-01-01"}).status_code == 404
    )


def test_vendor_support_reads_the_type_page_without_its_forms(world):
    page = _page(world["clients"]["support"].get(TYPE_URL))
    assert "History of the definitions" in page
    assert "Delivery costs" in page
    assert "Publish a criteria version" not in page
    assert "Add the cost" not in page
    catalogue = _page(world["clients"]["support"].get("/catalogue/"))
    assert "New outcome type" not in catalogue


def test_a_type_made_in_the_django_admin_without_criteria_still_lists_and_gets_its_first_version(world):
    OutcomeType.objects.create(code="bare", name="Bare", unit_price=Decimal("1.50"))
    client = world["clients"]["operator"]
    assert client.get("/catalogue/?sort=window").status_code == 200
    assert "No definition yet." in _page(client.get("/catalogue/types/bare/"))
    form = client.get("/catalogue/types/bare/criteria/new/").context["form"]
    body = {k: v for k, v in form.initial.items() if v is not True} | {"one_per_session": "on"}
    body |= {"customer_result": "a bare result"}
    assert client.post("/catalogue/types/bare/criteria/new/", body).status_code == 302
    assert SuccessCriteria.objects.get(outcome_type__code="bare").label == "bare v1"
