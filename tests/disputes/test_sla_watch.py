"""The SLA as support reads it: one definition of breached and at risk (the queue's rows, its cards
and its SLA warnings banner agree), and warnings only while a deadline is news — never an email
about a deadline long past (issue 16: the banner listed 5 disputes under a card saying 8; a demo
seeded weeks earlier emailed SLA warnings about deadlines weeks past)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from accounts.models import Notification
from disputes import selectors
from disputes.models import Dispute
from disputes.services import credits_issue, dispute_file, dispute_resolve, sla_warning_email
from tests.disputes.conftest import JULY_12

pytestmark = pytest.mark.django_db

NOW = JULY_12 + timedelta(days=3)  # July 15, 12:00


def _file(world, event_id: str, *, filed_at: datetime, who="admin_a", account=None) -> Dispute:
    return dispute_file(
        principal=world.principal(who), account=account or world.a, reason_code="not_resolved",
        message="Still broken.", event_ids=[event_id], now=filed_at,
    )  # fmt: skip


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


# --- One definition --------------------------------------------------------------------------------

WARNING = timedelta(hours=6)
DUE = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "resolved_at", "risk"),
    [
        (DUE - timedelta(hours=7), None, "ok"),
        (DUE - WARNING, None, "at_risk"),  # exactly the warning time left
        (DUE - timedelta(minutes=1), None, "at_risk"),
        (DUE, None, "at_risk"),  # due this instant: not past it yet
        (DUE + timedelta(seconds=1), None, "breached"),
        (DUE + timedelta(days=9), DUE - timedelta(hours=1), "resolved"),  # answered in time, however long ago
        (DUE + timedelta(days=9), DUE + timedelta(hours=1), "breached"),  # answered late
    ],
)
def test_sla_risk_has_one_definition(now, resolved_at, risk):
    assert selectors.sla_risk(due_at=DUE, resolved_at=resolved_at, now=now, warning=WARNING) == risk


def test_the_sla_warnings_banner_names_exactly_the_disputes_the_cards_count(world, web, monkeypatch):
    # Seven disputes past their SLA (more than the five notifications the banner used to show), two
    # at risk, one calm, one answered late (no longer support's worry), and old notifications.
    late_ids = ["jun-0", "jun-1", "jun-2", "jun-3", "jun-4", "jul-0", "jul-1"]
    breached = [_file(world, e, filed_at=NOW - timedelta(hours=60 + i)) for i, e in enumerate(late_ids)]
    at_risk = [
        _file(world, "b-jun-0", filed_at=NOW - timedelta(hours=45), who="admin_b", account=world.b),
        _file(world, "jul-2", filed_at=NOW - timedelta(hours=43)),
    ]
    calm = _file(world, "b-jun-1", filed_at=NOW - timedelta(hours=2), who="admin_b", account=world.b)
    answered = _file(world, "jul-3", filed_at=NOW - timedelta(hours=100))
    credits_issue(now=NOW - timedelta(hours=50))  # warns about some, the answered one included
    dispute_resolve(principal=world.principal("support"), dispute=answered, decision="rejected", note="No.", now=NOW)
    assert Notification.objects.filter(kind="dispute_sla").exists()
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)

    page = _text(web["support"].get("/disputes/queue/"))
    cards = dict(re.findall(r'<h2 class="label">(SLA breached|SLA at risk)</h2><p class="value">(\d+)</p>', page))
    assert cards == {"SLA breached": "7", "SLA at risk": "2"}
    banner = re.search(r'<div class="notice warn" role="note" data-sla-warnings="(\d+)">(.*?)</div>', page)
    assert banner is not None and banner.group(1) == "9"
    named = [int(pk) for pk in re.findall(r"/disputes/(\d+)/#sla-title", banner.group(2))]
    # Breached first (the longest overdue first), then the closest due — the queue's own order.
    assert named == [d.pk for d in reversed(breached)] + [d.pk for d in at_risk]
    assert calm.pk not in named and answered.pk not in named
    assert f"#{at_risk[0].pk} of Globex: due in 3 h" in banner.group(2)
    assert f"#{breached[0].pk} of Acme Support: breached 12 h ago" in banner.group(2)

    totals = selectors.queue_totals(principal=world.principal("support"), now=NOW)
    assert (len(totals.open), len(totals.breached), len(totals.at_risk), totals.unassigned) == (10, 7, 2, 10)
    assert totals.sla_warnings == [*totals.breached, *totals.at_risk]


def test_with_nothing_at_risk_there_is_no_banner(world, web, monkeypatch):
    _file(world, "jun-0", filed_at=NOW - timedelta(hours=1))
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    page = _text(web["support"].get("/disputes/queue/"))
    assert "SLA warnings" not in page
    assert '<h2 class="label">SLA breached</h2><p class="value">0</p>' in page


# --- Warnings only while they are news ---------------------------------------------------------------


def test_a_deadline_long_past_is_not_warned_about(world, tasks_inline, django_capture_on_commit_callbacks, monkeypatch):
    """A worker stopped for days (or a demo seeded last week): the old breach is shown on the queue,
    not announced as news by notification or email."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)  # the emails go out (in-line) now
    old = _file(world, "jun-0", filed_at=NOW - timedelta(days=12))  # due 10 days ago
    just_over = _file(world, "jun-1", filed_at=NOW - timedelta(hours=48 + 23))  # due 23 h ago: still news
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert credits_issue(now=NOW).sla_warned == [just_over.pk]
    assert list(Notification.objects.filter(kind="dispute_sla").values_list("title", flat=True)) == [
        f"SLA breached: dispute #{just_over.pk} of Acme Support"
    ]
    assert [m.subject for m in mail.outbox] == [
        f"[OutcomePortal] SLA of dispute #{just_over.pk} (Acme Support) ends 14 Jul 2026, 13:00 UTC"
    ]
    old.refresh_from_db()
    assert old.sla_warned_at is None  # never told: nothing claims support was warned
    with django_capture_on_commit_callbacks(execute=True):
        assert credits_issue(now=NOW + timedelta(days=1)).sla_warned == []  # and not later either


@pytest.mark.parametrize(("hours_past", "sent"), [(23, 1), (24, 0), (24 * 20, 0)])
def test_a_queued_warning_email_is_dropped_once_its_deadline_is_old(world, hours_past, sent):
    """The email is queued when the warning is made; if no worker sends it until the deadline is more
    than a day past, it is old news and goes nowhere."""
    dispute = _file(world, "jun-0", filed_at=NOW - timedelta(hours=48))  # due now
    mail.outbox.clear()
    assert sla_warning_email(dispute_id=dispute.pk, now=NOW + timedelta(hours=hours_past)) == 2 * sent
    assert len(mail.outbox) == sent


def test_the_stale_time_is_a_setting(world, settings):
    settings.DISPUTES_SLA_WARNING_STALE_HOURS = 72
    dispute = _file(world, "jun-0", filed_at=NOW - timedelta(days=4))  # due two days ago
    assert credits_issue(now=NOW).sla_warned == [dispute.pk]
