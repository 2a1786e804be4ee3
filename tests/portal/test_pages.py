"""What the dashboard, event detail, "not charged when…" page and vendor overview show."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

from django.db.models import Count

from billing import audit
from billing.services import invoice_draft_refresh
from billing.templatetags.portal import money
from metering import engine
from metering.models import Event
from metering.services import criteria_version_create
from tests import factories


def test_dashboard_figures_equal_the_events(events, clients, account_a):
    response = clients["finance_a"].get("/account/acme/")
    summary = response.context["summary"]
    period = audit.period_current(account=account_a)
    in_period = Event.objects.filter(account=account_a, occurred_at__gte=period.start, occurred_at__lt=period.end)
    by_status = dict(in_period.values_list("status").annotate(n=Count("id")))
    assert {s: n for s, n in summary.by_status.items() if n} == by_status
    assert summary.total == in_period.count()
    charged = in_period.filter(status__in=audit.CHARGED_STATUSES)
    assert summary.charged == charged.count()
    attempted = in_period.exclude(status="pending").exclude(non_billable_reason="sandbox").count()
    assert summary.attempted == attempted
    # Money is billing's: the panel shows the upcoming invoice as the invoice itself prices it.
    (panel,) = [p.context for p in response.context["panels"] if "charges" in p.context]
    charges = panel["charges"]
    draft = invoice_draft_refresh(account=account_a, period=period.key)
    assert charges.total == draft.total
    assert panel["status"].period_spend == charges.spend + charges.pending
    assert charges.spend == charges.total  # no credit notes, late outcomes or top-ups here
    html = response.content.decode()
    assert "Estimated invoice" in html and "Attainment" in html
    assert money(charges.estimated_invoice, account_a.currency) in html
    assert f"{summary.attainment * 100:.1f}%" in html


def test_dashboard_charts_are_built_from_the_rollup(events, clients, account_a):
    response = clients["admin_a"].get("/account/acme/?range=90")
    data = json.loads(
        re.search(r'<script id="chart-data" type="application/json">(.+?)</script>', response.content.decode()).group(1)
    )
    assert len(data["days"]) == 90
    total = sum(sum(s["counts"]) for s in data["statuses"])
    assert total == Event.objects.filter(account=account_a).count()  # all 120 are within 90 days
    reasons = {r["code"]: r["count"] for r in data["reasons"]}
    expected = dict(
        Event.objects.filter(account=account_a)
        .exclude(non_billable_reason="")
        .values_list("non_billable_reason")
        .annotate(n=Count("id"))
    )
    assert reasons == expected
    assert all(r["url"].startswith("/account/acme/events/?") for r in data["reasons"])
    spend = json.loads(
        re.search(r'<script id="spend-data" type="application/json">(.+?)</script>', response.content.decode()).group(1)
    )
    assert spend["days"] == data["days"]
    # The month's charges so far, as of today, are the upcoming invoice's (no credit notes here).
    period = audit.period_current(account=account_a)
    draft = invoice_draft_refresh(account=account_a, period=period.key)
    assert Decimal(spend["cumulative"][-1]) == draft.total
    this_month = [
        Decimal(a) for d, a in zip(spend["days"], spend["spend"], strict=True) if d >= period.first_day.isoformat()
    ]
    assert sum(this_month) == draft.total
    assert "plotly-basic.min.js" in response.content.decode()
    # An unknown range falls back to the current period.
    assert clients["admin_a"].get("/account/acme/?range=zzz").context["chart_range"] == "period"


def test_dashboard_empty_state(catalogue, clients):
    html = clients["admin_a"].get("/account/acme/").content.decode()
    assert "No outcomes in this range yet" in html


def test_event_detail_explains_the_decision(events, clients):
    event = Event.objects.filter(account__external_id="acme", non_billable_reason="abandoned").first()
    html = clients["viewer_a"].get(f"/account/acme/events/{event.event_id}").content.decode()
    assert "Not billable: Abandoned session" in html
    for code, _ in event.checks:
        assert engine.CHECKS[code][1].replace("'", "&#x27;") in html
    assert event.criteria.label in html  # the rule version
    assert "A billable outcome occurs when" in html
    assert event.source_url in html
    assert "Outcome occurred" in html and "Received and decided" in html
    assert '"ticket"' not in html and ">ticket<" in html  # attributes as a table


def test_event_detail_timeline_shows_signals_and_the_window(events, clients):
    reopened = Event.objects.filter(account__external_id="acme", non_billable_reason="reopened_in_window").first()
    html = clients["admin_a"].get(f"/account/acme/events/{reopened.event_id}").content.decode()
    assert "Reopened" in html and "Customer wrote again" in html
    pending = Event.objects.filter(account__external_id="acme", status="pending").first()
    html = clients["admin_a"].get(f"/account/acme/events/{pending.event_id}").content.decode()
    assert "Measurement window ends" in html and "upcoming" in html
    assert "It becomes billable when the measurement window ends in" in html


def test_event_detail_invoice_place(events, clients):
    billable = Event.objects.filter(account__external_id="acme", status="billable").first()
    html = clients["admin_a"].get(f"/account/acme/events/{billable.event_id}").content.decode()
    assert 'id="invoice-title"' in html and "Not invoiced yet" in html
    period = audit.period_current(account=billable.account, now=billable.occurred_at)
    draft = invoice_draft_refresh(account=billable.account, period=period.key)
    html = clients["admin_a"].get(f"/account/acme/events/{billable.event_id}").content.decode()
    assert f'href="/account/acme/invoices/{draft.pk}/">upcoming {period.label} invoice</a>' in html


def test_event_ids_with_special_characters_link_to_their_detail(catalogue, clients, account_a):
    odd = "ticket 42/a#b?c&d=é"
    factories.ingest(factories.event_payload(account_a, odd))
    html = clients["admin_a"].get("/account/acme/events/").content.decode()
    link = re.search(r'<a href="([^"]+)" class="event-link">', html).group(1)
    response = clients["admin_a"].get(unescape(link))
    assert response.status_code == 200
    assert response.context["event"].event_id == odd


def test_charging_terms_follow_the_definitions_and_reason_words(events, clients, account_a, catalogue):
    html = clients["viewer_a"].get("/account/acme/not-charged/").content.decode()
    assert "<h1>What counts as an outcome, and when you are not charged</h1>" in html
    assert "You are not charged when…" in html
    for code, text in engine.REASONS.items():
        assert f'<code class="code">{code}</code>' in html
        assert text in html
    assert "Resolved conversation" in html and "Qualified lead" in html
    assert "72 hours" in html and "24 hours" in html
    assert "one billable outcome per session" in html
    assert "crm_accepted" in html  # the lead's required verification
    assert "Product definition" in html and "Your agreed definition" not in html


def test_charging_terms_show_the_accounts_enterprise_override_only_to_it(events, clients, account_a, catalogue):
    criteria_version_create(
        outcome_type=catalogue["resolved"],
        account=account_a,
        customer_result="a ticket closed in Acme's Zendesk",
        measurement_window_hours=48,
        dispute_process="Email billing@acme.test within 30 days.",
    )
    html = clients["admin_a"].get("/account/acme/not-charged/").content.decode()
    assert "Your agreed definition" in html
    assert "a ticket closed in Acme&#x27;s Zendesk" in html and "48 hours" in html
    assert "Email billing@acme.test within 30 days." in html
    other = clients["user_b"].get("/account/globex/not-charged/").content.decode()
    assert "Zendesk" not in other and "Your agreed definition" not in other


def test_vendor_overview_lists_every_account_with_this_period(events, clients, account_a, account_b):
    response = clients["operator"].get("/overview/")
    rows = {r.external_id: r for r in audit.accounts_overview()}
    period = audit.period_current(account=account_a)
    a_period = Event.objects.filter(account=account_a, occurred_at__gte=period.start, occurred_at__lt=period.end)
    assert rows["acme"].outcomes == a_period.count()
    assert rows["acme"].charged == a_period.filter(status__in=audit.CHARGED_STATUSES).count()
    html = response.content.decode()
    assert 'href="/account/acme/"' in html and 'href="/account/globex/"' in html
    # Sorting is done by django-tables2 and survives htmx (links keep their href).
    sorted_html = clients["operator"].get("/overview/?sort=name", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in sorted_html
    assert sorted_html.index("Acme Support") < sorted_html.index("Globex")


def test_vendor_overview_reads_the_previous_month_from_the_month_rollups_as_its_events_stand(
    events, clients, account_a
):
    """The previous month's attainment comes from the month rollups (folded before the read): it is
    the month's events' own, and stays so when one of them changes after a first read."""
    previous = audit.period_current(account=account_a).previous()
    in_month = Event.objects.filter(account=account_a, occurred_at__gte=previous.start, occurred_at__lt=previous.end)
    # The previous month's last hours: inside the late-event window (35 days) whatever today is.
    last_hours = [previous.end - timedelta(hours=i + 1) for i in range(6)]
    factories.ingest(*[factories.event_payload(account_a, f"p-{i}", occurred_at=at) for i, at in enumerate(last_hours)])

    def expected() -> tuple[int, int]:
        charged = in_month.filter(status__in=audit.CHARGED_STATUSES).count()
        attempted = in_month.exclude(status="pending").exclude(non_billable_reason="sandbox").count()
        return charged, attempted

    def shown() -> tuple[int, int]:
        row = {r.external_id: r for r in audit.accounts_overview()}["acme"]
        return row.previous_charged, row.previous_attempted

    assert shown() == expected() and expected()[1] >= 6
    changed = in_month.filter(status="billable").first()
    Event.objects.filter(pk=changed.pk).update(status="non_billable", non_billable_reason="reopened_in_window")
    assert shown() == expected()
    assert clients["operator"].get("/overview/").status_code == 200


def test_error_pages_share_the_portal_look(clients):
    response = clients["admin_a"].get("/account/acme/events/nothing-here")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'class="card narrow error-page"' in html and 'href="/static/css/portal.css"' in html
    assert "Acme Support" in html  # the header still says where you are
