"""Trust metrics on a known fixture, with exact values.

Now = July 8, 12:00 UTC; the window is each account's last 30 local days: June 9 – July 8.
Billed outcomes in it: A 9 (jun-0…4 invoiced, jul-0…3 billable; the pending and the sandbox one
do not count), B 2. Disputes (filed → resolved):

    D1  A  jun-0, jun-1   Jul 5 01:00 → approved            Jul 5 11:00   (10 h)
    D2  A  jun-2          Jul 5 02:00 → rejected            Jul 6 08:00   (30 h)
    D3  B  b-jun-0, -1    Jul 5 03:00 → partially approved  Jul 7 05:00   (50 h: after its 48 h SLA)
    D4  A  jun-3          Jul 6 00:00   open — due Jul 8 00:00: past its SLA now
    D5  A  jun-4          Jul 8 06:00   open — due Jul 10 06:00
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from disputes.metrics import trust_metrics
from disputes.services import dispute_file, dispute_resolve
from tests.disputes.conftest import METRICS_NOW as NOW
from tests.disputes.conftest import at


def rates(rows) -> list[tuple]:
    return [(r.key, r.billed, r.disputed, r.percent) for r in rows]


def test_metrics_on_the_known_fixture(history):
    m = trust_metrics(now=NOW)

    assert rates(m.accounts) == [("globex", 2, 2, Decimal("100.00")), ("acme", 9, 5, Decimal("55.56"))]
    assert rates(m.outcome_types) == [("resolved_conversation", 11, 7, Decimal("63.64"))]
    assert (m.total.billed, m.total.disputed, m.total.percent) == (11, 7, Decimal("63.64"))
    assert (m.resolved, m.approved, m.partially_approved, m.rejected) == (3, 2, 1, 1)
    assert m.approval_rate == Decimal(2) / Decimal(3)
    assert m.median_resolution == timedelta(hours=30)
    assert (m.breached_resolved, m.breached_open, m.sla_breaches, m.open) == (1, 1, 2, 2)
    # 3 % by default: every rate above it is flagged, worst first.
    assert [(kind, r.key) for kind, r in m.warnings] == [
        ("account", "globex"),
        ("outcome_type", "resolved_conversation"),
        ("account", "acme"),
    ]


def test_the_threshold_is_a_setting(history, settings):
    settings.DISPUTES_RATE_WARNING_PERCENT = "60"
    m = trust_metrics(now=NOW)
    assert [(kind, r.key) for kind, r in m.warnings] == [
        ("account", "globex"),
        ("outcome_type", "resolved_conversation"),
    ]


def test_the_window_rolls(history):
    # Ten days later, June's outcomes (June 10) are out of the window: only July's 4 remain for A.
    m = trust_metrics(now=NOW + timedelta(days=10))
    assert rates(m.accounts) == [("acme", 4, 0, Decimal("0.00")), ("globex", 0, 0, None)]
    assert (m.resolved, m.median_resolution, m.breached_open) == (3, timedelta(hours=30), 2)
    assert m.warnings == []


def test_credited_outcomes_still_count_as_billed(history):
    from disputes.services import credits_issue

    credits_issue(now=NOW)  # D1's jun-0/1 → credited, D3's b-jun-0 → credited
    m = trust_metrics(now=NOW)
    assert rates(m.accounts) == [("globex", 2, 2, Decimal("100.00")), ("acme", 9, 5, Decimal("55.56"))]


def test_an_open_period_credit_still_counts_as_billed(world):
    dispute = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="duplicate",
        message="x",
        event_ids=["jul-0"],
        now=at(12, 0),
    )
    dispute_resolve(principal=world.principal("support"), dispute=dispute, decision="approved", now=at(12, 1))
    from disputes.services import credits_issue

    credits_issue(now=at(12, 2))
    assert world.event("jul-0").shown_reason == "dispute_credited"
    m = trust_metrics(now=at(13, 0))
    assert rates(m.accounts)[0] == ("acme", 4, 1, Decimal("25.00"))  # June 10 is out of the window on July 13
    assert (m.resolved, m.approved, m.median_resolution) == (1, 1, timedelta(hours=1))


def test_the_trust_page_and_the_overview_warning(history, web, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    page = web["support"].get("/disputes/trust/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Dispute rate above 3.0%" in text
    for fragment in ("63.6%", "55.6%", "100.0%", "66.7%", "1 day 6 h", "1 answered late · 1 open past due"):
        assert fragment in text, fragment
    overview = web["support"].get("/overview/").content.decode()
    assert "Dispute rate above 3.0% (last 30 days)" in overview
    assert web["admin_a"].get("/disputes/trust/").status_code == 403
    assert web["operator"].get("/disputes/trust/").status_code == 200
