"""One status and one reason per event, written four ways that must agree: in Python
(billing.ledger.shown.shown, what pages and the API show), as ORM filters (the audit table and the
events API: billing.ledger.selectors.shown_status_q / shown_reason_q), as SQL (the CSV export) and
from the two rollups (the counts: billing.audit.counts). A world with every state and reason a
charge can have — invoiced, disputed, credited both ways, a pilot's free outcomes, a void charge.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.test import Client

from accounts.models import Role
from billing.audit.counts import shown_counts
from billing.ingestion import events_ingest, signal_record
from billing.ledger.selectors import attach_charges, shown_reason_q, shown_status_q
from billing.ledger.shown import REASONS, STATUSES
from disputes.services import credits_issue, dispute_file, dispute_resolve
from metering.models import Event
from tests import factories
from tests.billing.helpers import contract
from tests.disputes.conftest import JULY_12, JULY_13


def _dispute(world, event_ids, decision):
    dispute = dispute_file(principal=world.principal("admin_a"), account=world.a, reason_code="other",
                           message="x", event_ids=event_ids, now=JULY_12)  # fmt: skip
    if decision:
        dispute_resolve(principal=world.principal("support"), dispute=dispute, decision=decision, now=JULY_12)


def test_every_way_of_reading_an_events_status_agrees(world):
    _dispute(world, ["jun-0"], "approved")  # invoiced → credited (a credit note)
    _dispute(world, ["jun-1"], None)  # invoiced → disputed (open)
    _dispute(world, ["jul-0"], "approved")  # on the draft → non_billable, dispute_credited
    credits_issue(now=JULY_13)
    contract(world.a, effective_from="2026-07-01", prices=[{"outcome_type": "resolved_conversation", "model": "unit",
             "price": "0.99"}], onboarding={"starts": "2026-07-01", "pilot_free_outcomes": 1})  # fmt: skip
    events_ingest(raw_events=[factories.event_payload(world.a, f"pilot-{i}", occurred_at=JULY_12 - timedelta(hours=i))
                              for i in (3, 2)], now=JULY_12)  # fmt: skip
    signal_record(event=Event.objects.get(event_id="pilot-2"), type="reopened", occurred_at=JULY_12, now=JULY_12)

    events = attach_charges(list(Event.objects.filter(account=world.a).select_related("account")))
    shown = {e.event_id: (e.shown_status, e.shown_reason) for e in events}
    assert {"pending", "billable", "non_billable", "invoiced", "disputed", "credited"} <= {s for s, _ in shown.values()}
    assert {"pilot_free", "dispute_credited", "sandbox", "reopened_in_window"} <= {r for _, r in shown.values()}

    base = Event.objects.filter(account=world.a)
    for status in STATUSES:
        filtered = set(base.filter(shown_status_q(status, account_id=world.a.pk)).values_list("event_id", flat=True))
        assert filtered == {e for e, (s, _) in shown.items() if s == status}, status
    for reason in REASONS:
        filtered = set(base.filter(shown_reason_q(reason, account_id=world.a.pk)).values_list("event_id", flat=True))
        assert filtered == {e for e, (_, r) in shown.items() if r == reason}, reason

    tally = Counter(shown.values())
    assert {(s, r): n for s, r, n in shown_counts(account_id=world.a.pk)} == dict(tally)
    # Over any range of days — its whole months read from the month rollups, its other days from the
    # day rollups — the counts are the events' own.
    zone = ZoneInfo(world.a.timezone)
    day_of = {e.event_id: e.occurred_at.astimezone(zone).date() for e in events}
    assert {d.month for d in day_of.values()} == {6, 7}
    for first, end in [(None, date(2026, 7, 1)), (date(2026, 6, 15), None), (date(2026, 6, 1), date(2026, 8, 1)),
                       (date(2026, 6, 10), date(2026, 7, 13)), (date(2026, 7, 2), date(2026, 7, 20)),
                       (date(2026, 5, 20), date(2026, 6, 1)), (date(2026, 6, 12), date(2026, 6, 13))]:  # fmt: skip
        inside = Counter(v for e, v in shown.items() if (first is None or day_of[e] >= first) and
                         (end is None or day_of[e] < end))  # fmt: skip
        counted = shown_counts(account_id=world.a.pk, first_day=first, end_day=end)
        assert {(s, r): n for s, r, n in counted} == dict(inside), (first, end)

    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, world.a, "csv-reader"))
    response = client.get("/account/acme/events.csv")
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert {r["event_id"]: (r["status"], r["non_billable_reason"]) for r in rows} == shown
