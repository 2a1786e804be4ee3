"""The invoice document's inputs read from settings and rows: seller, buyer, tax rule.

The ORM edge of :mod:`billing.invoices.document`: services call these and hand the plain values
to the pure functions there.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import Account, Vendor
from billing.invoices.document import Party, TaxRule, address_lines, tax_rule_choose
from billing.invoices.models import TaxRate


def seller_party(*, vendor_id: int | None = None) -> Party:
    """The vendor as the settings describe it (``SELLER_*``; docs/configuration.md)."""
    name = settings.SELLER_LEGAL_NAME
    if not name:
        vendor = Vendor.objects.filter(pk=vendor_id).first() if vendor_id else Vendor.objects.order_by("pk").first()
        name = vendor.name if vendor else ""
    return Party(
        name=name,
        address=address_lines(settings.SELLER_ADDRESS),
        country=settings.SELLER_COUNTRY.upper(),
        tax_id=settings.SELLER_TAX_ID,
        emails=(settings.SELLER_EMAIL,) if settings.SELLER_EMAIL else (),
        payment_instructions=settings.SELLER_PAYMENT_INSTRUCTIONS.replace("\\n", "\n"),
    )


def buyer_party(*, account: Account) -> Party:
    """The account's billing details (its name where no billing name is set)."""
    return Party(
        name=account.billing_name or account.name,
        address=address_lines(account.billing_address),
        country=account.billing_country,
        tax_id=account.tax_id,
        emails=tuple(account.billing_emails or ()),
    )


def _rule(row: TaxRate | None) -> TaxRule | None:
    if row is None:
        return None
    return TaxRule(rate=row.rate, name=row.name, reverse_charge=row.reverse_charge, note=row.note)


def tax_rule_for(*, account: Account) -> TaxRule | None:
    """The operators' rule for the account, else for its billing country, else none."""
    rows = {
        ("account" if r.account_id else "country"): r
        for r in TaxRate.objects.filter(account_id=account.pk)
        | TaxRate.objects.filter(account__isnull=True, country=(account.billing_country or "").upper() or "-")
    }
    return tax_rule_choose(account_rule=_rule(rows.get("account")), country_rule=_rule(rows.get("country")))
