"""What the database still guarantees where ingestion's hot tables carry no foreign-key constraints.

Events do not reference their account through a constraint, and session claims reference nothing
(migration 0008: the deferred checks cost ingestion more than the rows). A trigger keeps an
account with events from being deleted, and a claim is released through its unique key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Account
from metering.models import Event, SessionClaim
from metering.services import session_claims_release
from tests import factories

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_a_raw_delete_of_an_account_with_events_is_refused(account_a, account_b):
    factories.make_outcome_type()
    factories.ingest(factories.event_payload(account_a, "e1", occurred_at=T0), now=T0 + timedelta(hours=1))

    with (
        pytest.raises(IntegrityError, match="still has outcome events"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM accounts_account WHERE id = %s", [account_a.pk])

    Account.objects.filter(pk=account_b.pk).delete()  # an account without events goes (through the trigger)
    assert set(Account.objects.values_list("pk", flat=True)) == {account_a.pk}
    assert Event.objects.filter(account=account_a).count() == 1


@pytest.mark.django_db
def test_releasing_claims_frees_only_the_sessions_the_given_events_hold(account_a):
    factories.make_outcome_type(one_per_session=True)
    factories.ingest(
        factories.event_payload(account_a, "holder-1", occurred_at=T0, session_id="s1"),
        factories.event_payload(account_a, "second-1", occurred_at=T0 + timedelta(minutes=5), session_id="s1"),
        factories.event_payload(account_a, "holder-2", occurred_at=T0, session_id="s2"),
        now=T0 + timedelta(hours=1),
    )
    pk = dict(Event.objects.values_list("event_id", "pk"))
    assert dict(SessionClaim.objects.values_list("session_id", "event_key")) == {"s1": "holder-1", "s2": "holder-2"}

    session_claims_release([pk["second-1"]])  # holds nothing: nothing is released
    assert SessionClaim.objects.count() == 2

    session_claims_release([pk["holder-1"]])
    assert dict(SessionClaim.objects.values_list("session_id", "event_key")) == {"s2": "holder-2"}


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["value_amount", "cost_amount"])
def test_the_database_refuses_a_negative_value_or_cost(account_a, column):
    factories.make_outcome_type()
    factories.ingest(
        factories.event_payload(account_a, "e1", occurred_at=T0, **{column: "1.50"}), now=T0 + timedelta(hours=1)
    )

    with pytest.raises(IntegrityError, match=f"event_{column}_not_negative"), transaction.atomic():
        Event.objects.filter(account=account_a).update(**{column: -1})

    assert str(getattr(Event.objects.get(account=account_a), column)) == "1.500000"
