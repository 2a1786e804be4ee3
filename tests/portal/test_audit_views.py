"""The audit table's choice filters, its total for any filter, column choice and saved views
(issue 16, point 3) — and that a person's columns and views are theirs alone, on one account."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing import audit
from billing.audit import saved
from billing.audit import table as audit_table
from billing.audit.models import AuditColumns, AuditView
from metering.models import Event
from tests import factories

EVENTS = "/account/acme/events/"
SAVE = "/account/acme/audit-views/"
COLUMNS = "/account/acme/audit-columns/"


def _options(html: str, select_id: str) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of every option of the <select> with that id."""
    match = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no <select id={select_id}>"
    return [
        (unescape(value), unescape(text), bool(selected))
        for value, selected, text in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', match.group(1))
    ]


def _headers(html: str) -> list[str]:
    thead = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    return [unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", thead)]


def _count_text(html: str) -> str:
    match = re.search(r'<p class="count" role="status">(.*?)</p>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


# --- Choice filters ------------------------------------------------------------------------------


def test_channel_workflow_and_verification_are_choices_of_the_accounts_values_in_words(events, clients, account_b):
    # B has a channel and a method A never used: neither is offered to A.
    factories.ingest(factories.event_payload(account_b, "b-fax", channel="fax", verification_method="llm_verified"))
    html = clients["admin_a"].get(EVENTS).content.decode()
    assert 'name="channel" value=' not in html and 'list="channel-options"' not in html  # no free text
    assert _options(html, "f-channel") == [
        ("", "Any channel", True),
        ("chat", "Chat", False),
        ("email", "Email", False),
        ("voice", "Voice", False),
    ]
    assert _options(html, "f-verification") == [
        ("", "Any method", True),
        ("crm_accepted", "Accepted in the CRM", False),
        ("customer_confirmed", "Confirmed by the customer", False),
        ("inactivity_timeout", "No reply before the timeout", False),
        ("sales_review", "Reviewed by sales", False),
    ]
    assert [value for value, _, _ in _options(html, "f-workflow")] == [
        "",
        "support.order_status",
        "support.password",
        "support.refund",
    ]


def test_the_chosen_value_is_selected_and_filters_the_rows(events, clients):
    html = clients["admin_a"].get(f"{EVENTS}?channel=voice&verification=crm_accepted").content.decode()
    assert ("voice", "Voice", True) in _options(html, "f-channel")
    assert ("crm_accepted", "Accepted in the CRM", True) in _options(html, "f-verification")
    expected = Event.objects.filter(account__external_id="acme", channel="voice", verification_method="crm_accepted")
    assert sorted(re.findall(r'class="event-link">([^<]+)</a>', html)) == sorted(e.event_id for e in expected)


def test_a_value_from_the_url_the_account_lacks_stays_selected(events, clients):
    """A bookmarked link keeps its filter: the value is offered, selected, and matches nothing."""
    response = clients["admin_a"].get(f"{EVENTS}?channel=fax&workflow=sales.inbound")
    html = response.content.decode()
    assert response.status_code == 200 and "Some filters were ignored" not in html
    assert _options(html, "f-channel")[-1] == ("fax", "Fax", True)
    assert _options(html, "f-workflow")[-1] == ("sales.inbound", "sales.inbound", True)
    assert "No events match these filters" in html
    assert _count_text(html).startswith("0 events match these filters")


def test_choices_reach_past_the_newest_events_through_every_day_of_the_account(events, clients, account_a, monkeypatch):
    """The sample is bounded (the newest events, a few of each day): a channel used only long ago,
    far behind the newest events, is still offered."""
    old = events - timedelta(days=30)  # the fixture's events span 15 days
    factories.ingest(factories.event_payload(account_a, "a-old-phone", occurred_at=old, channel="phone"), now=events)
    monkeypatch.setattr(audit_table, "CHOICES_NEWEST", 5)
    monkeypatch.setattr(audit_table, "CHOICES_PER_DAY", 1)
    choices = audit.audit_choices(account=account_a)
    assert "phone" in choices["channel"]
    # …and the sample is what was read: 5 newest + 1 per day, not the account's 121 events.
    assert len(set(choices["workflow"])) <= 3


# --- The total --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "q"),
    [
        ("channel=voice", {"channel": "voice"}),
        ("workflow=support.refund&status=non_billable", {"workflow": "support.refund", "status": "non_billable"}),
        ("verification=crm_accepted", {"verification_method": "crm_accepted"}),
        ("q=a-sess-7", {"session_id": "a-sess-7"}),
    ],
)
def test_a_filter_the_rollups_do_not_know_still_gets_an_exact_total(events, clients, query, q):
    html = clients["admin_a"].get(f"{EVENTS}?{query}").content.decode()
    n = Event.objects.filter(account__external_id="acme", **q).count()
    assert n
    noun = "event matches" if n == 1 else "events match"
    assert _count_text(html).startswith(f"{n} {noun} these filters · ")
    assert re.search(r"· \d+ shown", _count_text(html))


def test_beyond_the_cap_the_total_counts_the_newest_events_and_says_so(events, clients, monkeypatch):
    monkeypatch.setattr(audit_table, "COUNT_CAP", 50)
    newest = Event.objects.filter(account__external_id="acme").order_by("-occurred_at", "-id")[:50]
    n = sum(1 for e in newest if e.channel == "voice")
    with CaptureQueriesContext(connection) as queries:
        response = clients["admin_a"].get(f"{EVENTS}?channel=voice")
    count = response.context["match_count"]
    assert (count.n, count.kind, count.read, count.in_range) == (n, "newest", 50, 120)
    assert _count_text(response.content.decode()).startswith(
        f"{n} of the newest 50 events match these filters (of 120 in total; narrow the dates for an exact count)"
    )
    # Never a count(*) of the account's events: the one count reads a keyset range of the newest.
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert len(counts) == 1 and '"metering_event"."occurred_at" >=' in counts[0]


def test_narrow_dates_under_the_cap_are_counted_exactly(events, clients, account_a, monkeypatch):
    monkeypatch.setattr(audit_table, "COUNT_CAP", 50)
    day = events.astimezone(audit_table.ZoneInfo(account_a.timezone)).date() - timedelta(days=2)
    response = clients["admin_a"].get(f"{EVENTS}?channel=chat&from={day}&to={day}")
    start = audit.local_day_start(day, account=account_a)
    n = Event.objects.filter(
        account=account_a, channel="chat", occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1)
    ).count()
    assert response.context["match_count"].kind == "exact" and response.context["match_count"].n == n


def test_a_search_past_the_cap_says_more_than(events, account_a):
    filters = audit.AuditFilters(search="a-sess-7")
    assert audit.event_audit_count(account=account_a, filters=filters) == audit.AuditCount(n=2)
    assert audit.event_audit_count(account=account_a, filters=filters, cap=1) == audit.AuditCount(n=1, kind="at_least")


def test_the_unfiltered_table_says_its_total(events, clients):
    assert _count_text(clients["admin_a"].get(EVENTS).content.decode()).startswith("120 events in total · 50 shown")


# --- Column choice ----------------------------------------------------------------------------


ALL_HEADERS = [
    "Outcome · account",
    "Time",
    "Channel",
    "Workflow",
    "Criteria",
    "Hand-off",
    "Window",
    "Verification",
    "Status",
    "Reason",
    "Amount",
    "Source",
]


def test_the_picker_knows_every_column_of_the_table():
    from billing.audit.tables import EventTable

    assert list(EventTable.base_columns) == [
        n for n in EventTable.base_columns if n in saved.FIXED_COLUMNS or n in saved.OPTIONAL_COLUMNS
    ]
    assert set(EventTable.base_columns) == set(saved.FIXED_COLUMNS) | set(saved.OPTIONAL_COLUMNS)


def test_column_choice_is_remembered_for_the_person_and_works_without_javascript(events, clients, people):
    client = clients["admin_a"]
    assert _headers(client.get(EVENTS).content.decode()) == ALL_HEADERS
    response = client.post(COLUMNS, {"col": ["amount", "channel", "nonsense"], "query": "status=billable&older=x"})
    assert response.status_code == 303 and response["Location"] == f"{EVENTS}?status=billable"
    html = client.get(response["Location"]).content.decode()
    assert _headers(html) == ["Outcome · account", "Time", "Channel", "Status", "Amount"]
    assert 'Columns <span class="muted">(2 of 9)</span>' in html
    assert re.search(r'<input type="checkbox" name="col" value="workflow">', html)  # unticked
    row = AuditColumns.objects.get(user=people["admin_a"])
    assert row.columns == ["channel", "amount"]
    # Someone else on the same account still sees every column.
    assert _headers(clients["viewer_a"].get(EVENTS).content.decode()) == ALL_HEADERS


def test_column_choice_with_htmx_swaps_the_results(events, clients):
    response = clients["admin_a"].post(
        COLUMNS, {"col": ["workflow"], "query": "channel=voice"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Location"]) == {"path": f"{EVENTS}?channel=voice", "target": "#results"}
    partial = clients["admin_a"].get(f"{EVENTS}?channel=voice", headers={"HX-Request": "true"}).content.decode()
    assert _headers(partial) == ["Outcome · account", "Time", "Workflow", "Status"]
    assert 'id="view-bar" class="view-bar" hx-swap-oob="true"' in partial  # the saved views follow the filters


def test_no_optional_column_leaves_the_fixed_ones(events, clients):
    clients["admin_a"].post(COLUMNS, {"query": ""})
    assert _headers(clients["admin_a"].get(EVENTS).content.decode()) == ["Outcome · account", "Time", "Status"]
    # A link's column choice wins over the remembered one (a saved view opens with its own).
    html = clients["admin_a"].get(f"{EVENTS}?cols=channel,window").content.decode()
    assert _headers(html) == ["Outcome · account", "Time", "Channel", "Window", "Status"]


def test_columns_only_by_post(events, clients):
    assert clients["admin_a"].get(COLUMNS).status_code == 405


# --- Saved views --------------------------------------------------------------------------------


def _save(client, name: str, query: str = "channel=voice&status=non_billable", cols: str = "channel,amount", **kw):
    return client.post(SAVE, {"name": name, "query": query, "cols": cols}, **kw)


def test_save_open_and_delete_a_view(events, clients, people, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 7)
    client = clients["admin_a"]
    response = _save(client, "  Voice,   not billable ", query="channel=voice&status=non_billable&older=abc&evil=1")
    view = AuditView.objects.get(user=people["admin_a"])
    assert (view.name, view.query, view.columns) == (
        "Voice, not billable",
        "status=non_billable&channel=voice",
        ["channel", "amount"],
    )
    link = f"{EVENTS}?status=non_billable&channel=voice&cols=channel%2Camount"
    assert response.status_code == 303 and response["Location"] == link
    html = client.get(link).content.decode()
    assert f'<a href="{link.replace("&", "&amp;")}" aria-current="true">Voice, not billable</a>' in html
    assert ("voice", "Voice", True) in _options(html, "f-channel")
    assert _headers(html) == ["Outcome · account", "Time", "Channel", "Status", "Amount"]
    # The filter form and the pager keep the view's columns.
    assert '<input type="hidden" name="cols" value="channel,amount">' in html
    changed = client.get(f"{EVENTS}?status=billable&channel=voice&cols=channel,amount", headers={"HX-Request": "true"})
    assert changed["HX-Push-Url"] == f"{EVENTS}?status=billable&channel=voice&cols=channel%2Camount"
    assert "cols=channel%2Camount" in unescape(re.search(r'href="([^"]+)"[^>]*rel="next"', html).group(1))
    # Elsewhere the link is listed, not current.
    other = client.get(EVENTS).content.decode()
    assert ">Voice, not billable</a>" in other and 'aria-current="true">Voice' not in other
    response = client.post(f"/account/acme/audit-views/{view.pk}/delete/", {"query": "status=billable"})
    assert response.status_code == 303 and response["Location"] == f"{EVENTS}?status=billable"
    assert not AuditView.objects.exists()
    assert "None yet" in client.get(EVENTS).content.decode()


def test_saving_with_htmx_swaps_the_results_and_refused_names_answer_in_place(events, clients):
    client = clients["admin_a"]
    response = _save(client, "Mine", headers={"HX-Request": "true"})
    assert response.status_code == 200 and json.loads(response["HX-Location"])["target"] == "#results"
    response = _save(client, "mine", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response["HX-Retarget"] == "#view-bar" and "<html" not in html
    assert "You already have a view named “mine”" in unescape(html)
    assert 'aria-invalid="true"' in html and 'value="mine"' in html


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "Give the view a name."),
        ("   ", "Give the view a name."),
        ("x" * 61, "Keep the name to 60 characters or fewer."),
        ("tab\u0007bell", "The name holds a character that cannot be shown."),
    ],
)
def test_a_bad_name_is_refused_in_words_and_nothing_is_saved(events, clients, name, error):
    response = _save(clients["admin_a"], name)
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert f'<p class="error" id="view-name-error" role="alert">{error}</p>' in html
    assert '<details class="view-menu" open>' in html
    # The page still shows the filters the person was saving.
    assert ("voice", "Voice", True) in _options(response.content.decode(), "f-channel")
    assert not AuditView.objects.exists()


def test_a_person_keeps_at_most_the_limit_per_account(events, clients, people):
    for i in range(saved.VIEWS_MAX):
        assert _save(clients["admin_a"], f"View {i}").status_code == 303
    response = _save(clients["admin_a"], "One more")
    assert response.status_code == 400
    assert f"You keep {saved.VIEWS_MAX} views on this account already" in response.content.decode()
    assert AuditView.objects.filter(user=people["admin_a"]).count() == saved.VIEWS_MAX
    # Another person is not counted against it.
    assert _save(clients["viewer_a"], "One more").status_code == 303


def test_posts_need_the_csrf_token(events, people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["admin_a"])
    assert _save(client, "No token").status_code == 403
    assert client.post(COLUMNS, {"col": ["channel"]}).status_code == 403
    assert not AuditView.objects.exists() and not AuditColumns.objects.exists()


# --- Tenancy: a person's views and columns are theirs, on accounts they see -----------------


def test_a_view_is_its_owners_alone(events, clients, people):
    _save(clients["finance_a"], "Fiona's")
    view = AuditView.objects.get()
    # Another person of the same account neither sees it nor deletes it (404: "missing or not yours").
    assert "Fiona" not in clients["admin_a"].get(EVENTS).content.decode()
    assert clients["admin_a"].post(f"/account/acme/audit-views/{view.pk}/delete/").status_code == 404
    # Nor does a person of another account, through either account's URL.
    assert clients["user_b"].post(f"/account/acme/audit-views/{view.pk}/delete/").status_code == 404
    assert clients["user_b"].post(f"/account/globex/audit-views/{view.pk}/delete/").status_code == 404
    assert clients["anonymous"].post(f"/account/acme/audit-views/{view.pk}/delete/").status_code == 302
    assert AuditView.objects.filter(pk=view.pk, name="Fiona's").exists()
    assert "Fiona&#x27;s" in clients["finance_a"].get(EVENTS).content.decode()


def test_nobody_keeps_views_or_columns_on_an_account_they_cannot_see(events, clients, people):
    assert _save(clients["user_b"], "Snooping").status_code == 404
    assert clients["user_b"].post(COLUMNS, {"col": ["channel"]}).status_code == 404
    assert clients["anonymous"].post(SAVE, {"name": "x"}).status_code == 302
    assert not AuditView.objects.exists() and not AuditColumns.objects.exists()


def test_vendor_staff_keep_views_per_account(events, clients, people):
    support = clients["support"]
    assert _save(support, "Acme voice").status_code == 303
    assert support.post("/account/globex/audit-columns/", {"col": ["status"]}).status_code == 303
    assert ">Acme voice</a>" in support.get(EVENTS).content.decode()
    globex = support.get("/account/globex/events/").content.decode()
    assert "Acme voice" not in globex and "None yet" in globex
    assert _headers(globex) == ["Outcome · account", "Time", "Status"]
    assert _headers(support.get(EVENTS).content.decode()) == ALL_HEADERS
    view = AuditView.objects.get()
    # The view is on acme: deleting it through globex's URL finds nothing.
    assert support.post(f"/account/globex/audit-views/{view.pk}/delete/").status_code == 404
    assert AuditView.objects.filter(pk=view.pk).exists()
