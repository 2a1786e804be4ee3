"""The outcome catalogue over the API: outcome types and versioned definitions of success."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from metering.models import Event, OutcomeType, SuccessCriteria
from tests import factories
from tests.conftest import key_client
from tests.metering.helpers import assert_error, post_json

pytestmark = pytest.mark.django_db

TYPES_URL = "/api/v1/outcome-types"
CUSTOMER_ROLES = [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER]

GE0 = "Ensure this value is greater than or equal to 0."
SLUG = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
NOT_A_LIST = 'Expected a list of items but got type "str".'
NEW_TYPE = {
    "code": "resolved_conversation",
    "name": "Resolved conversation",
    "unit_price": "0.99",
    "measurement_window_hours": 72,
    "one_per_session": True,
    "value_type": "labor_savings",
}


def criteria_url(code: str = "resolved_conversation") -> str:
    return f"{TYPES_URL}/{code}/criteria"


def test_create_an_outcome_type(vendor_client):
    response = post_json(vendor_client, TYPES_URL, NEW_TYPE)

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("code", "name", "unit_price", "value_type", "active")} == {
        "code": "resolved_conversation",
        "name": "Resolved conversation",
        "unit_price": "0.99",
        "value_type": "labor_savings",
        "active": True,
    }
    assert (body["measurement_window_hours"], body["one_per_session"]) == (72, True)
    assert body["criteria"]["rule_version"] == "resolved_conversation v1"
    assert (body["criteria"]["version"], body["criteria"]["account"]) == (1, None)
    stored = OutcomeType.objects.get()
    assert str(stored.unit_price) == "0.9900"
    assert list(SuccessCriteria.objects.values_list("version", "measurement_window_hours")) == [(1, 72)]

    # Read back: the stored price, as a decimal string.
    detail = vendor_client.get(f"{TYPES_URL}/resolved_conversation").json()
    assert (detail["code"], detail["unit_price"]) == ("resolved_conversation", "0.99")


def test_create_with_the_criteria_in_the_same_request(vendor_client):
    body = {
        **NEW_TYPE,
        "code": "qualified_lead",
        "value_type": "revenue_generation",
        "measurement_window_hours": 0,
        "one_per_session": False,
        "required_verification_methods": ["crm_accepted"],
        "excluded_channels": ["sms"],
        "handoff_is_billable": True,
        "customer_result": "a lead sales accepts",
    }
    response = post_json(vendor_client, TYPES_URL, body)

    assert response.status_code == 201
    criteria = response.json()["criteria"]
    assert criteria["required_verification_methods"] == ["crm_accepted"]
    assert (criteria["excluded_channels"], criteria["handoff_is_billable"]) == (["sms"], True)
    assert criteria["definition"] == (
        "A billable outcome occurs when Resolved conversation: the AI completes the work produces a lead sales "
        "accepts, without a human hand-off, a reopen or a reversal, within 0 hours, verified by the platform's "
        "records."
    )


def test_the_same_code_twice_is_409(vendor_client):
    assert post_json(vendor_client, TYPES_URL, NEW_TYPE).status_code == 201
    response = post_json(vendor_client, TYPES_URL, {**NEW_TYPE, "name": "Another name"})

    error = assert_error(response, 409, "outcome_type_exists", fields=None)
    assert error["message"] == "An outcome type with code 'resolved_conversation' exists."
    assert OutcomeType.objects.get().name == "Resolved conversation"
    assert SuccessCriteria.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"unit_price": 0.99}, {"unit_price": ['Must be a decimal string such as "0.99".']}),
        ({"unit_price": "cheap"}, {"unit_price": ['Must be a decimal string such as "0.99".']}),
        ({"unit_price": "-1.00"}, {"unit_price": ["Must not be negative."]}),
        ({"unit_price": "0.12345"}, {"unit_price": ["At most 4 decimal places."]}),
        ({"value_type": "fun"}, {"value_type": ['"fun" is not a valid choice.']}),
        ({"code": "Not a slug!"}, {"code": [SLUG]}),
        ({"measurement_window_hours": -1}, {"measurement_window_hours": [GE0]}),
        ({"measurement_window_hours": "soon"}, {"measurement_window_hours": ["A valid integer is required."]}),
        ({"one_per_session": "maybe"}, {"one_per_session": ["Must be a valid boolean."]}),
        ({"reopen_after_window": "sometimes"}, {"reopen_after_window": ['"sometimes" is not a valid choice.']}),
        ({"required_verification_methods": "crm_accepted"}, {"required_verification_methods": [NOT_A_LIST]}),
    ],
)
def test_bad_input_is_400_with_fields(vendor_client, changes, fields):
    response = post_json(vendor_client, TYPES_URL, {**NEW_TYPE, **changes})
    assert_error(response, 400, "validation_error", fields=fields)
    assert OutcomeType.objects.count() == 0


@pytest.mark.parametrize("missing", ["code", "name", "unit_price"])
def test_required_fields(vendor_client, missing):
    body = {k: v for k, v in NEW_TYPE.items() if k != missing}
    assert_error(
        post_json(vendor_client, TYPES_URL, body), 400, "validation_error", {missing: ["This field is required."]}
    )


def test_a_body_that_is_not_json_is_400(vendor_client):
    response = vendor_client.post(TYPES_URL, b"{code:", content_type="application/json")
    assert_error(response, 400, "invalid_json", fields=None)


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_account_keys_may_read_but_not_change_the_catalogue(account_a, outcome_type, role):
    client = key_client(account_a, role)

    assert_error(post_json(client, TYPES_URL, {**NEW_TYPE, "code": "x"}), 403, "permission_denied", fields=None)
    assert_error(post_json(client, criteria_url(), {"measurement_window_hours": 1}), 403, "permission_denied", None)
    assert_error(
        post_json(client, criteria_url(), {"account": "acme", "measurement_window_hours": 1}),
        403,
        "permission_denied",
        None,
    )
    assert [t["code"] for t in client.get(TYPES_URL).json()["results"]] == ["resolved_conversation"]
    assert client.get(criteria_url()).status_code == 200
    assert SuccessCriteria.objects.count() == 1


def test_no_key_is_401_on_the_catalogue(outcome_type):
    from django.test import Client

    assert_error(post_json(Client(), TYPES_URL, NEW_TYPE), 401, "not_authenticated", fields=None)
    assert_error(Client().get(TYPES_URL), 401, "not_authenticated", fields=None)


def test_unknown_outcome_type_is_404(vendor_client):
    assert_error(vendor_client.get(f"{TYPES_URL}/nope"), 404, "not_found", fields=None)
    assert_error(post_json(vendor_client, criteria_url("nope"), {"measurement_window_hours": 1}), 404, "not_found")


# --- Versions of the definition of success ---------------------------------------------------


def rule_version(account: str, event_id: str, client) -> str:
    return client.get(f"/api/v1/events/{account}/{event_id}").json()["rule_version"]


def test_criteria_versions_decide_new_events_and_old_events_keep_theirs(
    vendor_client, account_a, account_b, outcome_type
):
    at = timezone.now().replace(microsecond=0) - timedelta(hours=1)

    def post(account, event_id, **fields):
        body = post_json(
            vendor_client,
            "/api/v1/events",
            {"events": [factories.event_payload(account, event_id, occurred_at=at, **fields)]},
        ).json()
        assert body["accepted"] == 1, body

    post(account_a, "a-v1")
    post(account_b, "b-v1")

    # Product v2: a 24-hour window.
    response = post_json(vendor_client, criteria_url(), {"measurement_window_hours": 24})
    assert response.status_code == 201
    v2 = response.json()
    assert (v2["rule_version"], v2["version"], v2["account"]) == ("resolved_conversation v2", 2, None)
    assert (v2["measurement_window_hours"], v2["one_per_session"]) == (24, True)  # the rest carried over

    # Enterprise override for acme, starting from the product's latest version.
    response = post_json(vendor_client, criteria_url(), {"account": "acme", "excluded_channels": ["voice"]})
    assert response.status_code == 201
    override = response.json()
    assert (override["rule_version"], override["version"], override["account"]) == (
        "resolved_conversation acme v1",
        1,
        "acme",
    )
    assert (override["measurement_window_hours"], override["excluded_channels"]) == (24, ["voice"])

    post(account_a, "a-new-chat", channel="chat")
    post(account_a, "a-new-voice", channel="voice")
    post(account_b, "b-new-voice", channel="voice")

    assert rule_version("acme", "a-v1", vendor_client) == "resolved_conversation v1"
    assert rule_version("globex", "b-v1", vendor_client) == "resolved_conversation v1"
    assert rule_version("acme", "a-new-chat", vendor_client) == "resolved_conversation acme v1"
    assert rule_version("globex", "b-new-voice", vendor_client) == "resolved_conversation v2"
    windows = {e.event_id: e.window_ends_at - e.occurred_at for e in Event.objects.all()}
    assert windows == {
        "a-v1": timedelta(hours=72),
        "b-v1": timedelta(hours=72),
        "a-new-chat": timedelta(hours=24),
        "a-new-voice": timedelta(hours=24),
        "b-new-voice": timedelta(hours=24),
    }
    reasons = dict(Event.objects.values_list("event_id", "non_billable_reason"))
    assert (reasons["a-new-voice"], reasons["b-new-voice"]) == ("criteria_not_met", "")

    # Product v3 does not touch acme, whose override wins; globex follows the product.
    assert post_json(vendor_client, criteria_url(), {"measurement_window_hours": 48}).status_code == 201
    post(account_a, "a-after-v3")
    post(account_b, "b-after-v3")
    assert rule_version("acme", "a-after-v3", vendor_client) == "resolved_conversation acme v1"
    assert rule_version("globex", "b-after-v3", vendor_client) == "resolved_conversation v3"
    # The detail names the version that decided.
    detail = vendor_client.get("/api/v1/events/acme/a-new-voice").json()
    assert detail["decision"]["rule_version"] == "resolved_conversation acme v1"
    assert dict((c["code"], c["outcome"]) for c in detail["decision"]["criteria"])["within_definition"] == "failed"


def test_earlier_versions_stay_as_they_were(vendor_client, outcome_type):
    post_json(vendor_client, criteria_url(), {"measurement_window_hours": 24, "excluded_workflows": ["faq"]})
    post_json(vendor_client, criteria_url(), {"excluded_workflows": []})

    rows = list(
        SuccessCriteria.objects.filter(account=None)
        .order_by("version")
        .values_list("version", "measurement_window_hours", "excluded_workflows")
    )
    assert rows == [(1, 72, []), (2, 24, ["faq"]), (3, 24, [])]


def test_the_criteria_list_shows_an_account_only_its_own_override(vendor_client, account_a, account_b, outcome_type):
    post_json(vendor_client, criteria_url(), {"account": "acme", "measurement_window_hours": 12})
    post_json(vendor_client, criteria_url(), {"account": "globex", "measurement_window_hours": 6})

    vendor_versions = [c["rule_version"] for c in vendor_client.get(criteria_url()).json()["results"]]
    acme_versions = [
        c["rule_version"] for c in key_client(account_a, Role.VIEWER).get(criteria_url()).json()["results"]
    ]

    assert sorted(vendor_versions) == [
        "resolved_conversation acme v1",
        "resolved_conversation globex v1",
        "resolved_conversation v1",
    ]
    assert sorted(acme_versions) == ["resolved_conversation acme v1", "resolved_conversation v1"]


def test_an_override_for_an_unknown_account_is_404(vendor_client, outcome_type):
    response = post_json(vendor_client, criteria_url(), {"account": "nobody", "measurement_window_hours": 1})
    assert_error(response, 404, "not_found", fields=None)
    assert SuccessCriteria.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"measurement_window_hours": -5}, {"measurement_window_hours": [GE0]}),
        ({"excluded_channels": "voice"}, {"excluded_channels": [NOT_A_LIST]}),
        ({"confirm_closes_window": "sometimes"}, {"confirm_closes_window": ["Must be a valid boolean."]}),
    ],
)
def test_bad_criteria_are_400_with_fields(vendor_client, outcome_type, body, fields):
    assert_error(post_json(vendor_client, criteria_url(), body), 400, "validation_error", fields=fields)
    assert SuccessCriteria.objects.count() == 1


@pytest.mark.django_db
def test_a_negative_default_price_is_refused_by_the_form_and_the_database():
    outcome_type = factories.make_outcome_type()
    outcome_type.unit_price = Decimal("-0.01")
    with pytest.raises(ValidationError) as refused:
        outcome_type.full_clean()  # what the admin's form runs
    assert "unit_price" in refused.value.message_dict
    with pytest.raises(IntegrityError, match="outcome_type_price_not_negative"), transaction.atomic():
        OutcomeType.objects.filter(pk=outcome_type.pk).update(unit_price=Decimal("-0.01"))
