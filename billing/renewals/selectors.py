"""Every account's contract term as last agreed, where it stands today, and what needs a decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from accounts.models import Account, LifecycleStatus
from accounts.selectors import account_statuses_at
from billing.contract_term import NOTICE_SOON_DAYS, TermState, term_state
from billing.contracts import terms_load
from billing.invoices.models import ContractVersion


@dataclass(frozen=True, slots=True)
class RenewalRow:
    account: Account
    state: TermState

    @property
    def decision_on(self):
        """The day something happens unless someone acts: the notice deadline (renewing), the end (not)."""
        return self.state.notice_by if self.state.renews else self.state.last_day


@dataclass(frozen=True, slots=True)
class Renewals:
    rows: list[RenewalRow]  # ended first, then by the day of the next decision
    without_term: list[Account]  # accounts with a contract that states no term
    soon_days: int = NOTICE_SOON_DAYS

    @property
    def soon(self) -> list[RenewalRow]:
        return [r for r in self.rows if r.state.notice_soon(self.soon_days)]

    @property
    def ended(self) -> list[RenewalRow]:
        return [r for r in self.rows if r.state.ended]


def renewals(*, now: datetime) -> Renewals:
    """The latest contract version of every account not churned (one query), its term on the account's
    local today. Accounts without a contract are left out: they pay catalogue prices, under no term."""
    statuses = account_statuses_at(at=now)
    latest = (
        ContractVersion.objects.order_by("account_id", "-version")
        .distinct("account_id")
        .select_related("account")
        .only("terms", "account")
    )
    rows, without = [], []
    for version in latest:
        account = version.account
        if statuses.get(account.pk) == LifecycleStatus.CHURNED:
            continue
        term = terms_load(version.terms).term
        if term is None:
            without.append(account)
            continue
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        rows.append(RenewalRow(account, term_state(term, on=today)))
    rows.sort(key=lambda r: (not r.state.ended, r.decision_on or r.state.last_day, r.account.name))
    return Renewals(rows=rows, without_term=sorted(without, key=lambda a: a.name))
