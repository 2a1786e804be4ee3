"""billing.caps: the pure cap rules, with hand-computed cases."""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import caps


def items(*amounts):
    return [caps.CapItem(key=i, amount=D(a)) for i, a in enumerate(amounts)]


def test_uncapped_admits_everything_and_counts():
    result = caps.cap_apply(caps.CapPolicy(), caps.Usage(), items("0.99", "0.99"))
    assert result == caps.CapResult(ruled_out=(), usage=caps.Usage(D("1.98"), 2), paused=False)


def test_first_outcome_that_would_cross_is_ruled_out_and_the_rest_follow():
    policy = caps.CapPolicy(cap_amount=D("3.00"))
    # 2.97 used after three; the fourth (0.99) would make 3.96 > 3.00; a cheap fifth still follows it out.
    result = caps.cap_apply(policy, caps.Usage(), items("0.99", "0.99", "0.99", "0.99", "0.01"))
    assert result.ruled_out == (3, 4)
    assert result.usage == caps.Usage(D("2.97"), 3)
    assert result.paused is True


def test_reaching_the_cap_exactly_admits_and_pauses():
    result = caps.cap_apply(caps.CapPolicy(cap_amount=D("2.00")), caps.Usage(D("1.00"), 1), items("1.00"))
    assert result.ruled_out == ()
    assert result.usage == caps.Usage(D("2.00"), 2)
    assert result.paused is True


def test_paused_period_rules_out_everything():
    result = caps.cap_apply(caps.CapPolicy(cap_amount=D("100")), caps.Usage(), items("1"), paused=True)
    assert result.ruled_out == (0,)


def test_outcome_count_cap():
    result = caps.cap_apply(caps.CapPolicy(cap_outcomes=2), caps.Usage(D(0), 1), items("5", "5", "5"))
    assert result.ruled_out == (1, 2)
    assert result.usage == caps.Usage(D("5"), 2)


def test_allow_overage_never_rules_out():
    policy = caps.CapPolicy(cap_amount=D("1.00"), at_cap=caps.ALLOW_OVERAGE)
    result = caps.cap_apply(policy, caps.Usage(), items("0.99", "0.99"))
    assert result.ruled_out == ()
    assert result.usage.amount == D("1.98")
    assert result.paused is False


@pytest.mark.parametrize(
    ("spend", "expected"),
    [("0", ()), ("249.99", ()), ("250.00", (50,)), ("400.00", (50, 80)), ("500.00", (50, 80, 100))],
)
def test_thresholds_reached(spend, expected):
    policy = caps.CapPolicy(cap_amount=D("500.00"))
    assert caps.thresholds_reached(policy, caps.Usage(D(spend), 1)) == expected


def test_percent_used_takes_the_larger_of_money_and_count():
    policy = caps.CapPolicy(cap_amount=D("100"), cap_outcomes=10)
    assert caps.percent_used(policy, caps.Usage(D("30"), 6)) == D(60)


def test_forecast_day_from_run_rate():
    policy = caps.CapPolicy(cap_amount=D("300"))
    # 100 spent over the first 10 days (10/day): 200 left → 20 more days → Nov 30.
    day = caps.forecast_cap_day(
        policy, caps.Usage(D("100"), 100), period_start=date(2026, 11, 1), today=date(2026, 11, 10),
        period_end=date(2026, 12, 1),
    )  # fmt: skip
    assert day == date(2026, 11, 30)


def test_forecast_none_when_cap_is_beyond_the_period():
    policy = caps.CapPolicy(cap_amount=D("1000"))
    day = caps.forecast_cap_day(
        policy, caps.Usage(D("100"), 100), period_start=date(2026, 11, 1), today=date(2026, 11, 10),
        period_end=date(2026, 12, 1),
    )  # fmt: skip
    assert day is None


money = st.decimals(min_value=0, max_value=50, places=2)


@given(
    cap_amount=st.none() | money,
    cap_outcomes=st.none() | st.integers(min_value=0, max_value=8),
    at_cap=st.sampled_from([caps.PAUSE, caps.ALLOW_OVERAGE]),
    used=money,
    used_outcomes=st.integers(min_value=0, max_value=8),
    amounts=st.lists(money, max_size=8),
    paused=st.booleans(),
)
def test_admits_whole_batch_says_exactly_when_cap_apply_admits_all_without_pausing(
    cap_amount, cap_outcomes, at_cap, used, used_outcomes, amounts, paused
):
    policy = caps.CapPolicy(cap_amount=cap_amount, cap_outcomes=cap_outcomes, at_cap=at_cap)
    before = caps.Usage(used, used_outcomes)
    after = caps.Usage(used + sum(amounts, D(0)), used_outcomes + len(amounts))

    result = caps.cap_apply(policy, before, items(*amounts), paused=paused)

    admitted_all = result.ruled_out == () and not result.paused
    assert caps.admits_whole_batch(policy, after, paused=paused) == admitted_all
    if admitted_all:
        assert result.usage == after


@given(
    cap_amount=st.none() | money,
    cap_outcomes=st.none() | st.integers(min_value=0, max_value=8),
    at_cap=st.sampled_from([caps.PAUSE, caps.ALLOW_OVERAGE]),
    thresholds=st.lists(st.integers(min_value=1, max_value=100), unique=True, max_size=4),
    used=money,
    used_outcomes=st.integers(min_value=0, max_value=8),
    later=money,
    later_outcomes=st.integers(min_value=0, max_value=8),
)
def test_headroom_admits_only_what_admits_whole_batch_admits_and_fires_nothing(
    cap_amount, cap_outcomes, at_cap, thresholds, used, used_outcomes, later, later_outcomes
):
    """Below the headroom from a usage, a later usage needs no pricing: it fits and reaches no new threshold."""
    policy = caps.CapPolicy(cap_amount, cap_outcomes, at_cap, tuple(thresholds))
    now, then = caps.Usage(used, used_outcomes), caps.Usage(used + later, used_outcomes + later_outcomes)
    money_limit, outcomes_limit = caps.headroom(policy, now)
    if then.amount < money_limit and then.outcomes < outcomes_limit:
        assert caps.admits_whole_batch(policy, then)
        assert caps.thresholds_reached(policy, then) == caps.thresholds_reached(policy, now)
