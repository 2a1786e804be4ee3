"""The dashboard's "this period so far, against the last" (billing.audit.compare): each figure against
a world whose answers are known, the account's local days, a missing or empty previous period, the
money truth, and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.audit import period_current
from billing.audit.compare import period_comparison
from billing.charges import period_charges
from billing.ingestion import outcomes_settle
from tests import factories

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 on Saturday 7 March in New York


def _at(day: int, month: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def _post(account, *occurrences, **fields) -> None:
    factories.ingest(
        *(
            factories.event_payload(
                account, occurred_at=at, session_id=f"{account.external_id}-{at.isoformat()}-{i}", **fields
            )
            for i, at in enumerate(occurrences)
        ),
        now=NOW,
    )


@pytest.fixture
def world(db, settings):
    """Acme (New York) in February and March 2026, Globex (Tokyo) in the same days, catalogue prices."""
    settings.LATE_EVENT_WINDOW_DAYS = 90
    factories.make_outcome_type("resolved_conversation", "0.99")  # 72-hour window
    acme = factories.make_account("acme", name="Acme Support", timezone_name="America/New_York")
    globex = factories.make_account("globex", name="Globex", timezone_name="Asia/Tokyo")
    # February: 1–7 Feb has 4 billable and 1 abandoned; later, 6 billable on the 20th and 2 at 22:00
    # on the 28th — 03:00 on 1 March in UTC, still February in New York.
    _post(acme, *[_at(2, 2, h) for h in (9, 10, 11, 12)])
    _post(acme, _at(3, 2), failure_reason="abandoned")
    _post(acme, *[_at(20, 2, h) for h in range(9, 15)])
    _post(acme, _at(28, 2, 22, 0), _at(28, 2, 22, 30))
    # March so far: 5 billable from 00:30 on the 1st (05:30 UTC), 2 abandoned, 1 sandbox, and one
    # outcome of the 6th still in its 72-hour window.
    _post(acme, *[_at(1, 3, 0, 30 + m) for m in range(5)])
    _post(acme, _at(2, 3, 9), _at(2, 3, 10), failure_reason="abandoned")
    _post(acme, _at(3, 3), sandbox=True)
    _post(acme, _at(6, 3))
    # Globex in the same days: figures that must never reach Acme's.
    _post(globex, *[datetime(2026, 2, 2, 9, h, tzinfo=UTC) for h in range(30)])
    _post(globex, *[datetime(2026, 3, 2, 9, h, tzinfo=UTC) for h in range(3)])
    outcomes_settle(now=NOW)
    return {"acme": acme, "globex": globex}


def _changes(comparison) -> dict:
    return {c.label: c for c in comparison.changes}


def test_this_period_so_far_against_the_same_days_of_the_last(world):
    comparison = period_comparison(account=world["acme"], now=NOW)
    current, same, whole = comparison.current, comparison.same_days, comparison.whole
    assert (current.first_day, current.last_day) == (_at(1, 3).date(), _at(7, 3).date())
    assert (same.first_day, same.last_day) == (_at(1, 2).date(), _at(7, 2).date())
    assert (whole.first_day, whole.last_day) == (_at(1, 2).date(), _at(28, 2).date())
    assert (current.label, same.label) == ("1–7 Mar 2026", "1–7 Feb 2026")
    # Counts by the account's local days: the 28 Feb 22:00 outcomes are February's, not March's.
    assert (current.billable, current.not_billable, current.pending, current.attempted) == (5, 3, 1, 7)
    assert (same.billable, same.not_billable, same.pending, same.attempted) == (4, 1, 0, 5)
    assert (whole.billable, whole.not_billable, whole.pending, whole.attempted) == (12, 1, 0, 13)
    # Money as the invoice prices it: $0.99 a billable outcome (catalogue price, no contract).
    assert (current.spend, same.spend, whole.spend) == (Decimal("4.95"), Decimal("3.96"), Decimal("11.88"))
    assert current.spend == period_charges(account=world["acme"], now=NOW).spend  # the dashboard's figure

    changes = _changes(comparison)
    assert changes["Charges so far"].words == "Up 25.0% (+$0.99) vs 1–7 Feb 2026"
    assert (changes["Charges so far"].now_text, changes["Charges so far"].before_text) == ("$4.95", "$3.96")
    assert changes["Charges so far"].whole_text == "$11.88"
    assert changes["Billable outcomes"].words == "Up 25.0% (+1) vs 1–7 Feb 2026"
    assert changes["Attainment"].words == "Down 8.6 points vs 1–7 Feb 2026"  # 71.4% against 80.0%
    assert (changes["Attainment"].now_text, changes["Attainment"].before_text) == ("71.4%", "80.0%")
    assert changes["Not billable"].words == "Up 200.0% (+2) vs 1–7 Feb 2026"
    assert [c.direction for c in comparison.changes] == ["up", "up", "down", "up"]


def test_the_last_days_of_a_longer_month_compare_with_all_of_a_shorter_one(world):
    late = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    comparison = period_comparison(account=world["acme"], now=late)
    assert comparison.same_days.label == "1–28 Feb 2026"
    assert comparison.same_days == comparison.whole


def test_a_first_period_has_nothing_to_compare_with(world):
    kumo = factories.make_account("kumo", name="Kumo", timezone_name="Asia/Tokyo")
    _post(kumo, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    outcomes_settle(now=NOW)
    comparison = period_comparison(account=kumo, now=NOW)
    assert comparison.same_days is None and comparison.whole is None and not comparison.has_previous
    assert (comparison.current.billable, comparison.current.spend) == (1, Decimal("0.99"))
    assert {c.direction for c in comparison.changes} == {"none"}
    assert {c.words for c in comparison.changes} == {"No earlier period to compare with"}
    assert _changes(comparison)["Charges so far"].now_text == "$0.99"


def test_a_zero_base_reads_new_never_a_division_by_zero(world):
    initech = factories.make_account("initech", name="Initech", timezone_name="Europe/Berlin")
    _post(
        initech, datetime(2026, 2, 3, 10, tzinfo=UTC), datetime(2026, 2, 3, 11, tzinfo=UTC), failure_reason="abandoned"
    )
    _post(initech, datetime(2026, 3, 2, 10, tzinfo=UTC))
    outcomes_settle(now=NOW)
    changes = _changes(period_comparison(account=initech, now=NOW))
    assert changes["Charges so far"].words == "New: none on 1–7 Feb 2026"
    assert changes["Charges so far"].before_text == "$0.00"
    assert changes["Billable outcomes"].words == "New: none on 1–7 Feb 2026"
    assert changes["Attainment"].words == "Up 100 points vs 1–7 Feb 2026"  # 0 of 2 decided, then 1 of 1
    assert changes["Not billable"].words == "Down 100.0% (-2) vs 1–7 Feb 2026"


def test_no_outcomes_on_either_side_reads_no_change(world):
    quiet = factories.make_account("quiet", name="Quiet", timezone_name="UTC")
    _post(quiet, datetime(2026, 2, 20, 10, tzinfo=UTC))  # after the same days: only the whole month has it
    outcomes_settle(now=NOW)
    changes = _changes(period_comparison(account=quiet, now=NOW))
    assert changes["Charges so far"].words == "No change vs 1–7 Feb 2026"
    assert changes["Charges so far"].whole_text == "$0.99"
    assert changes["Attainment"].words == "Nothing decided yet"
    assert changes["Attainment"].now_text == "—"


def test_each_account_reads_only_its_own_figures(world):
    globex = period_comparison(account=world["globex"], now=NOW)
    assert (globex.current.billable, globex.same_days.billable) == (3, 30)
    acme = period_comparison(account=world["acme"], now=NOW)
    assert (acme.current.billable, acme.same_days.billable) == (5, 4)


# --- The page ---------------------------------------------------------------------------------


def test_the_dashboard_shows_the_comparison_in_words_and_numbers(events, clients, account_a):
    response = clients["viewer_a"].get("/account/acme/")
    comparison = response.context["comparison"]
    html = response.content.decode()
    assert "This period so far" in html
    for change in comparison.changes:
        assert change.now_text in html and change.words.replace("'", "&#x27;") in html
    # The money truth: this period's charges are the upcoming invoice's own charges.
    assert comparison.current.spend == period_charges(account=account_a).spend
    assert comparison.current.billable == response.context["summary"].charged
    if comparison.has_previous:
        assert f"{comparison.same_days.label}: " in html and "all of " in html
    else:
        assert "no earlier period to compare with" in html


def test_the_dashboard_of_another_account_is_a_404_and_shows_none_of_its_figures(events, clients, account_a):
    assert clients["user_b"].get("/account/acme/").status_code == 404
    own = clients["user_b"].get("/account/globex/")
    assert own.status_code == 200
    comparison = own.context["comparison"]
    acme = clients["admin_a"].get("/account/acme/").context["comparison"]
    assert comparison.current.billable != acme.current.billable  # B's 12 events against A's 120
    assert comparison.current.billable + comparison.current.not_billable <= 12


def test_a_first_period_reads_its_own_figures_and_says_there_is_nothing_to_compare(events, clients):
    fresh = factories.make_account("fresh", name="Fresh Start", timezone_name="UTC")
    now = timezone.now()
    factories.ingest(
        factories.event_payload(fresh, occurred_at=max(now - timedelta(hours=1), period_current(account=fresh).start))
    )
    client = clients["anonymous"]
    client.force_login(factories.make_user(Role.VIEWER, fresh))
    response = client.get("/account/fresh/")
    assert not response.context["comparison"].has_previous
    html = response.content.decode()
    assert "no earlier period to compare with: Fresh Start had no outcomes or charges in" in html
    assert "This period so far</h2>" in html and "Billable outcomes" in html and "vs " not in html
