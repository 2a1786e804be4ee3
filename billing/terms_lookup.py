"""Which contract terms govern an instant, for a batch's accounts — read once, kept until they change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from accounts import refcache
from accounts.models import Account
from billing.contracts import Terms, terms_load, version_for_period
from billing.invoices.models import ContractVersion
from outcomeportal.core.periods import period_of


@dataclass(slots=True)
class Contracts:
    """An account's time zone and contract versions, and the terms found so far for its periods."""

    tzinfo: ZoneInfo
    currency: str
    versions: list  # (effective_from, version, ContractVersion), as version_for_period takes them
    by_month: dict[tuple[int, int], Terms | None]


def terms_lookup(account_ids: set[int]):
    """``terms_at(account_id, instant)`` and each account's :class:`Contracts`, for the batch's accounts.

    Each account's contracts are read once and kept in the process until any account or contract
    version changes (accounts.refcache): the batches that follow name the same accounts.
    """
    known = refcache.kept("billing.ingestion.contracts", account_ids, _contracts_read)

    def terms_at(account_id: int, at: datetime) -> Terms | None:
        contracts = known.get(account_id)
        if contracts is None or not contracts.versions:  # no contract at all: nothing to find in any period
            return None
        local = at.astimezone(contracts.tzinfo)
        month = (local.year, local.month)
        if month not in contracts.by_month:
            version = version_for_period(contracts.versions, period_of(local))
            contracts.by_month[month] = terms_load(version.terms) if version else None
        return contracts.by_month[month]

    return terms_at, known


def _contracts_read(account_ids: set[int]) -> dict[int, Contracts]:
    versions: dict[int, list] = {}
    for v in ContractVersion.objects.filter(account_id__in=account_ids):
        versions.setdefault(v.account_id, []).append((v.effective_from, v.version, v))
    return {
        pk: Contracts(ZoneInfo(zone), currency, versions.get(pk, []), {})
        for pk, zone, currency in Account.objects.filter(pk__in=account_ids).values_list("pk", "timezone", "currency")
    }
