"""The dispute pages: who sees what, filing from the audit table and the event detail, the support
queue (SLA order, filters, assignment), the thread with internal notes, resolving from the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from accounts.models import Notification
from billing.ingestion import outcomes_settle
from billing.services import contract_version_create
from disputes.models import Dispute, DisputeComment, DisputeHistory
from disputes.services import credits_issue, dispute_comment_add, dispute_file, dispute_resolve
from tests.disputes.conftest import JULY_8, JULY_12, JULY_13, post


def file(world, event_ids, *, who="admin_a", account=None, now=None, reason="not_resolved"):
    return dispute_file(
        principal=world.principal(who), account=account or world.a, reason_code=reason, message="Still broken.",
        event_ids=event_ids, now=now,
    )  # fmt: skip


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Filing from the audit table and the event detail ------------------------------------------


def test_the_audit_table_offers_dispute_selected_to_customer_admins_only(world, web):
    page = text(web["admin_a"].get("/account/acme/events/"))
    assert 'id="event-selection" method="get" action="/account/acme/disputes/new/"' in page
    assert ">Dispute selected</button>" in page
    assert 'name="event" value="jun-0" form="event-selection"' in page
    for who in ("viewer_a", "finance_a", "support"):
        other = text(web[who].get("/account/acme/events/"))
        assert "Dispute selected" not in other and 'form="event-selection"' not in other, who


def test_selected_events_are_reviewed_then_filed(world, web):
    review = web["admin_a"].get("/account/acme/disputes/new/?event=jun-0&event=jun-1&event=jul-pending")
    assert review.status_code == 200
    page = text(review)
    assert "<strong>2</strong> can be disputed · <strong>$1.98</strong> at stake" in page
    assert "jul-pending: pending — its measurement window is still open, so it is not charged yet." in page

    response = web["admin_a"].post(
        "/account/acme/disputes/new/",
        {"event": ["jun-0", "jun-1"], "reason_code": "human_handoff", "message": "An agent finished both."},
    )
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/account/acme/disputes/{dispute.pk}/"
    assert (dispute.reason_code, dispute.filed_via, dispute.filed_by) == ("human_handoff", "app", "alice")
    assert sorted(dispute.items.values_list("event__event_id", flat=True)) == ["jun-0", "jun-1"]


def test_a_refused_filing_in_the_app_says_why_and_files_nothing(world, web):
    file(world, ["jun-0"])
    response = web["admin_a"].post(
        "/account/acme/disputes/new/", {"event": ["jun-0"], "reason_code": "other", "message": "Again."}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was filed: the event cannot be disputed." in page
    assert "jun-0: already in open dispute #" in page
    assert Dispute.objects.count() == 1


def test_an_invoice_line_is_reviewed_then_filed(world, web):
    line = world.june_invoice_a.lines.get()
    page = text(web["admin_a"].get(f"/account/acme/disputes/new/?line={line.pk}"))
    assert "<strong>5</strong> can be disputed · <strong>$4.95</strong> at stake" in page
    response = web["admin_a"].post(
        "/account/acme/disputes/new/", {"line": line.pk, "reason_code": "outside_definition", "message": "All of it."}
    )
    assert response.status_code == 302
    assert Dispute.objects.get().invoice_line_id == line.pk


def test_the_event_detail_files_a_dispute_in_its_reserved_place(world, web):
    page = text(web["admin_a"].get("/account/acme/events/jun-0"))
    assert 'action="/account/acme/disputes/new/"' in page and 'name="event" value="jun-0"' in page
    assert ">Dispute this event</button>" in page
    pending = text(web["admin_a"].get("/account/acme/events/jul-pending"))
    assert "It is not charged yet" in pending and "Dispute this event" not in pending
    dispute = file(world, ["jun-0"])
    after = text(web["viewer_a"].get("/account/acme/events/jun-0"))
    assert f'<a href="/account/acme/disputes/{dispute.pk}/"><strong>Dispute #{dispute.pk}</strong></a>' in after
    assert "Dispute this event" not in after


@pytest.mark.parametrize(
    ("who", "url", "status"),
    [
        ("viewer_a", "/account/acme/disputes/new/?event=jun-0", 403),
        ("finance_a", "/account/acme/disputes/new/?event=jun-0", 403),
        ("admin_b", "/account/acme/disputes/new/?event=jun-0", 404),
        ("admin_b", "/account/acme/disputes/", 404),
        ("viewer_a", "/account/acme/disputes/", 200),
        ("finance_a", "/account/acme/disputes/", 200),
        ("support", "/account/acme/disputes/", 200),
        ("admin_a", "/disputes/queue/", 403),
        ("viewer_a", "/disputes/trust/", 403),
        ("support", "/disputes/queue/", 200),
        ("operator", "/disputes/queue/", 200),
    ],
)
def test_who_may_open_which_page(world, web, who, url, status):
    assert web[who].get(url).status_code == status


def test_a_viewer_cannot_post_a_filing_and_nothing_changes(world, web):
    response = web["viewer_a"].post("/account/acme/disputes/new/", {"event": ["jun-0"], "reason_code": "other",
                                                                  "message": "x"})  # fmt: skip
    assert response.status_code == 403
    assert Dispute.objects.count() == 0


def test_another_accounts_dispute_page_is_404(world, web):
    dispute = file(world, ["jun-0"])
    assert web["admin_b"].get(f"/account/acme/disputes/{dispute.pk}/").status_code == 404
    assert web["admin_b"].get(f"/account/globex/disputes/{dispute.pk}/").status_code == 404  # not B's either


# --- The customer's history ---------------------------------------------------------------------


def test_customers_see_their_dispute_history_and_updates(world, web):
    mine = file(world, ["jun-0"])
    file(world, ["b-jun-0"], who="admin_b", account=world.b)
    page = text(web["viewer_a"].get("/account/acme/disputes/"))
    assert f">#{mine.pk}</a>" in page and "invoice INV-000001" in page
    assert "b-jun" not in page and "Globex" not in page
    admin = text(web["admin_a"].get("/account/acme/disputes/"))
    assert f"Dispute #{mine.pk} received</a>" in admin  # the update, in the app (admins are told)


# --- Support: the queue, the thread, assignment, resolution ------------------------------------


def test_the_queue_puts_the_most_urgent_first_and_filters(world, web, monkeypatch):
    now = JULY_12 + timedelta(hours=45)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    calm = file(world, ["jul-0"], now=JULY_12 + timedelta(hours=30))  # due in 33 h
    late = file(world, ["jun-0"], now=JULY_12 - timedelta(hours=10))  # breached 7 h ago
    close = file(world, ["b-jun-0"], who="admin_b", account=world.b, now=JULY_12)  # due in 3 h

    page = text(web["support"].get("/disputes/queue/"))
    order = [int(n) for n in re.findall(r'class="event-link" href="/account/[a-z]+/disputes/(\d+)/"', page)]
    assert order == [late.pk, close.pk, calm.pk]
    assert "7 h late" in page and "in 3 h" in page and "in 1 day 9 h" in page
    assert page.count('class="badge risk-breached"') == 1 and page.count('class="badge risk-at_risk"') == 1

    at_risk = text(web["support"].get("/disputes/queue/?at_risk=on"))
    assert re.findall(r"/disputes/(\d+)/\"", at_risk) == [str(late.pk), str(close.pk)]
    only_b = text(web["support"].get("/disputes/queue/?account=globex"))
    assert re.findall(r"/disputes/(\d+)/\"", only_b) == [str(close.pk)]


def test_support_assigns_comments_with_internal_notes_and_resolves_from_the_page(world, web):
    dispute = file(world, ["jun-0", "jun-1"])
    url = f"/account/acme/disputes/{dispute.pk}/"
    sue = world.people["support2"]

    assert web["support"].post(url + "assign", {"assignee": sue.pk}).status_code == 302
    web["support"].post(url + "comment", {"body": "Checked the CRM: jun-1 was confirmed.", "internal": "on"})
    web["support"].post(url + "comment", {"body": "Looking into it today."})
    web["admin_a"].post(url + "comment", {"body": "Thanks!"})
    # A customer can never post an internal note, whatever the form says.
    web["admin_a"].post(url + "comment", {"body": "sneaky", "internal": "on"})
    assert list(DisputeComment.objects.values_list("author", "internal", "from_support")) == [
        ("sam", True, True), ("sam", False, True), ("alice", False, False),
    ]  # fmt: skip

    support_page = text(web["support"].get(url))
    assert "Checked the CRM" in support_page and "internal note" in support_page
    assert "Evidence" in support_page and "https://helpdesk.example.com/t/1" in support_page
    customer_page = text(web["admin_a"].get(url))
    assert "Checked the CRM" not in customer_page and "internal note" not in customer_page
    assert "Looking into it today." in customer_page and "Evidence" not in customer_page
    assert "Assignee" not in customer_page

    response = web["support"].post(
        url + "resolve", {"decision": "partially_approved", "approve": ["jun-0"], "note": "jun-1 was confirmed."}
    )
    assert (response.status_code, response["Location"]) == (302, "/disputes/queue/")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution_note, dispute.credit_state) == (
        "partially_approved", "jun-1 was confirmed.", "pending",
    )  # fmt: skip
    resolved = text(web["admin_a"].get(url))
    assert "Support’s answer" in resolved and "jun-1 was confirmed." in resolved
    assert 'Dispute: open <span class="arrow">→</span> partially_approved' in resolved


def test_customers_and_viewers_cannot_use_support_actions(world, web):
    dispute = file(world, ["jun-0"])
    url = f"/account/acme/disputes/{dispute.pk}/"
    for who in ("admin_a", "viewer_a"):
        assert web[who].post(url + "resolve", {"decision": "approved"}).status_code == 403
        assert web[who].post(url + "assign", {"assignee": world.people["support"].pk}).status_code == 403
    assert web["viewer_a"].post(url + "comment", {"body": "hello"}).status_code == 403
    dispute.refresh_from_db()
    assert (dispute.status, dispute.assignee_id, dispute.comments.count()) == ("open", None, 0)


def test_the_service_keeps_internal_notes_support_only(world):
    from disputes.services import DisputeRefused

    dispute = file(world, ["jun-0"])
    with pytest.raises(DisputeRefused):
        dispute_comment_add(principal=world.principal("admin_a"), dispute=dispute, body="x", internal=True)
    with pytest.raises(DisputeRefused):
        dispute_comment_add(principal=world.principal("admin_b"), dispute=dispute, body="x")


def test_the_event_tells_its_story_invoice_line_and_dispute_times(world, web):
    """The event page links to its invoice and line, and its timeline shows the dispute's moments."""
    june = world.june_invoice_a
    line = june.lines.get()
    page = text(web["admin_a"].get("/account/acme/events/jun-0"))
    assert f'href="/account/acme/invoices/{june.pk}/"' in page and f"invoice {june.number}" in page
    assert f'href="/account/acme/invoices/{june.pk}/lines/{line.pk}/"' in page
    assert "On that line: <strong>$0.99</strong>" in page and "arrive with billing" not in page
    dispute = file(world, ["jun-0"])
    page = text(web["admin_a"].get("/account/acme/events/jun-0"))
    assert f"Dispute #{dispute.pk} filed" in page
    assert '<span class="badge status-disputed">' in page
    draft = text(web["admin_a"].get("/account/acme/events/jul-0"))
    assert "upcoming July 2026 invoice" in draft


# --- An approval that gives nothing back ---------------------------------------------------------


def test_a_dispute_resolved_without_a_credit_never_reads_as_a_zero_amount_credited(world, web):
    """Outcomes a contract prices at nothing (a fee includes them) are credited with no money: the
    pages say "No credit", the history and the customer's news "resolved without a credit"."""
    contract_version_create(
        account=world.a,
        document={
            "effective_from": "2026-07-01",
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0"}],
        },
        created_by="test",
    )
    post(world.a, ["free-0"], JULY_8)
    outcomes_settle(now=JULY_12)
    dispute = file(world, ["free-0"], now=JULY_12)
    dispute_resolve(
        principal=world.principal("support"), dispute=dispute, decision="approved", note="Agreed.", now=JULY_12
    )
    credits_issue(now=JULY_13)
    dispute.refresh_from_db()
    assert (dispute.credit_state, dispute.credited_amount) == ("issued", 0)

    url = f"/account/acme/disputes/{dispute.pk}/"
    page = text(web["admin_a"].get(url))
    assert '<p class="verdict-amount">No credit</p><p class="verdict-note">nothing was charged for it</p>' in page
    assert "Resolved without a credit: nothing was charged for the approved outcome" in page
    listed = text(web["admin_a"].get("/account/acme/disputes/"))
    assert "No credit: nothing was charged" in listed
    event = text(web["admin_a"].get("/account/acme/events/free-0"))
    assert f"Dispute #{dispute.pk}: resolved without a credit" in event
    for html in (page, listed, event):  # the words, without their tags: no "$0.00 credited" nor "Credited $0.00"
        words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
        assert not re.search(r"\$0\.00 credited|credited:? \$0\.00", words, re.IGNORECASE)
    note = DisputeHistory.objects.filter(dispute=dispute, to_state="issued").values_list("note", flat=True).get()
    assert note == "resolved without a credit (nothing was charged)"
    titles = Notification.objects.filter(title__startswith=f"Dispute #{dispute.pk}:").values_list("title", flat=True)
    assert f"Dispute #{dispute.pk}: resolved without a credit (nothing was charged)" in titles


def test_a_rejected_dispute_reads_as_no_credit(world, web):
    dispute = file(world, ["jun-0"])
    dispute_resolve(
        principal=world.principal("support"), dispute=dispute, decision="rejected", note="It held.", now=JULY_12
    )
    page = text(web["admin_a"].get(f"/account/acme/disputes/{dispute.pk}/"))
    assert '<p class="verdict-amount">No credit</p><p class="verdict-note">the charges stand ($0.99)</p>' in page
    assert "— no credit." in page
    assert '<span class="muted">No credit</span>' in text(web["admin_a"].get("/account/acme/disputes/"))
