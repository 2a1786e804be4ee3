"""The attainment figure on hand-computed cases (finance.attainment: a pure core, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finance.attainment import Count, attainment_rows, classify, group_by_parse, is_falling, rate, trailing_mean

ACME = {"account": "acme", "tier": "enterprise", "industry": "saas", "use_case": "support"}
GLOBEX = {"account": "globex", "tier": "smb", "industry": "retail", "use_case": "support"}


@pytest.mark.parametrize(
    ("status", "reason", "counted"),
    [
        ("billable", "", "billable"),
        ("invoiced", "", "billable"),
        ("disputed", "", "billable"),  # stands until the dispute is resolved
        ("credited", "", "dispute_credited"),
        ("non_billable", "dispute_credited", "dispute_credited"),
        ("non_billable", "training_window", "training_window"),
        ("non_billable", "pilot_free", "pilot_free"),
        ("non_billable", "cap_reached", "cap_reached"),
        ("non_billable", "sandbox", "sandbox"),
        ("non_billable", "duplicate_in_session", "duplicate_in_session"),
        ("pending", "", "pending"),
        ("non_billable", "abandoned", "failed"),
        ("non_billable", "human_handoff", "failed"),
        ("non_billable", "criteria_not_met", "failed"),
        ("non_billable", "verification_failed", "failed"),
        ("non_billable", "reopened_in_window", "failed"),
        ("non_billable", "escalated_in_window", "failed"),
    ],
)
def test_each_shown_status_and_reason_counts_in_one_place(status, reason, counted):
    assert classify(status, reason) == counted


def test_rate_is_a_four_decimal_ratio_rounded_half_up_and_none_without_attempts():
    assert rate(7, 13) == Decimal("0.5385")  # 0.538461…
    assert rate(1, 8) == Decimal("0.1250")
    assert rate(2, 3) == Decimal("0.6667")
    assert rate(1, 20000) == Decimal("0.0001")  # 0.00005 rounds half up
    assert rate(0, 5) == Decimal("0.0000")
    assert rate(0, 0) is None


def test_trailing_mean_and_falling():
    assert trailing_mean([Decimal("0.8000"), Decimal("0.7000"), Decimal("0.6001")]) == Decimal("0.7000")
    assert trailing_mean([Decimal("0.8000"), None, Decimal("0.7000")]) == Decimal("0.7500")  # those that exist
    assert trailing_mean([None, None, None]) is None
    # "More than N points below": exactly N below is not falling.
    assert is_falling(Decimal("0.6500"), Decimal("0.7000"), Decimal(5)) is False
    assert is_falling(Decimal("0.6499"), Decimal("0.7000"), Decimal(5)) is True
    assert is_falling(None, Decimal("0.7000"), Decimal(5)) is False
    assert is_falling(Decimal("0.1000"), None, Decimal(5)) is False


def _counts():
    # acme, resolved_conversation, 2026-03: 7 billable (5 invoiced + 2 billable), 6 failed, and every
    # word of not_attempted once or more.
    rows = [
        (ACME, "resolved_conversation", "2026-03", "invoiced", "", 5),
        (ACME, "resolved_conversation", "2026-03", "billable", "", 2),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "abandoned", 4),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "human_handoff", 2),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "training_window", 3),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "pilot_free", 1),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "cap_reached", 2),
        (ACME, "resolved_conversation", "2026-03", "credited", "", 1),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "dispute_credited", 1),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "account_suspended", 2),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "account_churned", 1),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "sandbox", 9),
        (ACME, "resolved_conversation", "2026-03", "non_billable", "duplicate_in_session", 4),
        (ACME, "resolved_conversation", "2026-03", "pending", "", 6),
        # acme's leads: 1 of 4
        (ACME, "qualified_lead", "2026-03", "billable", "", 1),
        (ACME, "qualified_lead", "2026-03", "non_billable", "criteria_not_met", 3),
        # globex: 8 of 10 in March; the three months before 0.9, 0.9 and none
        (GLOBEX, "resolved_conversation", "2026-03", "billable", "", 8),
        (GLOBEX, "resolved_conversation", "2026-03", "non_billable", "abandoned", 2),
        (GLOBEX, "resolved_conversation", "2026-02", "billable", "", 9),
        (GLOBEX, "resolved_conversation", "2026-02", "non_billable", "abandoned", 1),
        (GLOBEX, "resolved_conversation", "2026-01", "invoiced", "", 18),
        (GLOBEX, "resolved_conversation", "2026-01", "non_billable", "abandoned", 2),
        (GLOBEX, "resolved_conversation", "2025-12", "non_billable", "sandbox", 5),  # nothing attempted
    ]
    return [Count(account=a, outcome_type=t, period=p, status=s, reason=r, n=n) for a, t, p, s, r, n in rows]


def test_rows_by_tier_with_every_exclusion_counted_apart():
    rows = attainment_rows(_counts(), group_by=("tier",), periods=["2026-03"], drop_points=Decimal(5))
    assert [r.as_api() for r in rows] == [
        {
            "segment": {"tier": "enterprise"},
            "period": "2026-03",
            "attempted": 17,  # 7 + 6 failed resolutions, 1 + 3 leads
            "billable": 8,
            "attainment_rate": "0.4706",  # 8 / 17
            "not_attempted": {
                "training_window": 3,
                "pilot_free": 1,
                "cap_reached": 2,
                "dispute_credited": 2,  # shown credited, or not billable for that reason
                "account_suspended": 2,  # the account was not active: not a failure of the AI
                "account_churned": 1,
                "sandbox": 9,
                "duplicate_in_session": 4,
                "pending": 6,
            },
            "trailing_rate": None,  # no month before has an attempt
            "falling": False,
        },
        {
            "segment": {"tier": "smb"},
            "period": "2026-03",
            "attempted": 10,
            "billable": 8,
            "attainment_rate": "0.8000",
            "not_attempted": dict.fromkeys(
                (
                    "training_window",
                    "pilot_free",
                    "cap_reached",
                    "dispute_credited",
                    "account_suspended",
                    "account_churned",
                    "sandbox",
                    "duplicate_in_session",
                    "pending",
                ),
                0,
            ),
            "trailing_rate": "0.9000",  # (0.9000 + 0.9000) / 2: December attempted nothing
            "falling": True,  # 10 points below, more than 5
        },
    ]


def test_two_dimensions_crossed_and_the_whole_book():
    crossed = attainment_rows(
        _counts(), group_by=("account", "outcome_type"), periods=["2026-03"], drop_points=Decimal(5)
    )
    assert [(r.segment_dict, r.billable, r.attempted, str(r.rate)) for r in crossed] == [
        ({"account": "acme", "outcome_type": "qualified_lead"}, 1, 4, "0.2500"),
        ({"account": "acme", "outcome_type": "resolved_conversation"}, 7, 13, "0.5385"),
        ({"account": "globex", "outcome_type": "resolved_conversation"}, 8, 10, "0.8000"),
    ]
    book = attainment_rows(_counts(), group_by=(), periods=["2026-02", "2026-03"], drop_points=Decimal(5))
    assert [(r.segment, r.period, r.billable, r.attempted, str(r.rate)) for r in book] == [
        ((), "2026-02", 9, 10, "0.9000"),
        ((), "2026-03", 16, 27, "0.5926"),
    ]
    assert (book[1].trailing_rate, book[1].falling) == (Decimal("0.9000"), True)  # mean of Jan 0.9 and Feb 0.9


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("", ()),
        ("tier", ("tier",)),
        ("tier,industry", ("tier", "industry")),
        (" use_case , account ", ("use_case", "account")),
    ],
)
def test_group_by_parse(value, parsed):
    assert group_by_parse(value) == parsed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tier,industry,account", "At most two dimensions"),
        ("tier,tier", "A dimension may appear once"),
        ("region", "Unknown dimension 'region'"),
    ],
)
def test_group_by_refuses(value, message):
    with pytest.raises(ValueError, match=message):
        group_by_parse(value)
