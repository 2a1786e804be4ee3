"""Your plan (prices and terms) and What counts (definitions and "You are not charged when…") tell
different things, each once, from one source each: distinct headlines, one list of definitions, one
list of reasons."""

from __future__ import annotations

import re

from billing.forgiveness import REASON_GROUPS, not_charged_groups
from billing.ledger.shown import REASONS
from metering.models import OutcomeType
from tests import factories


def _h1(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def test_the_two_pages_have_their_own_headlines(events, clients):
    plan = clients["admin_a"].get("/account/acme/plan/").content.decode()
    terms = clients["admin_a"].get("/account/acme/not-charged/").content.decode()
    assert _h1(plan) == "Prices and terms"
    assert _h1(terms) == "What counts as an outcome, and when you are not charged"
    assert _title(plan).startswith("Your plan ·") and _title(terms).startswith("What counts ·")
    # Each links to the other for what it does not tell.
    assert 'href="/account/acme/not-charged/"' in plan and 'href="/account/acme/plan/"' in terms


def test_every_reason_a_customer_can_read_is_in_one_group_once():
    listed = [r.code for g in not_charged_groups() for r in g.reasons]
    assert sorted(listed) == sorted(REASONS) and len(listed) == len(set(listed))
    assert "dispute_credited" in listed and REASONS["dispute_credited"] == "Credited after a dispute"
    assert "Other reasons" not in [g.title for g in not_charged_groups()]  # every reason has its group
    assert all(code in REASONS for _, codes in REASON_GROUPS for code in codes)


def test_what_counts_lists_the_reasons_from_the_one_source(events, clients):
    html = clients["viewer_a"].get("/account/acme/not-charged/").content.decode()
    shown = re.findall(r'<li><a href="/account/acme/events/\?reason=(\w+)">', html)
    assert shown == [r.code for g in not_charged_groups() for r in g.reasons]
    assert "Credited after a dispute" in html
    for group in not_charged_groups():
        assert f"<h3>{group.title}</h3>" in html
    assert "per outcome" not in html  # prices are Your plan's


def test_the_plan_tells_prices_and_terms_and_no_definition_or_reason(events, clients):
    html = clients["viewer_a"].get("/account/acme/plan/").content.decode()
    assert "Resolved conversation: $0.99 per outcome." in html and "Qualified lead: $2.50 per outcome." in html
    assert "Payment is due 30 days after the invoice is issued." in html
    assert "A billable outcome occurs when" not in html
    assert "not charged when" not in html.lower()
    for text in REASONS.values():
        assert text not in html, text
    # It names the types What counts defines — the same ones, in the same order — and links to each.
    terms = clients["viewer_a"].get("/account/acme/not-charged/").content.decode()
    defined = re.findall(r'<h3 id="term-(\w+)">', terms)
    linked = re.findall(r'href="/account/acme/not-charged/#term-(\w+)"', html)
    assert linked == defined == ["qualified_lead", "resolved_conversation"]


def test_definitions_cover_active_types_and_the_retired_ones_an_account_used(events, clients, catalogue):
    factories.make_outcome_type("completed_screening", "2.50")  # active, never used by acme
    retired = factories.make_outcome_type("saved_cancellation", "8.00")
    OutcomeType.objects.filter(pk=catalogue["lead"].pk).update(active=False)  # retired, used by acme
    OutcomeType.objects.filter(pk=retired.pk).update(active=False)  # retired, never used
    terms = clients["admin_a"].get("/account/acme/not-charged/").content.decode()
    plan = clients["admin_a"].get("/account/acme/plan/").content.decode()
    defined = re.findall(r'<h3 id="term-(\w+)">', terms)
    assert defined == ["qualified_lead", "resolved_conversation", "completed_screening"]  # used ones first
    assert re.findall(r'href="/account/acme/not-charged/#term-(\w+)"', plan) == defined


def test_another_account_reaches_neither_page(events, clients):
    for path in ("/account/acme/plan/", "/account/acme/not-charged/"):
        assert clients["user_b"].get(path).status_code == 404, path
