"""The spend controls' change log in words: what one change changed, field by field — never a field
that stayed as it was (the log keeps whole snapshots: ``SpendControlChange.old`` / ``new``)."""

from __future__ import annotations

from billing import caps
from outcomeportal.core import formatting


def control_changes(old: dict, new: dict, currency: str) -> list[str]:
    """What one change of the spend controls changed, in words: only the fields that differ
    (``old`` and ``new`` are the change log's snapshots)."""

    def cap(value):
        return "none" if value is None else formatting.money(value, currency)

    def outcomes(value):
        return "none" if value is None else formatting.plural(value, "outcome")

    words = {
        "monthly_cap": ("cap", cap),
        "monthly_cap_outcomes": ("outcome cap", outcomes),
        "at_cap": ("at the cap", lambda v: AT_CAP_WORDS.get(v, v)),
        "alert_thresholds": ("alerts", lambda v: ", ".join(f"{t}%" for t in v) or "none"),
    }
    return [
        f"{label} {show(old.get(field))} → {show(new.get(field))}"
        for field, (label, show) in words.items()
        if old.get(field) != new.get(field)
    ]


AT_CAP_WORDS = {caps.PAUSE: "pause", caps.ALLOW_OVERAGE: "allow overage"}
