"""The state machines of disputes, as data: which moves are legal. Pure — no Django.

:func:`disputes.services` moves a dispute (or its credit) only through
``services._transition``, which refuses anything not in these tables and writes the
history row of the move (who, when, from → to).

Dispute (the contract's words)::

    open ──▶ approved | partially_approved | rejected      (final)

Credit of an approved dispute::

    none ──approve──▶ pending ──issue_credits job──▶ issued   (final)
"""

from __future__ import annotations

DISPUTE_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"approved", "partially_approved", "rejected"}),
    "approved": frozenset(),
    "partially_approved": frozenset(),
    "rejected": frozenset(),
}

CREDIT_TRANSITIONS: dict[str, frozenset[str]] = {
    "none": frozenset({"pending"}),
    "pending": frozenset({"issued"}),
    "issued": frozenset(),
}

MACHINES = {"dispute": DISPUTE_TRANSITIONS, "credit": CREDIT_TRANSITIONS}


class IllegalTransition(Exception):
    def __init__(self, machine: str, from_state: str, to_state: str):
        super().__init__(f"A {machine} cannot go from {from_state!r} to {to_state!r}.")
        self.machine, self.from_state, self.to_state = machine, from_state, to_state


def transition_check(machine: str, from_state: str, to_state: str) -> None:
    """Raise :class:`IllegalTransition` unless ``from_state → to_state`` is in the table."""
    if to_state not in MACHINES[machine].get(from_state, frozenset()):
        raise IllegalTransition(machine, from_state, to_state)
