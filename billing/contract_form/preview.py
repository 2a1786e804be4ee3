"""The contract page's preview: the plan in words, and the last closed month repriced."""

from __future__ import annotations

from datetime import datetime

from accounts.models import Account
from billing import presenters
from billing.contracts import Terms
from billing.whatif.preview import contract_preview
from outcomeportal.core.money import money_display


def contract_form_preview(*, account: Account, terms: Terms, now: datetime | None = None) -> dict:
    """What the page shows beside the form: :func:`billing.presenters.plan_sentences`, and the last
    closed month's invoice priced again under ``terms`` (:func:`billing.whatif.preview.contract_preview`)
    beside what it charged — None when no month is closed yet."""
    cur = account.currency
    month = None
    closed = contract_preview(account=account, terms=terms, months=1, now=now).months
    if closed:
        last = closed[-1]
        month = {
            "period": last.period,
            "invoice": last.invoice,
            "invoiced": money_display(last.actual_total, cur),
            "candidate": money_display(last.candidate_total, cur),
            "difference": ("+" if last.difference > 0 else "") + money_display(last.difference, cur),
            "lines": [(line.description, money_display(line.amount, cur)) for line in last.candidate.lines],
        }
    return {"sentences": presenters.plan_sentences(account=account, terms=terms, candidate=True), "month": month}
