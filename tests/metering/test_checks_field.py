"""The compact ``checks`` codec: one letter per check, read back as ``[code, outcome]`` pairs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metering.engine import CHECK_ORDER, FAILED, NOT_APPLICABLE, PASSED
from metering.fields import checks_decode, checks_encode

outcomes = st.lists(st.sampled_from([PASSED, FAILED, NOT_APPLICABLE]), min_size=len(CHECK_ORDER),
                    max_size=len(CHECK_ORDER))  # fmt: skip


@given(outcomes)
def test_every_decision_round_trips(results):
    checks = list(zip(CHECK_ORDER, results, strict=True))
    stored = checks_encode(checks)
    assert len(stored) == len(CHECK_ORDER)
    assert checks_decode(stored) == [list(c) for c in checks]


def test_letters():
    assert checks_encode([("not_sandbox", PASSED), ("attempt_succeeded", FAILED), ("no_human_handoff", "n/a")]) == "PFN"


def test_a_decision_stored_before_later_checks_existed_reads_as_the_checks_it_has():
    assert checks_decode("PF") == [["not_sandbox", PASSED], ["attempt_succeeded", FAILED]]


@pytest.mark.parametrize(
    "checks",
    [
        [("attempt_succeeded", PASSED)],  # not the engine's order
        [("not_sandbox", "maybe")],  # not an outcome
        [(code, PASSED) for code in CHECK_ORDER] + [("extra", PASSED)],  # a check the engine does not know
    ],
)
def test_anything_but_the_engines_checks_is_refused(checks):
    with pytest.raises(ValueError):
        checks_encode(checks)
