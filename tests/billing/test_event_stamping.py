"""Finalizing is priced and frozen in one transaction; stamping the events follows.

Between the two, the invoice is final and the frozen id arrays — not a second look at the
events — say what it billed: drill-downs read them, an outcome settled meanwhile stays off the
invoice (it is late), and nothing that reads an event's line sees a half-stamped invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.invoices.models import ContractVersion, InvoiceEventsPending
from billing.invoices.selection import LineLink, charges_freeze_sql, event_ids_for_links
from billing.ledger.models import Charge
from billing.selectors import contract_for_period, late_segments, line_events, selection_for
from billing.services import (
    _links,
    invoice_draft_refresh,
    invoice_events_link,
    invoice_events_link_pending,
    invoice_finalize,
    invoices_build,
)
from metering.models import Event, OutcomeType
from outcomeportal.core.periods import period_bounds
from tests import factories
from tests.billing.helpers import contract, post

RES = "resolved_conversation"
JUNE_29 = datetime(2026, 6, 29, 22, 0, tzinfo=UTC)  # 72 h windows close on 2 July
JULY_1 = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}],
             platform_fee={"amount": "10.00", "included_outcomes": 5})  # fmt: skip
    return account


def _frozen(invoice) -> set[int]:
    arrays = InvoiceEventsPending.objects.filter(invoice=invoice).values_list("event_ids", flat=True)
    return {pk for ids in arrays for pk in ids}


def test_finalize_freezes_the_priced_events_and_stamping_bills_exactly_those(acme):
    post(acme, 12, at=datetime(2026, 6, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    done = invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False)
    june = done.invoice
    assert (june.status, june.number, june.total) == ("finalized", "INV-000001", D("16.93"))  # 10 + 7 × 0.99
    billable = set(Event.objects.filter(account=acme, status="billable").values_list("pk", flat=True))
    assert done.events_billed == 12
    assert _frozen(june) == billable
    assert not Charge.objects.filter(invoice_line_id__isnull=False).exists()  # nothing stamped yet

    assert invoice_events_link(invoice=june) == 12
    included, overage = june.lines.filter(kind__in=["included", "outcome"]).order_by("position")
    assert Charge.objects.filter(invoice_line_id=included.pk, state="invoiced").count() == 5
    assert set(Charge.objects.filter(invoice_line_id=overage.pk).values_list("amount", flat=True)) == {D("0.99")}
    assert not InvoiceEventsPending.objects.exists()
    assert invoice_events_link(invoice=june) == 0  # a rerun stamps nothing


def test_before_stamping_a_line_drills_down_to_its_frozen_events(acme):
    post(acme, 8, at=datetime(2026, 6, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    june = invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False).invoice
    overage = june.lines.get(kind="outcome")
    shown = line_events(invoice=june, line=overage, limit=100)
    assert len(shown) == 3  # the three after the five included ones, in occurrence order
    latest = max(Event.objects.filter(account=acme), key=lambda e: (e.occurred_at, e.pk))
    assert shown[0].pk == latest.pk
    invoice_events_link(invoice=june)
    assert [e.pk for e in line_events(invoice=june, line=overage, limit=100)] == [e.pk for e in shown]


def test_an_outcome_settled_between_finalizing_and_stamping_stays_off_and_is_billed_late(acme):
    post(acme, 6, at=datetime(2026, 6, 10, tzinfo=UTC))
    post(acme, 1, at=JUNE_29, prefix="tail")  # still pending when June is finalized
    outcomes_settle(now=JULY_1)
    june = invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False).invoice
    assert june.total == D("10.99")
    outcomes_settle(now=datetime(2026, 7, 3, tzinfo=UTC))  # the tail settles before June is stamped
    # Until June is stamped, July's draft does not take June's own outcomes for late ones.
    assert late_segments(account=acme, period="2026-07") == []
    draft = invoice_draft_refresh(account=acme, period="2026-07", now=datetime(2026, 7, 3, tzinfo=UTC))
    assert draft.total == D("10.00")  # July's platform fee only
    assert invoice_events_link(invoice=june) == 6
    tail = Charge.objects.get(event__event_id__startswith="tail")
    assert (tail.event.status, tail.state, tail.invoice_line_id) == ("billable", "rated", None)
    july = invoice_finalize(account=acme, period="2026-07", now=datetime(2026, 8, 1, tzinfo=UTC)).invoice
    late = july.lines.get(kind="late")
    assert (late.quantity, late.amount) == (1, D("0.99"))
    tail.refresh_from_db()
    assert (tail.state, tail.invoice_line_id) == ("invoiced", late.pk)
    assert factories.event_seen(tail.event.event_id).shown_status == "invoiced"


def test_finalizing_the_next_month_stamps_a_pending_one_first(acme):
    post(acme, 6, at=datetime(2026, 6, 10, tzinfo=UTC))
    post(acme, 1, at=JUNE_29, prefix="tail")
    outcomes_settle(now=JULY_1)
    june = invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False).invoice
    outcomes_settle(now=datetime(2026, 7, 3, tzinfo=UTC))
    july = invoice_finalize(account=acme, period="2026-07", now=datetime(2026, 8, 1, tzinfo=UTC)).invoice
    assert Charge.objects.filter(invoice_line_id__in=june.lines.values("pk")).count() == 6
    assert july.lines.get(kind="late").quantity == 1  # the tail, not June's six again


def test_invoices_build_finalizes_every_account_then_stamps_their_events(acme):
    globex = factories.make_account("globex")
    post(acme, 7, at=datetime(2026, 6, 10, tzinfo=UTC))
    post(globex, 4, at=datetime(2026, 6, 11, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    result = invoices_build(period="2026-06", now=JULY_1)
    assert (result.finalized, result.events_billed, result.events_stamped) == (2, 11, 11)
    assert Charge.objects.filter(state="invoiced", attempt=False).count() == 11
    assert not InvoiceEventsPending.objects.exists()
    assert invoices_build(period="2026-06", now=JULY_1 + timedelta(hours=1)).already_final == 2


def test_a_stamping_pass_killed_midway_is_finished_by_the_next_reader(acme, monkeypatch):
    post(acme, 7, at=datetime(2026, 6, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False)
    # The worker died before stamping: the next one to need an event's line stamps first.
    assert invoice_events_link_pending(account=acme) == 7
    assert invoice_events_link_pending(account=acme) == 0
    assert Charge.objects.filter(account=acme, state="invoiced", attempt=False).count() == 7


CONTRACTS = {
    "included outcomes over complexity tiers": {
        "prices": [{"outcome_type": RES, "model": "complexity",
                    "tiers": {"simple": "0.50", "moderate": "1.50", "complex": "3.00"}}],
        "platform_fee": {"amount": "10.00", "included_outcomes": 7},
    },
    "graduated bands over resolved and unresolved conversations": {
        "basis": "per_conversation",
        "prices": [{"outcome_type": RES, "model": "graduated",
                    "bands": [{"up_to": 4, "price": "1.00"}, {"up_to": 9, "price": "0.80"},
                              {"up_to": None, "price": "0.60"}]}],
    },
}  # fmt: skip


@pytest.mark.parametrize("document", CONTRACTS.values(), ids=CONTRACTS.keys())
def test_frozen_lines_hold_the_events_the_ranking_names(db, document):
    """The freeze bounds rank ranges by occurrence keys; the drill-down ranks with a window
    function over every event. Both must name the same events for every line."""
    factories.make_outcome_type()
    account = factories.make_account("tiers")
    contract(account, effective_from="2026-01-01", **document)
    for i, (complexity, failure) in enumerate(
        [("simple", ""), ("complex", ""), ("", ""), ("moderate", "abandoned"), ("complex", ""), ("moderate", "")] * 4
    ):
        post(account, 1, at=datetime(2026, 6, 3 + i, 9, tzinfo=UTC), prefix=f"t{i}", complexity=complexity,
             failure_reason=failure)  # fmt: skip
    outcomes_settle(now=JULY_1)
    june = invoice_finalize(account=account, period="2026-06", now=JULY_1, link_events=False).invoice
    versions = list(ContractVersion.objects.filter(account=account))
    terms = contract_for_period(account_id=account.pk, period="2026-06", versions=versions)[1]
    until = period_bounds("2026-06", "UTC")[1]
    selection = selection_for(account=account, segments=["2026-06"], until=until, terms_by_segment={"2026-06": terms})
    links = _links(june, dict(OutcomeType.objects.values_list("code", "id")))
    assert any(link.rank_from is not None for link in links)  # the case exercises ranked lines
    frozen = {row.line_id: set(row.event_ids) for row in InvoiceEventsPending.objects.filter(invoice=june)}
    ranked = {link.line_id: set(event_ids_for_links(selection=selection, links=[link], limit=1000)) for link in links}
    assert frozen == {line: ids for line, ids in ranked.items() if ids}

    # A rank range over every tier of a complexity-priced type is ranked within each tier.
    type_id = links[0].outcome_type_id
    for rank_from, rank_to in [(1, 2), (3, 5), (2, 2**62), (6, 40)]:
        link = LineLink(line_id=1, segment="2026-06", outcome_type_id=type_id, tier="", classes="RA",
                        rank_from=rank_from, rank_to=rank_to)  # fmt: skip
        sql, params = charges_freeze_sql(selection=selection, links=[link])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = {pk for _, ids in cursor.fetchall() for pk in ids}
        assert got == set(event_ids_for_links(selection=selection, links=[link], limit=1000))


def test_pages_of_a_final_invoice_before_its_events_are_stamped(acme):
    post(acme, 9, at=datetime(2026, 6, 12, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    june = invoice_finalize(account=acme, period="2026-06", now=JULY_1, link_events=False).invoice
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    page = client.get(f"/account/acme/invoices/{june.pk}/").content.decode()
    assert "Its 9 outcomes are being marked as invoiced" in page
    overage = june.lines.get(kind="outcome")
    line = client.get(f"/account/acme/invoices/{june.pk}/lines/{overage.pk}/").content.decode()
    assert "12 Jun 2026" in line and line.count("/events/") >= 4  # the day summary and the 4 events
    csv = client.get(f"/account/acme/invoices/{june.pk}/events.csv").content.decode()
    assert len(csv.strip().splitlines()) == 1 + 9
    invoice_events_link(invoice=june)
    assert "being marked" not in client.get(f"/account/acme/invoices/{june.pk}/").content.decode()


def test_a_month_is_the_accounts_local_month_for_pricing_and_freezing(db):
    """The aggregate that prices an invoice and the query that freezes its events place each event
    in its local month by the segments' bounds in the account's zone: an evening of 31 May in New
    York is May there (June in UTC) — billed late on June's invoice, it is a May outcome — and an
    evening of 30 June is June (July in UTC)."""
    from accounts.models import Account

    factories.make_outcome_type()
    account = factories.make_account("ny")
    Account.objects.filter(pk=account.pk).update(timezone="America/New_York")
    account.refresh_from_db()
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}],
             platform_fee={"amount": "10.00", "included_outcomes": 1})  # fmt: skip
    moments = {
        "may-20": datetime(2026, 5, 20, 12, tzinfo=UTC),
        "may-31-evening": datetime(2026, 6, 1, 3, 30, tzinfo=UTC),
        "june-1-night": datetime(2026, 6, 1, 4, 30, tzinfo=UTC),
        "june-30-evening": datetime(2026, 7, 1, 3, 30, tzinfo=UTC),
        "july-1-night": datetime(2026, 7, 1, 4, 30, tzinfo=UTC),
    }
    for name, at in moments.items():
        post(account, 1, at=at, prefix=name)
    by_name = {e.event_id.split("-resolved")[0]: e.pk for e in Event.objects.filter(account=account)}
    june_2 = datetime(2026, 6, 2, 6, tzinfo=UTC)  # the evening of 31 May is still in its window
    outcomes_settle(now=june_2)
    may = invoice_finalize(account=account, period="2026-05", now=june_2).invoice
    assert may.total == D("10.00")  # the fee, its one included outcome: 20 May

    july_6 = datetime(2026, 7, 6, tzinfo=UTC)
    outcomes_settle(now=july_6)  # the evening of 31 May settles: late, for June's invoice
    draft = invoice_draft_refresh(account=account, period="2026-06", now=july_6)
    shown: dict[str, set[int]] = {}  # what the draft's lines drill down to (ranked from the charges)
    for line in draft.lines.all():
        if line.alloc:
            shown.setdefault(line.alloc["segment"], set()).update(e.pk for e in line_events(invoice=draft, line=line))
    assert shown == {
        "2026-05": {by_name["may-31-evening"]},
        "2026-06": {by_name["june-1-night"], by_name["june-30-evening"]},
    }
    june = invoice_finalize(account=account, period="2026-06", now=july_6, link_events=False).invoice
    segment_of = {line.pk: line.alloc["segment"] for line in june.lines.all() if line.alloc}
    frozen = {
        pk: segment_of[row.line_id] for row in InvoiceEventsPending.objects.filter(invoice=june) for pk in row.event_ids
    }
    assert frozen == {
        by_name["may-31-evening"]: "2026-05",
        by_name["june-1-night"]: "2026-06",
        by_name["june-30-evening"]: "2026-06",
    }
    assert june.total == D("11.98")  # the fee with one included outcome, one at 0.99, the late one at 0.99


def test_pricing_leaves_the_planners_settings_as_they_were(acme):
    """The aggregate that prices an invoice turns sorting off for its own statement only."""
    from django.db import transaction

    post(acme, 3, at=datetime(2026, 6, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_1)
    with transaction.atomic(), connection.cursor() as cursor:
        draft = invoice_draft_refresh(account=acme, period="2026-06", now=JULY_1)
        cursor.execute("SHOW enable_sort")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SELECT x FROM unnest(ARRAY[3, 1, 2]) AS x ORDER BY x")
        assert [row[0] for row in cursor.fetchall()] == [1, 2, 3]
    assert draft.total == D("10.00")  # the fee, its five included outcomes not all used
