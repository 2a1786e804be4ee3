"""The served schema says what the API does: the defects the probe found, each pinned down.

(tests/api/test_schema_fuzz.py checks every operation against the schema with generated requests;
these are the specific cases, readable on their own.)
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from billing.api import CONTRACT_EXAMPLE, CREDITS_EXAMPLE
from billing.contracts import _TOP
from billing.pricing.models import MODELS
from tests import factories
from tests.api.openapi import json_schema as _json_schema

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS = SCHEMA["components"]["schemas"]


def response_schema(method: str, path: str, status: str) -> dict:
    content = SCHEMA["paths"][path][method.lower()]["responses"][status]["content"]["application/json"]
    ref = content["schema"]["$ref"].rsplit("/", 1)[1]
    return COMPONENTS[ref]


def test_the_account_list_is_documented_as_it_answers(vendor_client, account_a):
    body = vendor_client.get("/api/v1/accounts").json()
    assert set(body) == {"results"}
    documented = response_schema("GET", "/api/v1/accounts", "200")
    assert documented["type"] == "object" and set(documented["properties"]) == {"results"}
    assert documented["properties"]["results"]["type"] == "array"


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("GET", "/api/v1/accounts/{external_id}", {"200", "400", "401", "404", "406", "429"}),
        ("POST", "/api/v1/accounts", {"201", "400", "401", "403", "406", "409", "413", "415", "429"}),
        ("PUT", "/api/v1/accounts/{external_id}/spend-controls", {"200", "400", "401", "403", "404", "413", "415"}),
        ("GET", "/api/v1/events", {"200", "400", "401", "403", "404", "429"}),
        ("POST", "/api/v1/events/{account}/{event_id}/signals", {"200", "201", "400", "404", "409"}),
        ("POST", "/api/v1/disputes/{dispute_id}/resolve", {"200", "400", "403", "404", "409"}),
        ("PUT", "/api/v1/accounts/{external_id}/contract", {"201", "400", "401", "403", "404", "413", "415"}),
    ],
)
def test_error_answers_are_documented_with_the_error_body(method, path, statuses):
    responses = SCHEMA["paths"][path][method.lower()]["responses"]
    assert statuses <= set(responses)
    for status in set(responses) - {"200", "201", "204"}:
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(("/ErrorBody", "/WindowClosed"))
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_every_operation_documents_its_errors():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            assert {"400", "406"} <= set(operation["responses"]), (method, path)
            if operation.get("security", [{}]) not in ([], [{}]):  # it asks for a key
                assert {"401", "429"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("EventRow", "value_amount"),
        ("EventRow", "non_billable_reason"),
        ("EventRow", "amount"),
        ("EventRow", "invoice_id"),
        ("Invoice", "number"),
        ("InvoiceLine", "unit_price"),
        ("OutcomeTypeDoc", "criteria"),
        ("AccountStatus", "cap"),
        ("SpendControlsOut", "monthly_cap_outcomes"),
        ("DisputeOut", "credited_amount"),
        ("Contract", "terms"),
    ],
)
def test_fields_that_can_be_null_say_so(component, field):
    prop = COMPONENTS[component]["properties"][field]
    assert prop.get("nullable") is True or {"$ref": "#/components/schemas/NullEnum"} in prop.get("oneOf", [])


def test_the_outcome_cap_is_bounded_by_its_column():
    prop = COMPONENTS["SpendControlsRequest"]["properties"]["monthly_cap_outcomes"]
    assert (prop["minimum"], prop["maximum"]) == (0, 2**31 - 1)


def test_the_contract_document_is_published_with_every_field():
    document = COMPONENTS["ContractDocumentRequest"]
    # The document's fields, and how a date inside a month takes effect (billing.contract_changes).
    assert set(document["properties"]) == _TOP | {"mid_period"}
    assert document["additionalProperties"] is False
    variants = [COMPONENTS[v["$ref"].rsplit("/", 1)[1]] for v in COMPONENTS["TypePriceRequest"]["oneOf"]]
    documented_models = {m for v in variants for m in _model_words(v)}
    assert documented_models == set(MODELS)
    for variant in variants:
        for model in _model_words(variant):
            assert set(variant["properties"]) == {"outcome_type", "model", *MODELS[model].fields}


def _model_words(variant: dict) -> list[str]:
    model = variant["properties"]["model"]
    ref = model.get("$ref") or model["allOf"][0]["$ref"]
    return COMPONENTS[ref.rsplit("/", 1)[1]]["enum"]


@pytest.mark.parametrize("example", [CONTRACT_EXAMPLE, CREDITS_EXAMPLE])
def test_a_contract_valid_by_the_schema_is_accepted(vendor_client, account_a, example):
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    factories.make_outcome_type("resolved_conversation")
    factories.make_outcome_type("qualified_lead")
    validator = jsonschema.Draft4Validator(
        {"$ref": "urn:api#/components/schemas/ContractDocumentRequest"},
        registry=Registry().with_resource("urn:api", Resource(_json_schema(SCHEMA), specification=DRAFT4)),
    )
    assert list(validator.iter_errors(example)) == []
    response = vendor_client.put(
        f"/api/v1/accounts/{account_a.external_id}/contract", example, content_type="application/json"
    )
    assert response.status_code == 201, response.json()


def test_the_served_schema_is_this_one(vendor_client):
    import orjson

    served = vendor_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert orjson.loads(served.content) == orjson.loads(orjson.dumps(SCHEMA))
