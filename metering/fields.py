"""The stored ``checks`` of a decision, one letter per check.

Every decision reports every check of :data:`metering.engine.CHECK_ORDER`, in that order, so the
codes need not be stored with each event: ``"PPNPPNNPPP"`` says passed, passed, n/a, … for
the checks in engine order. Ten bytes instead of a 400-byte JSON array, in every row of the
biggest table — a third of its width, which every scan, settlement and invoice pays for.

Python code sees the same value as before: a list of ``[code, outcome]`` pairs. New checks are
only ever appended to ``CHECK_ORDER``; a shorter stored string (a decision made before a check
existed) reads as the checks it has. (Migration 0013 took the last four away — billing's allowances, cap
and credits, now the charge's reason — and cut the stored strings to match.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import models

from metering.engine import CHECK_ORDER, FAILED, NOT_APPLICABLE, PASSED

_LETTER = {PASSED: "P", FAILED: "F", NOT_APPLICABLE: "N"}
_OUTCOME = {letter: outcome for outcome, letter in _LETTER.items()}


def checks_encode(checks: Iterable[Sequence[str]]) -> str:
    """``[(code, outcome), …]`` in engine order → one letter per check. Refuses anything else."""
    letters = []
    for position, (code, outcome) in enumerate(checks):
        if position >= len(CHECK_ORDER) or code != CHECK_ORDER[position]:
            raise ValueError(f"check {code!r} at position {position} is not the engine's order {CHECK_ORDER}")
        if outcome not in _LETTER:
            raise ValueError(f"check {code!r} has outcome {outcome!r}; expected one of {sorted(_LETTER)}")
        letters.append(_LETTER[outcome])
    return "".join(letters)


def checks_decode(stored: str) -> list[list[str]]:
    """One letter per check → ``[[code, outcome], …]`` in engine order."""
    return [[code, _OUTCOME[letter]] for code, letter in zip(CHECK_ORDER, stored, strict=False)]


class ChecksField(models.CharField):
    """A decision's checks, stored as one letter per check (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return value if value is None else checks_decode(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        return checks_decode(value)

    def get_prep_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return checks_encode(value)

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
