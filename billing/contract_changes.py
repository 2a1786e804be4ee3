"""Contract changes: each writes new contract versions; no version is ever edited.

A document takes effect on its ``effective_from``. A version whose date falls inside a month that
another version already governs takes effect from the next whole month (the default,
``"mid_period": "next_period"``), so a month is priced under one contract. With
``"mid_period": "prorate"`` the change takes effect at once: two versions are written in one
transaction — for the month of the change, the new terms from the month's first day with the fees
prorated by days between the two contracts (:func:`billing.pricing.proration.prorated_terms`; the
invoice states each contract's share), and from the next month the new terms as they are.
"""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.contracts import Terms, TermsInvalid, terms_json, terms_parse
from billing.invoices.models import ContractVersion, Invoice, InvoiceStatus
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from billing.pricing.proration import ProrationRefused, prorated_terms
from billing.selectors import contract_for_period
from metering.models import OutcomeType
from outcomeportal.core.periods import period_add, period_first_day, period_of

MID_PERIOD = ("next_period", "prorate")


def contract_change(*, account: Account, document: dict, created_by: str = "") -> ContractVersion:
    """Write the document as the account's next contract version — or, with ``"mid_period":
    "prorate"`` and a date inside a month, as the two versions of a prorated change (see the
    module); returns the version that governs the month of ``effective_from``.

    Raises :class:`billing.contracts.TermsInvalid` with field → messages.
    """
    document = dict(document) if isinstance(document, dict) else document
    mode = document.pop("mid_period", "next_period") if isinstance(document, dict) else "next_period"
    if mode not in MID_PERIOD:
        raise TermsInvalid({"mid_period": [f"One of {', '.join(MID_PERIOD)}."]})
    terms = terms_parse(document, known_types=set(OutcomeType.objects.values_list("code", flat=True)))
    if mode == "next_period" or terms.effective_from.day == 1:
        with transaction.atomic():
            return _version_write(account, terms, created_by)
    period = period_of(terms.effective_from)
    with transaction.atomic():
        previous_version, previous = contract_for_period(account_id=account.pk, period=period)
        if previous is None or previous_version.effective_from > period_first_day(period):
            raise TermsInvalid({"mid_period": ["No contract governs this month from its first day: the new one "
                                               "governs it from its own date already; use next_period."]})  # fmt: skip
        if Invoice.objects.filter(account=account, period=period, status=InvoiceStatus.FINALIZED).exists():
            raise TermsInvalid({"effective_from": [f"The invoice of {period} is final: a change takes effect "
                                                   "inside an open month only."]})  # fmt: skip
        try:
            month = prorated_terms(previous, terms, changed_on=terms.effective_from, currency=account.currency)
        except ProrationRefused as refused:
            raise TermsInvalid({"mid_period": [str(refused)]}) from refused
        current = _version_write(account, month, created_by)
        _version_write(account, replace(terms, effective_from=period_first_day(period_add(period, 1))), created_by)
    return current


def _version_write(account: Account, terms: Terms, created_by: str) -> ContractVersion:
    """The account's next version (in the caller's transaction), recorded in the money log."""
    # Serialise versioning per account: lock the account's latest version row, if any.
    last = ContractVersion.objects.select_for_update().filter(account=account).order_by("-version").first()
    version = ContractVersion.objects.create(
        account=account,
        version=(last.version if last else 0) + 1,
        effective_from=terms.effective_from,
        terms=terms_json(terms),
        created_at=timezone.now(),
        created_by=created_by,
    )
    row_act_record(kind=kinds.CONTRACT_VERSION_CREATED, view="contract_version", pk=version.pk, account_id=account.pk)
    return version
