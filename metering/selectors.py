"""Read-side queries of metering."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.access import Principal
from metering import engine
from metering.models import Event, SuccessCriteria


def criteria_current(
    *, account_ids: Iterable[int], outcome_type_ids: Iterable[int]
) -> dict[tuple[int | None, int], SuccessCriteria]:
    """Latest criteria versions: ``(account_id, type_id)`` for overrides, ``(None, type_id)`` for products."""
    rows = (
        SuccessCriteria.objects.filter(outcome_type_id__in=list(outcome_type_ids))
        .filter(Q(account_id__in=list(account_ids)) | Q(account__isnull=True))
        .select_related("outcome_type", "account")
        .order_by("outcome_type_id", "account_id", "-version")
        .distinct("outcome_type_id", "account_id")
    )
    return {(c.account_id, c.outcome_type_id): c for c in rows}


def criteria_for(
    current: dict[tuple[int | None, int], SuccessCriteria], *, account_id: int, outcome_type_id: int
) -> SuccessCriteria | None:
    """The account's override if it has one, else the product definition."""
    return current.get((account_id, outcome_type_id)) or current.get((None, outcome_type_id))


def rules_from_criteria(criteria: SuccessCriteria) -> engine.Rules:
    return engine.Rules(
        version=criteria.label,
        measurement_window_hours=criteria.measurement_window_hours,
        one_per_session=criteria.one_per_session,
        required_verification_methods=frozenset(criteria.required_verification_methods),
        excluded_workflows=frozenset(criteria.excluded_workflows),
        excluded_channels=frozenset(criteria.excluded_channels),
        handoff_is_billable=criteria.handoff_is_billable,
        confirm_closes_window=criteria.confirm_closes_window,
        reopen_is_new_outcome=criteria.reopen_after_window == "new_outcome",
    )


def event_facts(event: Event) -> engine.EventFacts:
    return engine.EventFacts(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        success_criteria_met=event.success_criteria_met,
        human_handoff=event.human_handoff,
        sandbox=event.sandbox,
        failure_reason=event.failure_reason,
        verification_method=event.verification_method,
        channel=event.channel,
        workflow=event.workflow,
        session_id=event.session_id,
    )


def signal_facts(event: Event) -> tuple[engine.SignalFacts, ...]:
    """The signals the stored decision was made from: those that changed it.

    A signal recorded after the window (``window_closed``) changes nothing billed, and one
    recorded without effect (the event was already non-billable, or it did not matter) did
    not decide anything: feeding either to the engine again would make replay disagree.
    """
    return tuple(
        engine.SignalFacts(type=s.type, occurred_at=s.occurred_at) for s in event.signals.all() if s.effect == "applied"
    )


def events_for_principal(*, principal: Principal) -> QuerySet[Event]:
    """Every event the principal may see: one account's, or all for the vendor side."""
    qs = Event.objects.all()
    return qs if principal.is_vendor else qs.filter(account_id=principal.account_id)


def event_get_for_principal(*, principal: Principal, account_external_id: str, event_id: str) -> Event:
    """One event, or 404 when it does not exist *or* is another account's — the same answer."""
    event = (
        events_for_principal(principal=principal)
        .filter(account__external_id=account_external_id, event_id=event_id)
        .select_related("account", "outcome_type", "criteria", "criteria__outcome_type", "criteria__account")
        .first()
    )
    if event is None:
        raise Http404("No such event.")
    return event


def event_list(
    *,
    principal: Principal,
    account_id: int | None = None,
    outcome_type_id: int | None = None,
    where: Q | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> list[Event]:
    """A keyset page of events, newest first: rows strictly before ``before`` = (occurred_at, id).
    ``where``: the caller's further condition (billing's, on the status and reason it shows)."""
    qs = events_for_principal(principal=principal)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if outcome_type_id is not None:
        qs = qs.filter(outcome_type_id=outcome_type_id)
    if where is not None:
        qs = qs.filter(where)
    if occurred_from:
        qs = qs.filter(occurred_at__gte=occurred_from)
    if occurred_to:
        qs = qs.filter(occurred_at__lt=occurred_to)
    if before is not None:
        at, pk = before
        qs = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk))
    return list(
        qs.select_related(
            "account", "outcome_type", "criteria", "criteria__outcome_type", "criteria__account"
        ).order_by("-occurred_at", "-id")[:limit]
    )
