"""Operations that change metering state: catalogue, signals, settlement, session claims, replay.

Signals and settlement change an event's decision; what that does to its charge is billing's, so
billing calls these inside its own transactions (billing.ingestion: ``signal_record``,
``outcomes_settle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from metering import engine
from metering.models import Event, EventStatus, OutcomeCost, OutcomeType, Signal, SignalType, SuccessCriteria
from metering.selectors import event_facts, rules_from_criteria, signal_facts

SETTLE_CHUNK = 50_000


class OutcomeTypeExists(Exception):
    pass


class WindowClosed(Exception):
    """A signal arrived after the measurement window: recorded, but nothing billed changes."""

    def __init__(self, signal: Signal):
        super().__init__("window_closed")
        self.signal = signal


# --- Catalogue ----------------------------------------------------------------------------


CRITERIA_RULE_FIELDS = (
    "measurement_window_hours",
    "one_per_session",
    "required_verification_methods",
    "excluded_workflows",
    "excluded_channels",
    "handoff_is_billable",
    "confirm_closes_window",
    "reopen_after_window",
)
CRITERIA_TEXT_FIELDS = (
    "system_action",
    "customer_result",
    "failure_condition",
    "verification_source",
    "dispute_process",
)


def outcome_type_create(
    *,
    code: str,
    name: str,
    unit_price: Decimal,
    value_type: str,
    description: str = "",
    created_by: str = "",
    **criteria: object,
) -> OutcomeType:
    """Create an outcome type with version 1 of its product definition of success."""
    try:
        with transaction.atomic():
            outcome_type = OutcomeType.objects.create(
                code=code, name=name, unit_price=unit_price, value_type=value_type, description=description
            )
            criteria_version_create(outcome_type=outcome_type, account=None, created_by=created_by, **criteria)
    except IntegrityError as exc:
        raise OutcomeTypeExists(code) from exc
    return outcome_type


def criteria_version_create(
    *, outcome_type: OutcomeType, account: Account | None, created_by: str = "", **changes: object
) -> SuccessCriteria:
    """A new version of a definition of success: the latest one with ``changes`` applied.

    ``account=None`` versions the product definition; an account versions its enterprise
    override (starting from the product definition). Earlier versions stay as they were,
    since decisions point at them.
    """
    unknown = set(changes) - set(CRITERIA_RULE_FIELDS) - set(CRITERIA_TEXT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown criteria fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        # Serialise versioning of one outcome type so two editors cannot take the same number.
        OutcomeType.objects.select_for_update().filter(pk=outcome_type.pk).first()
        base = (
            SuccessCriteria.objects.filter(outcome_type=outcome_type, account=account).order_by("-version").first()
            or SuccessCriteria.objects.filter(outcome_type=outcome_type, account=None).order_by("-version").first()
        )
        values = {f: getattr(base, f) for f in CRITERIA_RULE_FIELDS + CRITERIA_TEXT_FIELDS} if base else {}
        values.update(changes)
        last = (
            SuccessCriteria.objects.filter(outcome_type=outcome_type, account=account)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        defaults = {
            "system_action": f"{outcome_type.name}: the AI completes the work",
            "customer_result": outcome_type.name.lower(),
            "failure_condition": "a human hand-off, a reopen or a reversal",
            "verification_source": "the platform's records",
        }
        for key, value in defaults.items():
            values.setdefault(key, value)
        return SuccessCriteria.objects.create(
            outcome_type=outcome_type, account=account, version=(last or 0) + 1, created_by=created_by, **values
        )


# --- Signals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalOutcome:
    signal: Signal
    created: bool  # False: the same signal had been recorded before (no second effect)
    ruled_out: bool = False  # the signal made the outcome non-billable (its charge is void)


def signal_apply(*, event: Event, type: str, occurred_at: datetime, note: str = "", now: datetime) -> SignalOutcome:
    """Record a signal and apply it to the event's decision if it arrived inside the window, in the
    caller's transaction (the event's row is locked until it ends).

    A signal after the window is recorded with effect ``window_closed`` and changes nothing; the
    caller tells the sender (billing.ingestion.signal_record raises :class:`WindowClosed` once the
    record is committed).
    """
    if type not in SignalType.values:
        raise ValueError(type)
    # Lock the event: settlement and other signals wait for us, and we see their result.
    event = (
        Event.objects.select_for_update(of=("self",))
        .select_related("criteria", "criteria__outcome_type", "criteria__account")
        .get(pk=event.pk)
    )
    existing = Signal.objects.filter(event=event, type=type, occurred_at=occurred_at).first()
    if existing is not None:
        return SignalOutcome(signal=existing, created=False)

    signal = Signal(
        account_id=event.account_id, event=event, type=type, occurred_at=occurred_at, received_at=now, note=note
    )
    rules = rules_from_criteria(event.criteria)
    signals = (*signal_facts(event), engine.SignalFacts(type=type, occurred_at=occurred_at))
    window_open = event.status == EventStatus.PENDING and occurred_at < event.window_ends_at
    if not window_open and event.status != EventStatus.NON_BILLABLE:
        signal.effect = Signal.Effect.WINDOW_CLOSED
        signal.save()
        return SignalOutcome(signal=signal, created=True)
    if not window_open:
        signal.effect = Signal.Effect.NO_EFFECT
        signal.save()
        return SignalOutcome(signal=signal, created=True)

    state = engine.AccountState.from_dict(event.state)
    decision = engine.decide(event_facts(event), signals, rules, state, now)
    changed = (decision.status, decision.reason, decision.window_ends_at) != (
        event.status,
        event.non_billable_reason,
        event.window_ends_at,
    )
    signal.effect = Signal.Effect.APPLIED if changed else Signal.Effect.NO_EFFECT
    signal.save()
    if changed:
        _event_apply_decision(event=event, decision=decision, now=now)
    ruled_out = changed and decision.status == EventStatus.NON_BILLABLE
    return SignalOutcome(signal=signal, created=True, ruled_out=ruled_out)


def _event_apply_decision(*, event: Event, decision: engine.Decision, now: datetime) -> None:
    fields = {
        "status": decision.status,
        "non_billable_reason": decision.reason,
        "window_ends_at": decision.window_ends_at,
        "checks": [list(c) for c in decision.checks],
        "decided_at": now,
    }
    if decision.status == EventStatus.BILLABLE:
        fields["settled_at"] = now
    if decision.status == EventStatus.NON_BILLABLE:
        # The session's outcome is free again: a later success in it can be billed.
        session_claims_release([event.pk])
    if decision.status == EventStatus.PENDING and decision.window_ends_at != event.window_ends_at:
        _pending_window_move(event_pk=event.pk, window_ends_at=decision.window_ends_at)
    Event.objects.filter(pk=event.pk).update(**fields)


def _pending_window_move(*, event_pk: int, window_ends_at: datetime) -> None:
    """The event's window now ends earlier (a confirmation): its settlement row follows.

    A row a settlement holds is skipped, not waited for (that settlement waits for this event's
    lock: waiting here would deadlock): it is being settled already, and the earlier end is due
    whenever the old one was.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE metering_pendingwindow SET window_ends_at = %(ends)s WHERE (window_ends_at, event_id) IN ("
            "SELECT window_ends_at, event_id FROM metering_pendingwindow WHERE event_id = %(event)s "
            "FOR UPDATE SKIP LOCKED)",
            {"ends": window_ends_at, "event": event_pk},
        )


# --- Settlement ---------------------------------------------------------------------------


# One chunk, one statement. The due rows are deleted by their ctid (stable while this
# transaction holds their lock). The events are found through the primary key in id order —
# an array, so the plan is an index scan whatever the planner expects, never a scan of the
# table — and each page is visited once. No index on metering_event mentions status or
# settled_at, so where the page has room the update is HOT: no index entry is written.
# Settling one chunk of due events, as two common table expressions for the caller's statement
# (billing.ingestion.outcomes_settle adds the rating of the settled events' charges): ``due`` takes up
# to ``chunk`` rows of the work list (:class:`~metering.models.PendingWindow`) with ``FOR UPDATE SKIP
# LOCKED`` — so several connections share the work without waiting on each other — and deletes them;
# ``settled`` makes their events still ``pending`` billable (``settled_at = now``) and returns their
# ids: an event ruled out meanwhile is left alone, and a signal changing an event right now holds its
# row lock, so the settlement waits for it and then sees its result. Fewer rows than ``chunk`` taken
# means none was due any more. Parameters: ``now``, ``chunk``.
SETTLE_CTES = """
due AS (
    DELETE FROM metering_pendingwindow
    WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM metering_pendingwindow WHERE window_ends_at <= %(now)s
        LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
    ))
    RETURNING event_id
), settled AS (
    UPDATE metering_event e SET status = 'billable', settled_at = %(now)s
    WHERE e.id = ANY (ARRAY(SELECT event_id FROM due ORDER BY event_id)) AND e.status = 'pending'
    RETURNING e.id
)
"""


def session_claims_release(event_ids: Sequence[int]) -> None:
    """Free the sessions these events hold (if they hold one), so a later success in them can be billed.

    Found through the claim's primary key, which each event carries (account, outcome type,
    session): the claims table has no index on its event column.
    """
    if not event_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM metering_sessionclaim c USING metering_event e WHERE e.id = ANY(%s::bigint[]) "
            "AND e.session_id <> '' AND c.account_id = e.account_id AND c.outcome_type_id = e.outcome_type_id "
            "AND c.session_id = e.session_id AND c.event_id = e.id",
            [list(event_ids)],
        )


# --- Replay -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayDifference:
    event_pk: int
    event_id: str
    stored: tuple[str, str]
    replayed: tuple[str, str]


def decision_replay(*, event: Event, now: datetime | None = None) -> ReplayDifference | None:
    """Decide the stored raw event again with its stored rule version and state; None if it agrees."""
    now = now or timezone.now()
    decision = engine.decide(
        event_facts(event),
        signal_facts(event),
        rules_from_criteria(event.criteria),
        engine.AccountState.from_dict(event.state),
        now,
    )
    stored_status = event.status
    if stored_status == "pending" and decision.status == "billable":
        stored_status = "billable"  # window closed since; settlement has simply not run yet
    stored = (stored_status, event.non_billable_reason)
    replayed = (decision.status, decision.reason)
    stored_checks = [tuple(c) for c in event.checks]
    if stored != replayed or stored_checks != list(decision.checks):
        return ReplayDifference(event.pk, event.event_id, stored, replayed)
    return None


# --- Delivery costs (the vendor's; finance's margin) ----------------------------------------------


class OutcomeCostExists(Exception):
    pass


def outcome_cost_create(
    *,
    outcome_type: OutcomeType,
    complexity: str,
    amount: Decimal,
    effective_from: date,
    created_by: str = "",
) -> OutcomeCost:
    """A delivery cost of the type (and tier; empty: every tier without its own) from ``effective_from``.
    Earlier costs stay as they were; the same type, tier and date twice is :class:`OutcomeCostExists`."""
    try:
        with transaction.atomic():
            return OutcomeCost.objects.create(
                outcome_type=outcome_type,
                complexity=complexity,
                amount=amount,
                effective_from=effective_from,
                created_by=created_by,
            )
    except IntegrityError as exc:
        raise OutcomeCostExists(f"{outcome_type.code} {complexity or 'any tier'} from {effective_from}") from exc


def outcome_type_margin_floor_set(*, outcome_type: OutcomeType, margin_floor: Decimal | None) -> None:
    """The type's margin floor (a ratio, 0–1), or None for the FINANCE_MARGIN_FLOOR setting."""
    if margin_floor is not None and not Decimal(0) <= margin_floor <= Decimal(1):
        raise ValueError("A margin floor is a ratio from 0 to 1, e.g. 0.6000 for 60 %.")
    OutcomeType.objects.filter(pk=outcome_type.pk).update(margin_floor=margin_floor)
