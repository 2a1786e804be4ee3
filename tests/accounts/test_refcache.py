"""The reference-data stamp moves with every change to the watched tables, and only then."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts import refcache
from accounts.models import Account
from billing.services import contract_version_create
from billing.spend.services import spend_controls_set
from metering.models import OutcomeType
from metering.services import criteria_version_create
from tests import factories


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def _new_account():
    factories.make_account()


def _account_renamed():
    Account.objects.filter(external_id="acme").update(name="Acme Corp")


def _outcome_type_repriced():
    OutcomeType.objects.filter(code="resolved_conversation").update(unit_price=Decimal("1.10"))


def _criteria_versioned():
    criteria_version_create(outcome_type=OutcomeType.objects.get(), account=None, excluded_channels=["voice"])


def _contract_versioned():
    contract_version_create(
        account=Account.objects.get(external_id="acme"),
        document={"effective_from": "2026-01-01", "prices": []},
        created_by="test",
    )


def _spend_control_set():
    spend_controls_set(
        account=Account.objects.get(external_id="acme"),
        monthly_cap=Decimal("100"),
        monthly_cap_outcomes=None,
        alert_thresholds=[80],
        at_cap="pause",
        changed_by="test",
        now=datetime(2026, 6, 1, tzinfo=UTC),
    )


def _account_deleted_raw_sql():
    factories.make_account("gone")
    before = refcache.stamp()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_account WHERE external_id = 'gone'")
    assert refcache.stamp() != before


CHANGES = [
    _new_account,
    _account_renamed,
    _outcome_type_repriced,
    _criteria_versioned,
    _contract_versioned,
    _spend_control_set,
    _account_deleted_raw_sql,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_any_change_to_reference_data_empties_the_kept_dicts(acme, change):
    kept = refcache.cache("test")
    kept["answer"] = 42
    assert refcache.cache("test") is kept  # nothing changed: the same dict, still holding its entry

    change()

    assert refcache.cache("test") == {}


def test_events_and_other_tables_leave_the_stamp_alone(acme):
    before = refcache.stamp()
    factories.ingest(factories.event_payload(acme))
    factories.make_user("vendor_support")
    assert refcache.stamp() == before


def test_a_stamp_rolled_back_is_never_seen_again(acme):
    before = refcache.stamp()
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.make_account("rolled-back")
        rolled_back = refcache.stamp()
        raise RuntimeError
    assert refcache.stamp() == before

    factories.make_account("kept")
    assert refcache.stamp() not in (before, rolled_back)


def test_one_stamp_for_a_pinned_block(acme):
    with refcache.pinned():
        kept = refcache.cache("test")
        kept["answer"] = 42
        factories.make_account()  # moves the stamp, but the block keeps the one it read
        assert refcache.cache("test") is kept
    assert refcache.cache("test") == {}


def test_without_a_stamp_nothing_is_kept(acme):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM refdata_stamp")
    kept = refcache.cache("test")
    kept["answer"] = 42
    assert refcache.cache("test") == {}

    factories.make_account()  # the next change writes the stamp again
    kept = refcache.cache("test")
    kept["answer"] = 42
    assert refcache.cache("test") == {"answer": 42}


def test_a_dict_grown_past_the_limit_starts_over(acme, monkeypatch):
    monkeypatch.setattr(refcache, "MAX_ENTRIES", 3)
    kept = refcache.cache("test")
    kept.update(a=1, b=2, c=3)
    assert refcache.cache("test") is kept
    kept["d"] = 4
    assert refcache.cache("test") == {}


def test_kept_reads_only_the_keys_it_does_not_hold(acme):
    asked = []

    def read(missing):
        asked.append(sorted(missing))
        return {key: key * 10 for key in missing if key != 3}  # nothing found for 3

    assert refcache.kept("test", {1, 2, 3}, read) == {1: 10, 2: 20}
    assert refcache.kept("test", {2, 3, 4}, read) == {1: 10, 2: 20, 4: 40}
    assert asked == [[1, 2, 3], [3, 4]]
