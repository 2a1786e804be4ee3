"""Ingestion keeps what it resolves between batches, and sees any change at the very next batch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from billing.ledger.models import Charge
from billing.spend.services import spend_controls_set
from metering.models import Event, OutcomeType
from metering.services import criteria_version_create
from tests import factories
from tests.threads import in_thread

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 12, 12, 0, tzinfo=UTC)


def post(account: str, event_id: str, **fields):
    payload = factories.event_payload(account, event_id, occurred_at=NOW - timedelta(hours=2), **fields)
    return factories.ingest(payload, now=NOW).results[0]


def catalogue_reads(queries) -> int:
    tables = ("accounts_account", "metering_outcometype", "metering_successcriteria")
    return sum(1 for q in queries if q["sql"].lstrip().startswith("SELECT") and any(t in q["sql"] for t in tables))


def test_the_next_batch_for_the_same_accounts_reads_no_catalogue(outcome_type):
    factories.make_account("acme")
    with CaptureQueriesContext(connection) as first:
        post("acme", "a")
    with CaptureQueriesContext(connection) as second:
        post("acme", "b")
    assert catalogue_reads(first.captured_queries) >= 3  # account, outcome type, criteria
    assert catalogue_reads(second.captured_queries) == 0
    assert Event.objects.count() == 2


def test_an_account_created_after_a_rejection_is_found_at_once(outcome_type):
    assert post("newco", "a")["error"]["code"] == "unknown_account"
    factories.make_account("newco")
    assert post("newco", "a")["status"] == "accepted"


def test_a_deactivated_outcome_type_is_refused_at_once(outcome_type):
    factories.make_account("acme")
    assert post("acme", "a")["status"] == "accepted"
    OutcomeType.objects.filter(pk=outcome_type.pk).update(active=False)
    assert post("acme", "b")["error"]["code"] == "unknown_outcome_type"


def test_a_new_criteria_version_decides_the_next_batch(outcome_type):
    factories.make_account("acme")
    post("acme", "before", channel="voice")
    newer = criteria_version_create(outcome_type=outcome_type, account=None, excluded_channels=["voice"])
    post("acme", "after", channel="voice")

    decided = {e.event_id: (e.criteria_id, e.non_billable_reason) for e in Event.objects.all()}
    assert decided["after"] == (newer.pk, "criteria_not_met")
    assert decided["before"][0] != newer.pk and decided["before"][1] == ""


def test_an_account_override_applies_from_the_next_batch(outcome_type):
    acme = factories.make_account("acme")
    post("acme", "before")
    override = criteria_version_create(outcome_type=outcome_type, account=acme, excluded_workflows=["support.refund"])
    post("acme", "after", workflow="support.refund")
    assert Event.objects.get(event_id="after").criteria_id == override.pk


def test_a_spend_cap_set_between_batches_caps_the_next_one(outcome_type):
    acme = factories.make_account("acme")
    post("acme", "a")  # 0.99, under any cap yet
    spend_controls_set(
        account=Account.objects.get(pk=acme.pk),
        monthly_cap=Decimal("1.00"),
        monthly_cap_outcomes=None,
        alert_thresholds=[],
        at_cap="pause",
        changed_by="test",
        now=NOW,
    )
    post("acme", "b")  # would take the month to 1.98
    assert factories.event_seen("b").shown_reason == "cap_reached"


def test_a_currency_change_reaches_the_next_events(outcome_type):
    factories.make_account("acme")
    post("acme", "a")
    Account.objects.filter(external_id="acme").update(currency="EUR")
    post("acme", "b")
    assert dict(Charge.objects.values_list("event__event_id", "currency")) == {"a": "USD", "b": "EUR"}


@pytest.mark.django_db(transaction=True)
def test_a_version_published_on_another_connection_applies_once_committed():
    outcome_type = factories.make_outcome_type()
    factories.make_account("acme")
    post("acme", "first")
    writing, publish, published = threading.Event(), threading.Event(), []

    def editor():  # an operator's transaction, open while batches arrive
        with transaction.atomic():
            newer = criteria_version_create(outcome_type=outcome_type, account=None, excluded_channels=["voice"])
            published.append(newer)
            writing.set()
            publish.wait(timeout=10)

    thread, errors = in_thread(editor)
    assert writing.wait(timeout=10)
    post("acme", "while-open", channel="voice")  # the new version is not committed: the old one decides
    publish.set()
    thread.join(timeout=10)
    assert not errors
    post("acme", "after-commit", channel="voice")

    decided = {e.event_id: (e.criteria_id, e.non_billable_reason) for e in Event.objects.all()}
    assert decided["while-open"] == (decided["first"][0], "")
    assert decided["after-commit"] == (published[0].pk, "criteria_not_met")
