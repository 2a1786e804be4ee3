"""Read-side queries of metering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.access import Principal
from metering import engine
from metering.criteria_changes import FIELD_LABELS, CriteriaChange, criteria_changes
from metering.models import Event, OutcomeCost, OutcomeType, SuccessCriteria


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


# --- The catalogue's history ----------------------------------------------------------------------


def criteria_values(criteria: SuccessCriteria) -> dict[str, object]:
    """A version's fields as plain values (what :func:`metering.criteria_changes.criteria_changes` compares)."""
    return {field: getattr(criteria, field) for field in FIELD_LABELS}


@dataclass(frozen=True, slots=True)
class CriteriaVersionEntry:
    """One version of a definition, with what changed from the version before it.

    ``previous``: the version before in its scope; for an account's first override, the product
    version it started from (the one in force when it was published). None for a product v1.
    """

    criteria: SuccessCriteria
    previous: SuccessCriteria | None
    changes: tuple[CriteriaChange, ...]

    @property
    def is_override(self) -> bool:
        return self.criteria.account_id is not None


def _entry(criteria: SuccessCriteria, previous: SuccessCriteria | None) -> CriteriaVersionEntry:
    before = criteria_values(previous) if previous is not None else None
    return CriteriaVersionEntry(criteria, previous, tuple(criteria_changes(before, criteria_values(criteria))))


def criteria_history(*, outcome_type: OutcomeType, account_id: int | None = None) -> list[CriteriaVersionEntry]:
    """Every version of the type's definitions — the product's and every account's override (vendor
    eyes only) — newest first, each with its changes. ``account_id``: only that account's overrides
    and the product versions."""
    rows = SuccessCriteria.objects.filter(outcome_type=outcome_type).select_related("outcome_type", "account")
    if account_id is not None:
        rows = rows.filter(Q(account__isnull=True) | Q(account_id=account_id))
    products: list[SuccessCriteria] = []
    last_in_scope: dict[int | None, SuccessCriteria] = {}
    entries = []
    for criteria in rows.order_by("created_at", "id"):
        previous = last_in_scope.get(criteria.account_id)
        if previous is None and criteria.account_id is not None:
            previous = products[-1] if products else None
        entries.append(_entry(criteria, previous))
        last_in_scope[criteria.account_id] = criteria
        if criteria.account_id is None:
            products.append(criteria)
    return entries[::-1]


def criteria_changelog_for_account(
    *, account_id: int, outcome_type_ids: Iterable[int]
) -> dict[int, list[CriteriaVersionEntry]]:
    """The versions that applied to one account, per outcome type, newest first: the product
    definition's versions until the account's first override, then its override's versions (an
    override wins over every product version: later product versions do not apply to it). Each
    entry's changes are against the version in force for the account before it. Never another
    account's override."""
    rows = (
        SuccessCriteria.objects.filter(outcome_type_id__in=list(outcome_type_ids))
        .filter(Q(account__isnull=True) | Q(account_id=account_id))
        .select_related("outcome_type", "account")
        .order_by("outcome_type_id", "created_at", "id")
    )
    changelog: dict[int, list[CriteriaVersionEntry]] = {}
    in_force: dict[int, SuccessCriteria] = {}
    for criteria in rows:
        current = in_force.get(criteria.outcome_type_id)
        if criteria.account_id is None and current is not None and current.account_id is not None:
            continue  # the account's own definition already wins over the product one
        changelog.setdefault(criteria.outcome_type_id, []).append(_entry(criteria, current))
        in_force[criteria.outcome_type_id] = criteria
    return {type_id: entries[::-1] for type_id, entries in changelog.items()}


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    outcome_type: OutcomeType
    current: SuccessCriteria | None  # the product definition's latest version
    overrides: int  # accounts with an override of their own
    costs: tuple[OutcomeCost, ...]  # the delivery costs in force today, one per tier (vendor eyes only)


def catalogue_rows(*, today: date) -> list[CatalogueRow]:
    """Every outcome type with its current product definition, its overrides and its costs in force."""
    types = list(OutcomeType.objects.order_by("code"))
    current = criteria_current(account_ids=[], outcome_type_ids=[t.pk for t in types])
    overrides = dict(
        SuccessCriteria.objects.filter(account__isnull=False)
        .values("outcome_type_id")
        .annotate(n=Count("account_id", distinct=True))
        .values_list("outcome_type_id", "n")
    )
    costs: dict[int, dict[str, OutcomeCost]] = {}
    for cost in OutcomeCost.objects.filter(effective_from__lte=today).order_by("outcome_type_id", "effective_from"):
        costs.setdefault(cost.outcome_type_id, {})[cost.complexity] = cost  # the latest per tier wins
    return [
        CatalogueRow(
            outcome_type=t,
            current=current.get((None, t.pk)),
            overrides=overrides.get(t.pk, 0),
            costs=tuple(v for _, v in sorted(costs.get(t.pk, {}).items())),
        )
        for t in types
    ]


def outcome_type_get(*, code: str) -> OutcomeType:
    """One outcome type by its code, or 404."""
    outcome_type = OutcomeType.objects.filter(code=code).first()
    if outcome_type is None:
        raise Http404("No such outcome type.")
    return outcome_type
