"""What billing tells metering at ingestion: contract prices, and the onboarding allowances.

Registered at start-up (``billing.apps``): metering calls these inside its ingestion
transaction, with no import of billing (apps stay one-way).

* :func:`contract_pricer` — the provisional price of each candidate outcome under the
  contract governing its period (the exact amount is recorded on the final invoice).
* :func:`onboarding_hook` — outcomes inside the free training window become non-billable
  ``training_window``; the first N outcomes of a pilot become ``pilot_free``. The pilot
  count is taken under a per-account advisory lock, so concurrent batches never hand out
  more than N free outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Sum

from accounts import refcache
from accounts.models import Account
from billing.contracts import Terms, terms_load, version_for_period
from billing.invoices.models import ContractVersion
from billing.pricing import unit_estimate
from metering.ingest import Candidate
from metering.models import DailyRollup
from metering.pricing import Price, PriceRequest
from outcomeportal.core.periods import period_of

_PILOT_LOCK = 0x0B111  # advisory lock namespace: (namespace, account id)


@dataclass(slots=True)
class _Contracts:
    """An account's time zone and contract versions, and the terms found so far for its periods."""

    tzinfo: ZoneInfo
    versions: list  # (effective_from, version, ContractVersion), as version_for_period takes them
    by_month: dict[tuple[int, int], Terms | None]


def terms_lookup(account_ids: set[int]):
    """``terms_at(account_id, instant)`` and each account's :class:`_Contracts`, for the batch's accounts.

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


def _contracts_read(account_ids: set[int]) -> dict[int, _Contracts]:
    versions: dict[int, list] = {}
    for v in ContractVersion.objects.filter(account_id__in=account_ids):
        versions.setdefault(v.account_id, []).append((v.effective_from, v.version, v))
    return {
        pk: _Contracts(ZoneInfo(zone), versions.get(pk, []), {})
        for pk, zone in Account.objects.filter(pk__in=account_ids).values_list("pk", "timezone")
    }


def contract_pricer(requests: Sequence[PriceRequest]) -> list[Price]:
    terms_at, _ = terms_lookup({r.account_id for r in requests})
    # Most outcomes of a batch share (contract, type, complexity, value): price each combination
    # once. The value is in the key because gain-share prices depend on it (equal values, such as
    # 20.5 and 20.50, hash alike and price alike).
    estimates: dict[tuple, Price] = {}
    out = []
    for r in requests:
        terms = terms_at(r.account_id, r.occurred_at)
        key = (id(terms), r.outcome_type_id, r.complexity, r.value_amount, r.default_unit_price)
        price = estimates.get(key)
        if price is None:
            amount, credits = unit_estimate(
                terms, r.outcome_type_code, r.complexity, r.value_amount, r.default_unit_price
            )
            price = estimates[key] = Price(amount, credits)
        out.append(price)
    return out


def onboarding_hook(*, candidates: Sequence[Candidate], now: datetime) -> dict[int, dict]:
    if not candidates:
        return {}
    terms_at, contracts = terms_lookup({c.account_id for c in candidates})
    ruled_out: dict[int, dict] = {}
    pilot: dict[int, list[Candidate]] = {}
    pilot_size: dict[int, int] = {}
    for c in candidates:  # in occurrence order (metering's promise)
        if c.status == "non_billable":  # an attempt that did not succeed: no allowance to give
            continue
        terms = terms_at(c.account_id, c.occurred_at)
        ob = terms.onboarding if terms else None
        if ob is None:
            continue
        local_day = c.occurred_at.astimezone(contracts[c.account_id].tzinfo).date()  # it has terms: it was read
        if local_day < ob.starts:
            continue
        if ob.training_until is not None and local_day < ob.training_until:
            ruled_out[c.pk] = {"in_training_window": True}
        elif ob.pilot_free_outcomes:
            pilot.setdefault(c.account_id, []).append(c)
            pilot_size[c.account_id] = ob.pilot_free_outcomes
    for account_id in sorted(pilot):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PILOT_LOCK, account_id])
        used = (
            DailyRollup.objects.filter(account_id=account_id, non_billable_reason="pilot_free").aggregate(
                n=Sum("events")
            )["n"]
            or 0
        )
        left = max(pilot_size[account_id] - used, 0)
        for c in pilot[account_id][:left]:
            ruled_out[c.pk] = {"pilot_free": True}
    return ruled_out
