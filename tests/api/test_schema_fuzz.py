"""The served OpenAPI schema tells the truth, and no input is a server error: schemathesis against the
Django app in process (WSGI), on the test database, once with a vendor key and once with a
customer admin's key.

Every operation gets ~20 generated requests (``FUZZ_EXAMPLES``, a fixed seed), valid by the schema
and invalid by it, with every check schemathesis has: no 5xx, every status and body as documented,
valid requests accepted and invalid ones refused. ``make fuzz`` runs the same with 100+ each
(bench/README.md). A small world is built first (accounts, events, a finalized invoice, a dispute,
a credit note, a webhook) and path parameters are drawn from it half of the time, so requests reach
real objects and not only 404s.

Two checks are configured, narrowly, where a static schema cannot say what the contract says:

* ``POST /events`` answers 200 to a batch whose events break the rules — each such event is
  ``rejected`` in the answer and the others are processed (api-v1.md). A body invalid by the schema
  only in its events is therefore not refused as a whole; :func:`invalid_events_are_rejected` checks
  instead that every event the schema forbids comes back ``rejected``.
* Some rules depend on what is stored or on several fields at once (an unknown outcome type, an
  event already in an open dispute, increasing price bands, a cap finer than the account's currency,
  a timestamp more than 5 minutes ahead…): a request valid by the schema may get a 400 for them.
  ``positive_data_acceptance`` accepts a 400 on those operations only, and
  :func:`refusals_of_valid_requests_are_state_rules` checks that such a 400 names one of these rules
  (its error code, or its fields) — any other 400 to a valid request still fails.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import jsonschema
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from accounts import outbound
from accounts.models import Role
from accounts.services import KEY_PREFIX
from tests import factories
from tests.api.openapi import json_schema

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261101"))
# The coverage phase (every boundary and enum value the schema names: unbounded, ~600 time zones
# alone) runs in `make fuzz`; the suite's run is the bounded examples and fuzzing phases.
FUZZ_COVERAGE = os.environ.get("FUZZ_COVERAGE", "") == "1"

# Rules a static schema cannot hold, per operation: the error codes a request valid by the schema may
# still get a 400 with, or (for validation errors) the fields such a 400 may name (regular expressions).
STATE_RULES: dict[tuple[str, str], dict[str, list[str]]] = {
    ("POST", "/api/v1/accounts/{external_id}/webhooks"): {"codes": ["invalid_url"], "fields": []},
    ("PUT", "/api/v1/accounts/{external_id}/spend-controls"): {
        "codes": [],
        "fields": [r"monthly_cap"],  # finer than the account's currency (USD 2 places, JPY 0)
    },
    ("PUT", "/api/v1/accounts/{external_id}/contract"): {
        "codes": [],
        "fields": [
            r"prices\.\d+\.outcome_type",  # not in the catalogue, or priced twice
            r"prices\.\d+\.model",  # money-only models in a credits contract
            r"prices\.\d+\.bands\.\d+\.up_to",  # bounds must increase; the last is open
            r"prices\.\d+\.percent",  # at most 100
            r"credit_price",  # required with credits, and > 0
            r"commitment\.amount",  # > 0
            r"platform_fee\.included_(credits|outcomes)",  # credits only with credits, outcomes only with money
            r"(onboarding|price_lock)\.starts",  # a date before 1970 or past 9999 once the days are added
            r"effective_from",
            # A guaranteed type not in the catalogue; a ratio above 1, above 100 % per point (the schema's
            # decimal grammar cannot bound them); a guarantee credits money, so not in a credits contract.
            r"guarantee(\.(outcome_type|min_attainment|credit_percent_per_point))?",
        ],
    },
    ("POST", "/api/v1/events/{account}/{event_id}/signals"): {
        "codes": ["timestamp_out_of_range"],
        "fields": [r"occurred_at"],  # RFC 3339 allows a few instants Python cannot hold (year 0 in UTC)
    },
    ("POST", "/api/v1/disputes"): {
        "codes": [
            "event_in_open_dispute",
            "nothing_to_dispute",
            "events_on_several_invoices",
            "line_not_disputable",
            "too_many_events",
        ],
        "fields": [r"account", r"event_ids", r"invoice_line_id", r"non_field_errors"],  # one of the two
    },
    ("POST", "/api/v1/disputes/{dispute_id}/resolve"): {
        "codes": [],
        "fields": [r"event_ids", r"note"],  # the events of this dispute; a note is required to reject
    },
    ("POST", "/api/v1/invoices/{invoice_id}/payments"): {
        "codes": [],
        "fields": [r"amount", r"paid_at"],  # finer than the invoice's currency; an instant Python cannot hold
    },
    ("POST", "/api/v1/invoices/{invoice_id}/credit-notes"): {
        "codes": [],
        "fields": [r"amount", r"reason"],  # finer than the invoice's currency, zero; a reason of spaces
    },
    ("POST", "/api/v1/accounts/{external_id}/topups"): {
        "codes": [],
        "fields": [r"pack", r"credits"],  # zero credits
    },
    ("POST", "/api/v1/events/{account}/{event_id}/deductions"): {
        "codes": [],
        "fields": [r"reported_at", r"reason"],  # in the future, or an instant Python cannot hold; spaces
    },
    ("POST", "/api/v1/finance/scenarios"): {
        "codes": [],
        # An account that does not exist; points above 100, a threshold above 1 (the schema's decimal
        # grammar allows up to 999.99 and 9.9999).
        "fields": [r"scope\.account", r"params\.(depth_points|points_per_month|threshold)"],
    },
    ("PUT", "/api/v1/accounts/{external_id}/lifecycle"): {
        "codes": [],
        "fields": [r"effective_at"],  # a day that does not exist (2026-02-30), before the last change
    },
    # A cursor is one this API wrote: any other string is refused.
    ("GET", "/api/v1/events"): {
        "codes": ["invalid_cursor"],
        "fields": [r"outcome_type", r"from", r"to"],  # not in the catalogue; an instant Python cannot hold
    },
    ("GET", "/api/v1/invoices/{invoice_id}/lines/{line_id}/events"): {"codes": ["invalid_cursor"], "fields": []},
    ("GET", "/api/v1/accounts/{external_id}/credits"): {"codes": ["invalid_cursor"], "fields": []},
    ("POST", "/api/v1/outcome-types/{code}/criteria"): {"codes": [], "fields": []},
}
# A candidate contract is validated as a contract version is: the same fields, under "contract".
STATE_RULES[("POST", "/api/v1/accounts/{external_id}/contract/preview")] = {
    "codes": [],
    "fields": [rf"contract\.{f}" for f in STATE_RULES[("PUT", "/api/v1/accounts/{external_id}/contract")]["fields"]],
}


def _config() -> schemathesis.Config:
    operations = [
        {
            "include-name": f"{method} {path}",  # (include-method and include-path would each match alone)
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]}
            },
        }
        for method, path in STATE_RULES
    ]
    operations.append(
        {
            "include-name": "POST /api/v1/events",
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": ["200", "400", "401", "403", "404", "406", "413", "415", "429"]
                }
            },
        }
    )
    return schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "generation": {
                "mode": "all",
                "max-examples": FUZZ_EXAMPLES,
                # PostgreSQL text cannot hold NUL: every text field refuses it (400), which a JSON
                # Schema string does not say. Not generated; tests/api/test_input_hygiene.py covers it.
                "allow-x00": False,
            },
            "phases": {"coverage": {"enabled": FUZZ_COVERAGE}},
            "operations": operations,
        }
    )


RAW_SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(RAW_SCHEMA, config=_config())
schema.app = get_wsgi_application()

# --- The world the requests reach ------------------------------------------------------------------------

WORLD: dict[str, list] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half of the time, each path parameter names an object of the world (when there is one)."""
    if not path_parameters:
        return st.just(path_parameters)
    strategies = {}
    for name, value in path_parameters.items():
        known = WORLD.get(name) or []
        # Only in place of a value of the same kind: a value made invalid on purpose (a string for an
        # integer id, an empty name) stays, or a request meant to be refused would become valid.
        if known and type(value) is type(known[0]) and value != "":
            strategies[name] = st.sampled_from([value, *known])
        else:
            strategies[name] = st.just(value)
    return st.fixed_dictionaries(strategies)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Acme (events, a finalized June invoice with its line, a dispute, a credit note, a webhook) and Globex.

    Built once for the module inside a transaction that is rolled back at its end; each test runs in
    a savepoint of it (pytest-django's ``db``), so what one test's requests change, the next never sees.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield _world_build()
        transaction.set_rollback(True)
    WORLD.clear()


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    # No lookup leaves the machine: one public name resolves, every other name is unknown.
    def resolve(host, port):
        if host != "hooks.example.com":
            raise OSError(f"{host}: name not known")
        return ["93.184.215.14"]

    monkeypatch.setattr(outbound, "resolve_host", resolve)


def _world_build() -> dict:
    from accounts.notify import webhook_endpoint_create
    from billing.services import credit_note_issue
    from disputes.models import Dispute
    from tests.billing.helpers import contract, post, settle_and_finalize

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbound, "resolve_host", lambda host, port: ["93.184.215.14"])
        endpoint = webhook_endpoint_create(account=factories.make_account("acme"), url="https://hooks.example.com/in")
    acme = endpoint.account
    factories.make_outcome_type()
    globex = factories.make_account("globex")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(acme, 3, cost_amount="0.10", value_amount="12.50")
    post(globex, 1)
    invoice = settle_and_finalize(acme)
    line = invoice.lines.get()
    note = credit_note_issue(account=acme, amount=invoice.total / 3, reason="goodwill", invoice_id=invoice.pk)
    from accounts.access import Principal
    from disputes.services import dispute_file

    first_event = line_event_ids(acme)[0]
    dispute = dispute_file(
        principal=Principal(role=Role.CUSTOMER_ADMIN, account_id=acme.pk, label="fuzz"),
        account=acme,
        reason_code="not_resolved",
        message="Reopened the next day.",
        event_ids=[first_event],
        via="api",
    )
    WORLD.clear()
    WORLD.update(
        external_id=["acme", "globex"],
        account=["acme", "globex"],
        event_id=line_event_ids(acme),
        code=["resolved_conversation"],
        invoice_id=[invoice.pk],
        line_id=[line.pk],
        dispute_id=[dispute.pk],
        webhook_id=[endpoint.pk],
    )
    assert Dispute.objects.count() == 1 and note.pk
    return {"acme": acme}


def line_event_ids(account) -> list[str]:
    from metering.models import Event

    return sorted(Event.objects.filter(account=account).values_list("event_id", flat=True))


@pytest.fixture(params=["vendor", "customer"])
def api_key(request, world, db):
    # As Django's test client does: the end of a request must not close the test's connection (its
    # transaction holds the world).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    request.addfinalizer(lambda: signals.request_started.connect(close_old_connections))
    request.addfinalizer(lambda: signals.request_finished.connect(close_old_connections))
    if request.param == "vendor":
        return factories.vendor_key()
    return factories.account_key(world["acme"], Role.CUSTOMER_ADMIN)


# --- The narrowly configured checks (module docstring) -----------------------------------------------------


_EVENT_VALIDATOR = jsonschema.Draft4Validator(
    {"$ref": "urn:api#/components/schemas/EventInRequest"},
    registry=Registry().with_resource("urn:api", Resource(json_schema(RAW_SCHEMA), specification=DRAFT4)),
)


def _event_is_valid(event) -> bool:
    return _EVENT_VALIDATOR.is_valid(event)


def invalid_events_are_rejected(ctx, response, case):
    """POST /events: a 200 lists each event; every event the schema forbids is ``rejected``."""
    if (case.method, case.path) != ("POST", "/api/v1/events") or response.status_code != 200:
        return None
    events = case.body["events"]
    results = response.json()["results"]
    assert len(results) == len(events), "one result per submitted event"
    for event, result in zip(events, results, strict=True):
        if not _event_is_valid(event):
            assert result["status"] == "rejected", f"an event the schema forbids was {result['status']}: {event!r}"
    return True


def refusals_of_valid_requests_are_state_rules(ctx, response, case):
    """A 400 to a request valid by the schema names one of its operation's state rules (STATE_RULES)."""
    rules = STATE_RULES.get((case.method, case.path))
    if rules is None or response.status_code != 400 or case.meta is None:
        return None
    if not case.meta.generation.mode.is_positive:
        return None
    error = response.json()["error"]
    if error["code"] in rules["codes"]:
        return True
    fields = error.get("fields") or {}
    assert error["code"] == "validation_error" and fields, f"a valid request refused: {error!r}"
    for field in fields:
        assert any(re.fullmatch(rule, field) for rule in rules["fields"]), f"a valid request refused: {error!r}"
    return True


# Requests sent, by operation and status: FUZZ_REPORT=path writes them when the module ends
# (make fuzz: the figures in bench/README.md).
SENT: Counter[tuple[str, str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if path := os.environ.get("FUZZ_REPORT"):
        with open(path, "w") as out:
            for (key, label, status), n in sorted(SENT.items()):
                out.write(f"{key}\t{label}\t{status}\t{n}\n")


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_api(case, api_key):
    response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    who = "vendor" if api_key.startswith(f"{KEY_PREFIX}v_") else "customer"
    SENT[(who, f"{case.method} {case.path}", response.status_code)] += 1
    case.validate_response(
        response,
        headers={"Authorization": f"Bearer {api_key}"},
        additional_checks=[invalid_events_are_rejected, refusals_of_valid_requests_are_state_rules],
    )
