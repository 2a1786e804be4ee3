"""One presentation vocabulary (issue 16, point 1): the filters over outcomeportal.core.formatting,
codes in words from one table, wording by reader — and the pages that wrote them otherwise."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from html import unescape

import pytest
from django.template import Context, Template
from django.utils import timezone

from accounts.models import Notification
from billing import labels, wording
from billing.caps import Usage
from billing.invoices.models import Invoice, InvoiceLine
from billing.spend.models import SpendControl
from billing.spend.services import _fire_thresholds
from disputes.metrics import Rate, TrustMetrics
from metering.models import Event
from metering.services import criteria_version_create
from outcomeportal.core.periods import Period, period_bounds
from tests import factories
from tests.billing.helpers import contract


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def text(response) -> str:
    """The page's words: tags out, entities decoded, whitespace collapsed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# --- The filters -------------------------------------------------------------------------------


def test_the_filters_are_everywhere_without_a_load():
    out = render(
        "{{ a|money:'USD' }} | {{ y|money:'JPY' }} | {{ n|count }} | {{ r|percent }} | {{ p|percent:'points' }} | "
        "{{ d|day }} | {{ k|period }} | {{ t|duration }} | {{ n|plural:'outcome' }} | {{ one|plural:'outcome' }} | "
        "{{ m|label:'method' }} | {{ none|money:'USD' }} | {{ none|count }} | {{ none|percent }} | {{ none|day }}",
        a=D("-1527.75"), y=D("12000"), n=36361, r=D(1) / D(36361), p=D("82.5"), d=date(2026, 9, 1), k="2026-12",
        t=timedelta(hours=3, minutes=20), one=1, m="llm_verified", none=None,
    )  # fmt: skip
    assert out.split(" | ") == [
        "-$1,527.75", "¥12,000", "36,361", "0.003%", "82.5%", "1 Sep 2026", "December 2026", "3 h 20 min",
        "36,361 outcomes", "1 outcome", "Checked by a language model", "—", "—", "—", "—",
    ]  # fmt: skip


def test_dates_read_in_the_pages_zone():
    at = datetime(2026, 12, 6, 19, 55, 7, tzinfo=UTC)
    with timezone.override("America/New_York"):
        out = render(
            "{{ at|day }} | {{ at|moment }} | {{ at|moment:'zone' }} | {{ at|moment:'exact' }} | {{ at|period }}", at=at
        )
    assert out.split(" | ") == [
        "6 Dec 2026", "6 Dec 2026, 14:55", "6 Dec 2026, 14:55 EST", "6 Dec 2026, 14:55:07 EST", "December 2026",
    ]  # fmt: skip


def test_periods_read_as_months_and_day_ranges_never_as_excluded_ends():
    start, end = period_bounds("2026-12", "America/New_York")
    period = Period.named("2026-12", "America/New_York")
    with timezone.override("America/New_York"):
        out = render(
            "{{ start|period:end }} | {{ p|period }} | {{ p|period:'days' }} | {{ first|days:last }} | "
            "{{ first|period:mid }}",
            start=start, end=end, p=period, first=date(2026, 12, 1), last=date(2026, 12, 15), mid=date(2026, 12, 16),
        )  # fmt: skip
    assert out.split(" | ") == ["December 2026", "December 2026", "1–31 Dec 2026", "1–15 Dec 2026", "1–15 Dec 2026"]


def test_plural_noun_agrees_with_its_count():
    out = render("{{ n|count }} {{ n|plural_noun:'dispute is,disputes are' }}", n=1)
    assert out == "1 dispute is"
    assert render("{{ n|plural:'event' }}", n="18480") == "18,480 events"


def test_every_code_has_words_from_one_table():
    assert labels.label("llm_verified", "method") == "Checked by a language model"
    assert labels.label("customer_confirmed", "method") == "Confirmed by the customer"
    assert labels.label("abandoned", "reason") == "Abandoned session"
    assert labels.label("dispute_credited", "reason") == "Credited after a dispute"
    assert labels.label("non_billable", "status") == "Not billable"
    assert labels.label("api", "channel") == "API"
    assert labels.label("uncollectible", "payment_status") == "Uncollectible"
    assert labels.label("some_new_method", "method") == "Some new method"  # never the raw code
    assert labels.label("", "method") == ""
    with pytest.raises(KeyError):
        labels.label("x", "no_such_kind")


def test_wording_by_reader():
    assert wording.voice("Your agreed definition", vendor=False) == "Your agreed definition"
    assert wording.voice("Your agreed definition", vendor=True) == "The customer's agreed definition"
    assert wording.voice("you are not charged", vendor=True) == "the customer is not charged"
    with pytest.raises(KeyError):
        wording.voice("a phrase nobody worded", vendor=True)


# --- The pages that wrote them otherwise -------------------------------------------------------


@pytest.fixture
def december_invoice(account_a, catalogue):
    """A final December invoice of 1,000 and 18,480 outcomes."""
    start, end = period_bounds("2026-12", account_a.timezone)
    contract(account_a, effective_from="2026-01-01", prices=[{"outcome_type": "resolved_conversation",
                                                               "model": "unit", "price": "0.99"}])  # fmt: skip
    invoice = Invoice.objects.create(
        account=account_a, period="2026-12", period_start=start, period_end=end, currency="USD",
        subtotal=D("18295.20"), total=D("18295.20"), refreshed_at=end,
    )  # fmt: skip
    for position, (quantity, amount) in enumerate([(1000, D("990.00")), (18480, D("17305.20"))], start=1):
        InvoiceLine.objects.create(
            invoice=invoice, account=account_a, key=f"line-{position}", position=position, kind="outcome",
            description=f"Outcomes {position}", outcome_type=catalogue["resolved"], quantity=quantity,
            unit_price=amount / quantity, amount=amount,
        )  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(
        status="finalized", number="INV-000042", finalized_at=end, issued_at=end, due_at=end + timedelta(days=30),
        payment_status="open",
    )  # fmt: skip
    return invoice


def test_invoice_quantities_and_periods_are_written_for_people(december_invoice, clients):
    page = text(clients["admin_a"].get("/account/acme/invoices/"))
    assert "1,000" in page and "18,480" in page
    assert not re.search(r"\b(1000|18480)\b", page)
    assert "INV-000042 · December 2026" in page  # not "· 2026-12"
    detail = text(clients["admin_a"].get(f"/account/acme/invoices/{december_invoice.pk}/"))
    assert "1,000" in detail and "18,480" in detail and not re.search(r"\b(1000|18480)\b", detail)
    assert "Service period December 2026" in detail  # not "1 Dec 2026 – 31 Dec 2026"


def test_the_trust_page_writes_counts_with_separators_and_never_hides_a_rate(clients, monkeypatch):
    metrics = TrustMetrics(
        now=timezone.now(), days=30, threshold=D("0.05"), accounts=[Rate("acme", "Acme Support", 36361, 1)],
        outcome_types=[Rate("resolved_conversation", "Resolved conversation", 36361, 1)],
    )  # fmt: skip
    monkeypatch.setattr("disputes.views.trust_metrics", lambda **_: metrics)
    page = text(clients["support"].get("/disputes/trust/"))
    assert "1 disputed of 36,361 billed outcomes" in page  # not "1 disputed of 36361"
    assert "0.003%" in page and "0.00%" not in page
    assert "36361" not in page
    assert "above 5.0%" in page


def test_a_spend_alert_counts_its_outcomes_with_separators(account_a):
    control = SpendControl.objects.create(
        account=account_a, monthly_cap=D("5000"), alert_thresholds=[80], updated_at=timezone.now(), updated_by="t"
    )
    _fire_thresholds(control=control, period="2026-12", usage=Usage(D("4012.50"), 4065), now=timezone.now())
    body = Notification.objects.get(account=account_a, kind="spend_alert").body
    assert body == "Acme Support has used 80.3% of its $5,000.00 cap for December 2026 ($4,012.50, 4,065 outcomes)."


@pytest.fixture
def llm_event(catalogue, account_a):
    at = timezone.now() - timedelta(days=5)
    factories.ingest(
        factories.event_payload(account_a, "llm-1", occurred_at=at, verification_method="llm_verified", channel="api")
    )
    return Event.objects.get(account=account_a, event_id="llm-1")


def test_verification_methods_and_channels_read_as_words(llm_event, clients):
    detail = text(clients["admin_a"].get("/account/acme/events/llm-1"))
    assert "Verification method Checked by a language model" in detail
    assert "Channel API" in detail
    table = clients["admin_a"].get("/account/acme/events/").content.decode()
    assert '<span title="llm_verified">Checked by a language model</span>' in table
    assert ">llm_<wbr>verified<" not in table and ">api<" not in table


def test_dates_are_written_one_way(llm_event, clients, account_a):
    with timezone.override(account_a.timezone):
        local = timezone.localtime(llm_event.occurred_at)
    day = f"{local.day} {local:%b %Y}"
    table = clients["admin_a"].get("/account/acme/events/").content.decode()
    assert f"{day}<span" in table and f">{local:%b} {local.day}<" not in table  # not "Dec 6 13:01"
    detail = text(clients["admin_a"].get("/account/acme/events/llm-1"))
    assert f"{day}, {local:%H:%M}" in detail  # "6 Dec 2026, 14:55", not "6 Dec 2026 14:55"
    contract(account_a, effective_from="2026-09-01", prices=[{"outcome_type": "resolved_conversation",
                                                               "model": "unit", "price": "0.99"}])  # fmt: skip
    page = text(clients["operator"].get("/account/acme/contract/"))
    assert "1 Sep 2026" in page and "Sept. 1, 2026" not in page


def test_customers_read_you_and_vendor_staff_read_the_customer(llm_event, clients, catalogue, account_a):
    criteria_version_create(outcome_type=catalogue["resolved"], account=account_a, measurement_window_hours=48)
    sandbox = factories.event_payload(account_a, "sandbox-1", sandbox=True)
    factories.ingest(sandbox)
    for who, agreed, not_charged in (
        ("admin_a", "Your agreed definition", "You are not charged for it."),
        ("operator", "The customer's agreed definition", "The customer is not charged for it."),
        ("support", "The customer's agreed definition", "The customer is not charged for it."),
    ):
        terms = text(clients[who].get("/account/acme/not-charged/"))
        assert agreed in terms
        event = text(clients[who].get("/account/acme/events/sandbox-1"))
        assert not_charged in event
        if who != "admin_a":
            assert "What the customer is charged for" in terms and "The customer is not charged when…" in terms
            assert "Your agreed definition" not in terms + event and "You are not charged" not in terms + event
        else:
            assert "What you are charged for" in terms and "You are not charged when…" in terms
            assert "The customer's agreed definition" not in terms + event and "The customer is" not in terms + event
    plan = text(clients["operator"].get("/account/acme/plan/"))
    assert " Plan · Acme Support" in plan and "Your plan" not in plan and "the customer can check" in plan
    assert "Your plan" in text(clients["admin_a"].get("/account/acme/plan/"))


def test_the_timeline_names_the_channel_in_words():
    from datetime import UTC, datetime

    from billing.audit.detail import event_timeline
    from metering.models import Event

    at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    event = Event(occurred_at=at, received_at=at, window_ends_at=at, channel="chat", workflow="support.refund",
                  status="billable")  # fmt: skip
    occurred = event_timeline(event, [], now=at)[0]
    assert "Chat · support.refund" in str(occurred) and "chat ·" not in str(occurred)
