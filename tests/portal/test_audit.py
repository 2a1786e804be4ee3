"""The audit table, its keyset pages, filters, htmx partials and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from billing import audit
from billing.ledger.selectors import attach_charges
from billing.ledger.shown import REASONS
from metering.models import Event
from tests import factories

EVENT_LINK = re.compile(r'class="event-link">([^<]+)</a>')


def _ids(html: str) -> list[str]:
    return [unescape(m) for m in EVENT_LINK.findall(html)]


def _walk(client, url: str) -> tuple[list[str], list[str]]:
    """Every event ID from the first page to the last, following "Older"; the URLs visited."""
    seen, urls = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += _ids(response.content.decode())
        urls.append(url)
        url = response.context["older_url"]
        assert len(urls) < 200
    return seen, urls


def _expected(q: Q | None = None, account: str = "acme") -> list[str]:
    q = q or Q()
    return list(
        Event.objects.filter(q, account__external_id=account)
        .order_by("-occurred_at", "-id")
        .values_list("event_id", flat=True)
    )


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 7)


def test_keyset_walk_visits_every_row_once_newest_first_and_back(events, clients, small_pages):
    client = clients["admin_a"]
    seen, urls = _walk(client, "/account/acme/events/")
    assert seen == _expected()
    assert len(seen) == len(set(seen)) == 120
    assert len(urls) == 18  # 120 rows in pages of 7
    assert all("older=" in url for url in urls[1:])
    # …and back, page by page with "Newer", to the first page.
    back, response = [], client.get(urls[-1])
    pages = [_ids(response.content.decode())]
    while response.context["newer_url"]:
        response = client.get(response.context["newer_url"])
        pages.append(_ids(response.content.decode()))
    for page in reversed(pages):
        back += page
    assert back == seen
    assert response.context["newer_url"] is None and response.context["first_url"] is None


def test_first_page_has_no_newer_and_last_page_no_older(events, clients):
    response = clients["admin_a"].get("/account/acme/events/")
    assert response.context["newer_url"] is None
    assert response.context["older_url"] is not None  # 120 events > 50
    html = response.content.decode()
    assert 'aria-disabled="true">‹ Newer' in html and 'rel="next"' in html


FILTER_CASES = {
    "status": ("status=non_billable", Q(status="non_billable")),
    "reason": ("reason=abandoned", Q(non_billable_reason="abandoned")),
    "status_and_reason": (
        "status=non_billable&reason=human_handoff",
        Q(status="non_billable", non_billable_reason="human_handoff"),
    ),
    "type": ("type=qualified_lead", Q(outcome_type__code="qualified_lead")),
    "type_and_status": (
        "type=qualified_lead&status=billable",
        Q(outcome_type__code="qualified_lead", status="billable"),
    ),
    "channel": ("channel=voice", Q(channel="voice")),
    "workflow": ("workflow=support.refund", Q(workflow="support.refund")),
    "verification": ("verification=crm_accepted", Q(verification_method="crm_accepted")),
    "search_event": ("q=a-evt-0033", Q(event_id="a-evt-0033")),
    "search_session": ("q=a-sess-7", Q(session_id="a-sess-7")),
    "pending": ("status=pending", Q(status="pending")),
    "sandbox": ("reason=sandbox&channel=chat", Q(non_billable_reason="sandbox", channel="chat")),
}


@pytest.mark.parametrize("case", FILTER_CASES)
def test_filters_page_through_exactly_the_matching_rows(events, clients, small_pages, case):
    query, q = FILTER_CASES[case]
    expected = _expected(q)
    assert expected, "the fixture should have rows for every case"
    seen, urls = _walk(clients["admin_a"], f"/account/acme/events/?{query}")
    assert seen == expected
    # Every page's URL carries the filters, so any page can be bookmarked and shared.
    for url in urls:
        for part in query.split("&"):
            assert part in url


@pytest.mark.parametrize("case", FILTER_CASES)
def test_a_walk_that_stops_every_few_events_still_finds_every_match_once(events, clients, small_pages, case,
                                                                          monkeypatch):  # fmt: skip
    """Pages filtered event by event look at most SCAN_CAP events each; following "Older" from the
    pages where the walk stopped still reaches every match, once, in order."""
    monkeypatch.setattr("billing.audit.table.SCAN_CAP", 9)
    query, q = FILTER_CASES[case]
    client = clients["admin_a"]
    seen, urls = _walk(client, f"/account/acme/events/?{query}")
    assert seen == _expected(q)
    # …and back with "Newer" from the last page (its walks bounded too): the same rows, in order.
    response = client.get(urls[-1])
    pages = [_ids(response.content.decode())]
    while response.context["newer_url"]:
        assert response.context["first_url"]  # "Newest" is always offered on a page past the first
        response = client.get(response.context["newer_url"])
        pages.append(_ids(response.content.decode()))
        assert len(pages) < 200
    assert [i for page in reversed(pages) for i in page] == seen


def test_a_rare_value_says_where_the_walk_stopped_and_offers_to_look_further_back(events, clients, monkeypatch):
    monkeypatch.setattr("billing.audit.table.SCAN_CAP", 20)
    monkeypatch.setattr(audit, "PAGE_SIZE", 5)
    client = clients["admin_a"]
    oldest = Event.objects.filter(account__external_id="acme").order_by("occurred_at", "id").first()
    Event.objects.filter(pk=oldest.pk).update(channel="fax")  # one match, the account's oldest event
    response = client.get("/account/acme/events/?channel=fax")
    html = " ".join(unescape(response.content.decode()).split())
    assert _ids(html) == [] and response.context["page"].scanned_to is not None
    assert "No matches among the 20 events before now" in html and "Look further back" in html
    seen, urls = _walk(client, "/account/acme/events/?channel=fax")
    assert seen == [oldest.event_id] and len(urls) == 6  # 120 events, 20 a page
    # A value common enough to fill a page (a third of the events) never stops early.
    assert client.get("/account/acme/events/?channel=chat").context["page"].scanned_to is None


def test_date_range_is_local_days_inclusive(events, clients, small_pages, account_a):
    tz = ZoneInfo(account_a.timezone)
    today = timezone.localtime(events, tz).date()
    start, end = today - timedelta(days=6), today - timedelta(days=2)
    q = Q(
        occurred_at__gte=datetime.combine(start, datetime.min.time(), tzinfo=tz),
        occurred_at__lt=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz),
    )
    seen, _ = _walk(clients["admin_a"], f"/account/acme/events/?from={start}&to={end}")
    assert seen == _expected(q) and seen


def test_match_count_comes_from_the_rollup_when_it_can(events, clients):
    response = clients["admin_a"].get("/account/acme/events/?status=non_billable")
    assert (
        response.context["match_count"].n
        == Event.objects.filter(account__external_id="acme", status="non_billable").count()
    )
    assert response.context["match_count"].kind == "exact"
    assert f"<strong>{response.context['match_count'].n}</strong> events match these filters" in (
        response.content.decode()
    )
    # A channel is not a rollup dimension: counted by reading the events — these dates hold fewer
    # than the cap, so exactly (tests/portal/test_audit_views.py has the rest).
    response = clients["admin_a"].get("/account/acme/events/?channel=voice")
    assert (
        response.context["match_count"].n == Event.objects.filter(account__external_id="acme", channel="voice").count()
    )
    assert "<strong>40</strong> events match these filters" in response.content.decode()


def test_htmx_gets_only_the_partial_and_history_restore_the_page(events, clients):
    client = clients["admin_a"]
    partial = client.get("/account/acme/events/?type=resolved_conversation", headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in html and 'role="search"' not in html and '<nav aria-label="Main"' not in html
    assert 'class="table audit"' in html and "a-evt-" in html
    assert 'hx-push-url="true"' in html and "type=resolved_conversation" in html  # the pager keeps the URL
    # The form sends every field, empty or not; the address bar gets the canonical URL.
    form_sent = client.get("/account/acme/events/?q=&from=&status=pending&reason=", headers={"HX-Request": "true"})
    assert form_sent["HX-Push-Url"] == "/account/acme/events/?status=pending"
    restore = client.get(
        "/account/acme/events/?status=billable",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.content.decode()
    full = client.get("/account/acme/events/?status=billable").content.decode()
    assert "<html" in full and 'hx-get="/account/acme/events/"' in full
    assert 'value="billable" selected' in full  # the form shows the URL's filters


def test_pager_links_work_without_javascript(events, clients):
    html = clients["admin_a"].get("/account/acme/events/?status=non_billable").content.decode()
    older = re.search(r'<a class="button small" href="([^"]+)" hx-get="\1"[^>]*rel="next"', html)
    assert older and "status=non_billable" in unescape(older.group(1))


def test_bad_cursor_and_bad_dates_never_fail(events, clients):
    client = clients["admin_a"]
    response = client.get("/account/acme/events/?older=not-a-cursor")
    assert response.status_code == 200 and _ids(response.content.decode()) == _expected()[:50]
    response = client.get("/account/acme/events/?from=2026-13-45&to=yesterday")
    assert response.status_code == 200
    assert "Some filters were ignored" in response.content.decode()
    response = client.get("/account/acme/events/?from=2026-11-20&to=2026-11-01")
    assert "The end date is before the start date." in response.content.decode()
    assert client.get("/account/acme/events/?status=bogus&reason=bogus&type=bogus").status_code == 200


def _csv(response) -> list[dict]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0].keys()) == list(audit.EXPORT_HEADERS) if rows else True
    return rows


@pytest.mark.parametrize("case", ["none", *FILTER_CASES])
def test_csv_holds_exactly_the_filtered_rows_in_table_order(events, clients, case):
    query, q = FILTER_CASES.get(case, ("", Q()))
    response = clients["admin_a"].get(f"/account/acme/events.csv?{query}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-events-')
    rows = _csv(response)
    assert [r["event_id"] for r in rows] == _expected(q)


def test_csv_values_match_the_events(events, clients, account_a):
    rows = {r["event_id"]: r for r in _csv(clients["admin_a"].get("/account/acme/events.csv"))}
    now = timezone.now()
    events = attach_charges(list(Event.objects.filter(account=account_a).select_related("outcome_type")))
    assert {e.shown_status for e in events} >= {"pending", "billable", "non_billable"}
    for event in events:
        row = rows[event.event_id]
        assert row["account"] == "acme"
        assert row["outcome_type"] == event.outcome_type.code
        assert datetime.fromisoformat(row["occurred_at"]) == event.occurred_at
        assert datetime.fromisoformat(row["window_ends_at"]) == event.window_ends_at
        # One status and one reason, the event's decision read with its charge — as the table shows them.
        assert row["status"] == event.shown_status
        assert row["non_billable_reason"] == event.shown_reason
        assert row["non_billable_reason_text"] == REASONS.get(event.shown_reason, "")
        assert row["success_criteria_met"] == str(event.success_criteria_met).lower()
        assert row["human_handoff"] == str(event.human_handoff).lower()
        assert row["window_status"] == audit.window_state(event, now=now)[0]
        assert (Decimal(row["amount"]) if row["amount"] else None) == event.amount
        assert row["source_url"] == event.source_url
        assert row["session_id"] == event.session_id


def test_csv_times_are_in_the_account_time_zone_with_offset(catalogue, clients, account_a):
    account_a.timezone = "America/New_York"
    account_a.save(update_fields=["timezone"])
    occurred = datetime(2026, 11, 10, 15, 30, tzinfo=ZoneInfo("UTC"))
    factories.ingest(factories.event_payload(account_a, "ny-1", occurred_at=occurred), now=occurred)
    rows = _csv(clients["admin_a"].get("/account/acme/events.csv"))
    assert rows[0]["occurred_at"].startswith("2026-11-10 10:30:00")
    assert rows[0]["occurred_at"].endswith("-05")
    # The connection's own zone is untouched afterwards (Django relies on UTC).
    with connection.cursor() as cursor:
        cursor.execute("SHOW TimeZone")
        assert cursor.fetchone()[0] == "UTC"


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31", "from=9999-12-31", "from=0001-01-01", "to=0001-01-01", "from=1969-12-31&to=9999-12-31"],
)
def test_a_day_no_time_zone_can_hold_is_reported_not_a_server_error(events, clients, query):
    client = clients["admin_a"]
    page = client.get(f"/account/acme/events/?{query}")
    assert page.status_code == 200
    assert "Ensure this value is" in page.content.decode()
    assert _ids(page.content.decode())  # the bad filter is left out: the newest events are listed
    assert client.get(f"/account/acme/events.csv?{query}").status_code == 200
