"""Which contract version governs an instant, and whether the account was active then, for a batch's
accounts — read once, kept until they change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from accounts import refcache
from accounts.models import Account, AccountLifecycleChange, LifecycleStatus
from billing.contracts import Terms, terms_load, version_for_period
from billing.invoices.models import ContractVersion
from outcomeportal.core.periods import period_of


@dataclass(slots=True)
class Contracts:
    """An account's time zone, currency, contract versions and lifecycle moves, and the versions
    found so far per month."""

    tzinfo: ZoneInfo
    currency: str
    versions: list  # (effective_from, version, ContractVersion), as version_for_period takes them
    by_month: dict[tuple[int, int], tuple[int | None, Terms | None]]
    lifecycle: tuple[tuple[datetime, str], ...] = ()  # (effective_at, status), oldest first; none: active


class ContractsAt:
    """The contracts of a batch's accounts: which version (id, terms) governs an instant's period."""

    def __init__(self, known: dict[int, Contracts]):
        self.known = known

    def __getitem__(self, account_id: int) -> Contracts:
        return self.known[account_id]

    def version(self, account_id: int, at: datetime) -> tuple[int | None, Terms | None]:
        """(contract version id, its terms) governing the period of ``at`` in the account's zone."""
        contracts = self.known.get(account_id)
        if contracts is None or not contracts.versions:  # no contract at all: nothing to find in any period
            return None, None
        local = at.astimezone(contracts.tzinfo)
        month = (local.year, local.month)
        found = contracts.by_month.get(month)
        if found is None:
            version = version_for_period(contracts.versions, period_of(local))
            found = contracts.by_month[month] = (version.pk, terms_load(version.terms)) if version else (None, None)
        return found

    def terms(self, account_id: int, at: datetime) -> Terms | None:
        return self.version(account_id, at)[1]

    def status(self, account_id: int, at: datetime) -> str:
        """The account's lifecycle status at the instant ``at`` (``active`` before any move)."""
        status = LifecycleStatus.ACTIVE
        for effective_at, moved_to in self.known[account_id].lifecycle:
            if effective_at > at:
                break
            status = moved_to
        return status


def terms_lookup(account_ids: set[int]) -> ContractsAt:
    """The contracts of these accounts. Each account's are read once and kept in the process until
    any account or contract version changes (accounts.refcache): the batches that follow name the
    same accounts."""
    return ContractsAt(refcache.kept("billing.ingestion.contracts", account_ids, _contracts_read))


def _contracts_read(account_ids: set[int]) -> dict[int, Contracts]:
    versions: dict[int, list] = {}
    for v in ContractVersion.objects.filter(account_id__in=account_ids):
        versions.setdefault(v.account_id, []).append((v.effective_from, v.version, v))
    moves: dict[int, list] = {}
    for account_id, effective_at, status in (
        AccountLifecycleChange.objects.filter(account_id__in=account_ids)
        .order_by("effective_at", "id")
        .values_list("account_id", "effective_at", "status")
    ):
        moves.setdefault(account_id, []).append((effective_at, status))
    return {
        pk: Contracts(ZoneInfo(zone), currency, versions.get(pk, []), {}, tuple(moves.get(pk, ())))
        for pk, zone, currency in Account.objects.filter(pk__in=account_ids).values_list("pk", "timezone", "currency")
    }
