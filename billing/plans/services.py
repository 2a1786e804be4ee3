"""Plans' use cases: create a plan, publish a version, move accounts onto it, change a member's
overrides, take an account off. Each writes the contract versions it implies (through
:func:`billing.services.contract_version_create`, recorded in the money log like any contract
change) in the same transaction, or nothing at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.contracts import TermsInvalid
from billing.invoices.models import ContractVersion
from billing.plans.documents import member_document, plan_document_parse
from billing.plans.models import Plan, PlanMember, PlanVersion
from billing.services import contract_version_create
from metering.models import OutcomeType
from outcomeportal.core.periods import period_add, period_at, period_first_day


class PlanRefused(ValueError):
    """A plan change that cannot be made: ``fields`` maps the input at fault to messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class PlanChange:
    version: PlanVersion | None
    contracts: list[ContractVersion]  # one per account concerned, each from its next period


def next_period_start(account: Account, now: datetime) -> date:
    """The first day of the account's next period, in its zone: where a plan change takes effect."""
    return period_first_day(period_add(period_at(now, account.timezone), 1))


def _known_types() -> set[str]:
    return set(OutcomeType.objects.values_list("code", flat=True))


def _pinned(overrides: dict, starts: date) -> dict:
    """A customer's onboarding or price lock starts when it was agreed, not again at every plan change."""
    out = dict(overrides)
    for key in ("onboarding", "price_lock"):
        if isinstance(out.get(key), dict) and not out[key].get("starts"):
            out[key] = {**out[key], "starts": starts.isoformat()}
    return out


def _with_own_term(account: Account, overrides: dict) -> dict:
    """An account's contract term is its own deal: it moves onto a plan with the account (an
    override), unless the overrides say otherwise."""
    if "term" in overrides:
        return overrides
    latest = ContractVersion.objects.filter(account=account).order_by("-version").values_list("terms", flat=True)
    term = (latest.first() or {}).get("term")
    return {**overrides, "term": term} if term else overrides


def _contract(member: PlanMember, version: PlanVersion, *, now: datetime, by: str) -> ContractVersion:
    account = member.account
    starts = next_period_start(account, now)
    try:
        document = member_document(
            version.document, member.overrides, effective_from=starts, known_types=_known_types()
        )
    except TermsInvalid as exc:
        raise PlanRefused({f"{account.external_id}: {k}": v for k, v in exc.fields.items()}) from None
    return contract_version_create(
        account=account, document=document, created_by=f"plan {version.plan.code} v{version.version} · {by}"
    )


def plan_create(
    *, code: str, name: str, document: object, currency: str = "USD", description: str = "", by: str = "", now=None
) -> Plan:
    """A new plan with its first version (no member yet)."""
    now = now or timezone.now()
    if Plan.objects.filter(code=code).exists():
        raise PlanRefused({"code": [f"A plan {code!r} exists already."]})
    try:
        normalised = plan_document_parse(document, known_types=_known_types())
    except TermsInvalid as exc:
        raise PlanRefused(exc.fields) from None
    with transaction.atomic():
        plan = Plan.objects.create(code=code, name=name, description=description, currency=currency, created_at=now)
        PlanVersion.objects.create(
            plan=plan, version=1, document=normalised, note="First version", created_at=now, created_by=by
        )
    return plan


def plan_current(plan: Plan) -> PlanVersion:
    return plan.versions.order_by("-version").first()


def plan_publish(*, plan: Plan, document: object, note: str = "", by: str = "", now=None) -> PlanChange:
    """A new version of the plan; every member gets a contract version from its next period."""
    now = now or timezone.now()
    try:
        normalised = plan_document_parse(document, known_types=_known_types())
    except TermsInvalid as exc:
        raise PlanRefused(exc.fields) from None
    with transaction.atomic():
        locked = Plan.objects.select_for_update().get(pk=plan.pk)  # one version number at a time
        last = plan_current(locked)
        version = PlanVersion.objects.create(
            plan=locked, version=last.version + 1, document=normalised, note=note, created_at=now, created_by=by
        )
        members = PlanMember.objects.filter(plan=locked).select_related("account", "plan").order_by("account_id")
        contracts = [_contract(m, version, now=now, by=by) for m in members]
    return PlanChange(version, contracts)


def plan_assign(
    *, plan: Plan, accounts: list[Account], overrides: dict | None = None, by: str = "", now=None
) -> PlanChange:
    """Move ``accounts`` onto the plan (from another plan, or from a contract of their own), each with
    ``overrides`` (none: the plan as it is); each gets a contract version from its next period."""
    now = now or timezone.now()
    if not isinstance(overrides or {}, dict):
        raise PlanRefused({"overrides": ["A JSON object: the contract fields this account has its own way."]})
    if foreign := [a.external_id for a in accounts if a.currency != plan.currency]:
        raise PlanRefused({"accounts": [f"Not billed in {plan.currency}, the plan's currency: {', '.join(foreign)}."]})
    with transaction.atomic():
        version = plan_current(Plan.objects.select_for_update().get(pk=plan.pk))
        contracts = []
        for account in accounts:
            starts = next_period_start(account, now)
            member, _ = PlanMember.objects.update_or_create(
                account=account,
                defaults={
                    "plan": plan,
                    "overrides": _pinned(_with_own_term(account, overrides or {}), starts),
                    "since": starts,
                    "updated_at": now,
                    "updated_by": by,
                },
            )
            contracts.append(_contract(member, version, now=now, by=by))
    return PlanChange(None, contracts)


def member_overrides_set(*, member: PlanMember, overrides: object, by: str = "", now=None) -> ContractVersion:
    """Change one member's overrides; its contract follows from its next period."""
    now = now or timezone.now()
    if not isinstance(overrides, dict):
        raise PlanRefused({"overrides": ["A JSON object: the contract fields this account has its own way."]})
    with transaction.atomic():
        member = PlanMember.objects.select_for_update().select_related("account", "plan").get(pk=member.pk)
        member.overrides = _pinned(overrides, next_period_start(member.account, now))
        member.updated_at, member.updated_by = now, by
        member.save(update_fields=["overrides", "updated_at", "updated_by"])
        return _contract(member, plan_current(member.plan), now=now, by=by)


def member_leave(*, member: PlanMember) -> None:
    """The account stops following the plan; its contract stays as the plan last wrote it (edit it on
    its contract page from then on)."""
    PlanMember.objects.filter(pk=member.pk).delete()
