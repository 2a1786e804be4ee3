""" "You are not charged when…": what each outcome type counts and costs for an account."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Account

# Statuses whose amount the customer is charged (or will be, on this period's invoice).
# A disputed event stays charged until the dispute is resolved; a credited one is not.
from billing.audit.table import outcome_types_for
from metering.models import OutcomeType, SuccessCriteria
from metering.selectors import CriteriaVersionEntry, criteria_changelog_for_account, criteria_current, criteria_for

# --- "You are not charged when…" ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeTerms:
    """What one outcome type costs this account and what makes it count."""

    outcome_type: OutcomeType
    criteria: SuccessCriteria
    is_override: bool  # the account's enterprise definition, not the product one
    # The versions that applied to this account (the product's until its own override, then its
    # own), newest first, each with what changed: the definition's changelog. Never another account's.
    changelog: tuple[CriteriaVersionEntry, ...] = ()


def outcome_types_defined_for(*, account: Account) -> list[OutcomeType]:
    """The outcome types an account can be charged for: every active type of the catalogue (a type its
    contract does not price is charged at its catalogue price) and any other it has events of (a
    retired type still on its invoices) — those it has events of first, then by name."""
    used = {t.pk: t for t in outcome_types_for(account=account)}
    types = {**{t.pk: t for t in OutcomeType.objects.filter(active=True)}, **used}
    return sorted(types.values(), key=lambda t: (t.pk not in used, t.name, t.pk))


def charging_terms_for(*, account: Account) -> list[OutcomeTerms]:
    """What counts, per outcome type the account can be charged for (:func:`outcome_types_defined_for`)
    with a definition in force for it — the one list of definitions every page shows."""
    types = outcome_types_defined_for(account=account)
    type_ids = [t.pk for t in types]
    current = criteria_current(account_ids=[account.pk], outcome_type_ids=type_ids)
    changelogs = criteria_changelog_for_account(account_id=account.pk, outcome_type_ids=type_ids)
    terms = []
    for outcome_type in types:
        criteria = criteria_for(current, account_id=account.pk, outcome_type_id=outcome_type.pk)
        if criteria is not None:
            override = criteria.account_id is not None
            changelog = tuple(changelogs.get(outcome_type.pk, ()))
            terms.append(
                OutcomeTerms(outcome_type=outcome_type, criteria=criteria, is_override=override, changelog=changelog)
            )
    return terms
