"""What changed between two versions of a definition of success, field by field, in plain words.

Pure: plain values in (a mapping of the criteria fields, as :class:`metering.models.SuccessCriteria`
holds them), frozen dataclasses out. The vendor's catalogue pages list the changes as
"field: before → after"; the customer's "What counts" page reads each change's ``sentence``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from metering.labels import CHANNELS, VERIFICATION_METHODS, humanized

# Every field of a definition of success, in the order a change list reads them, with its label.
FIELD_LABELS: dict[str, str] = {
    "customer_result": "Customer-recognised result",
    "system_action": "System action",
    "failure_condition": "Failure condition",
    "verification_source": "Verified by",
    "measurement_window_hours": "Measurement window",
    "one_per_session": "One billable outcome per session",
    "required_verification_methods": "Accepted verification methods",
    "excluded_workflows": "Workflows never charged",
    "excluded_channels": "Channels never charged",
    "handoff_is_billable": "A hand-off to a person still counts",
    "confirm_closes_window": "A confirmation closes the window early",
    "reopen_after_window": "A reopen after the window",
    "dispute_process": "Dispute process",
}
_REOPEN = {"continuation": "continues the same outcome", "new_outcome": "is a new outcome"}


@dataclass(frozen=True, slots=True)
class CriteriaChange:
    field: str
    label: str
    before: str  # the old value in words ("" for a list that was empty)
    after: str
    sentence: str  # the change as one sentence, for customers


def _hours(value: object) -> str:
    return "1 hour" if value == 1 else f"{value} hours"


def _words(field: str, value: object) -> str:
    """A field's value as it reads on a page."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "measurement_window_hours":
        return _hours(value)
    if field == "reopen_after_window":
        return _REOPEN.get(str(value), str(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _in_words(table: Mapping[str, str]) -> Callable[[object], str]:
    """A code of ``table`` as customers read it, in quotes: “Checked by a language model”."""
    return lambda code: f"“{table.get(str(code)) or humanized(str(code))}”"


# The lists whose items are codes with words of their own (metering.labels); workflows are the
# customer's own names and read as they are.
_ITEM_WORDS: dict[str, Callable[[object], str]] = {
    "required_verification_methods": _in_words(VERIFICATION_METHODS),
    "excluded_channels": _in_words(CHANNELS),
}


def _list_sentence(
    label: str, before: Sequence, after: Sequence, *, empty: str, words: Callable[[object], str] = str
) -> str:
    added = [words(v) for v in after if v not in before]
    removed = [words(v) for v in before if v not in after]
    parts = []
    if added:
        parts.append(f"{', '.join(added)} added")
    if removed:
        parts.append(f"{', '.join(removed)} removed")
    if not parts:  # the same items in another order
        parts.append("reordered")
    now = ", ".join(words(v) for v in after) if after else empty
    return f"{label}: {'; '.join(parts)} (now: {now})."


def _sentence(field: str, label: str, before: object, after: object) -> str:
    if field == "measurement_window_hours":
        return f"The measurement window went from {_hours(before)} to {_hours(after)}."
    if field == "one_per_session":
        if after:
            return "At most one outcome per session is charged now; duplicates in a session are free."
        return "Each outcome in a session can be charged now (no longer one per session)."
    if field == "handoff_is_billable":
        if after:
            return "A hand-off to a person still counts now when the result was reached."
        return "An outcome a person had to take over is not charged now."
    if field == "confirm_closes_window":
        if after:
            return "Your confirmation closes the measurement window early now."
        return "A confirmation no longer closes the measurement window early."
    if field == "reopen_after_window":
        return f"A reopen after the window {_REOPEN.get(str(after), str(after))} now."
    words = _ITEM_WORDS.get(field, str)
    if field == "required_verification_methods":
        return _list_sentence(label, list(before or ()), list(after or ()), empty="any method", words=words)
    if field in ("excluded_workflows", "excluded_channels"):
        return _list_sentence(label, list(before or ()), list(after or ()), empty="none", words=words)
    if not before:
        return f"{label}: now “{after}”."
    if not after:
        return f"{label}: removed (was “{before}”)."
    return f"{label}: now “{after}” (was “{before}”)."


def criteria_changes(before: Mapping[str, object] | None, after: Mapping[str, object]) -> list[CriteriaChange]:
    """The fields whose value differs from ``before`` to ``after``, in :data:`FIELD_LABELS` order.

    ``before`` None (a first version): no changes — the caller says "first published".
    """
    if before is None:
        return []
    changes = []
    for field, label in FIELD_LABELS.items():
        old, new = before.get(field), after.get(field)
        if isinstance(old, tuple):
            old = list(old)
        if isinstance(new, tuple):
            new = list(new)
        if old == new:
            continue
        changes.append(
            CriteriaChange(
                field=field,
                label=label,
                before=_words(field, old),
                after=_words(field, new),
                sentence=_sentence(field, label, old, new),
            )
        )
    return changes
