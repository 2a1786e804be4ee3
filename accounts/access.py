"""Who is asking, and what they may do: one answer for app users and API keys alike."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Perm(StrEnum):
    EVENTS_READ = "events.read"
    EVENTS_WRITE = "events.write"  # post events and signals
    ACCOUNTS_MANAGE = "accounts.manage"
    CATALOGUE_MANAGE = "catalogue.manage"  # outcome types, criteria, contracts
    COST_READ = "cost.read"  # the vendor's delivery cost; never a customer's
    DISPUTES_READ = "disputes.read"
    DISPUTES_FILE = "disputes.file"
    DISPUTES_RESOLVE = "disputes.resolve"
    SPEND_CONTROLS_WRITE = "spend_controls.write"
    INVOICES_READ = "invoices.read"
    KEYS_MANAGE = "keys.manage"  # account keys of one's own account
    PEOPLE_MANAGE = "people.manage"  # invite, change roles, deactivate: an account's people
    STAFF_MANAGE = "staff.manage"  # the same for vendor staff
    BILLING_DETAILS_WRITE = "billing_details.write"  # the buyer on one's own account's invoices
    RECEIVABLES_MANAGE = "receivables.manage"  # vendor side: payments, write-offs, deliveries
    INVOICES_CORRECT = "invoices.correct"  # vendor side: credit notes on final invoices, top-ups sold
    ALL_ACCOUNTS = "accounts.all"  # vendor side: see every account
    FINANCE_READ = "finance.read"  # the vendor's finance pages and API: attainment, margin, revenue
    LEDGER_VERIFY = "ledger.verify"  # verify the money log (billing.moneylog): vendor operators and keys


_CUSTOMER_READ = {Perm.EVENTS_READ, Perm.DISPUTES_READ, Perm.INVOICES_READ}

# The rule book of roles. "vendor" is the role of a vendor API key (the integrating platform).
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    "viewer": frozenset(_CUSTOMER_READ),
    "finance_admin": frozenset(_CUSTOMER_READ | {Perm.SPEND_CONTROLS_WRITE}),
    "customer_admin": frozenset(
        _CUSTOMER_READ | {Perm.DISPUTES_FILE, Perm.KEYS_MANAGE, Perm.PEOPLE_MANAGE, Perm.BILLING_DETAILS_WRITE}
    ),
    "vendor_support": frozenset(_CUSTOMER_READ | {Perm.ALL_ACCOUNTS, Perm.DISPUTES_RESOLVE, Perm.COST_READ}),
    "vendor_operator": frozenset(
        _CUSTOMER_READ
        | {
            Perm.ALL_ACCOUNTS,
            Perm.CATALOGUE_MANAGE,
            Perm.ACCOUNTS_MANAGE,
            Perm.COST_READ,
            Perm.KEYS_MANAGE,
            Perm.FINANCE_READ,
            Perm.PEOPLE_MANAGE,
            Perm.STAFF_MANAGE,
            Perm.BILLING_DETAILS_WRITE,
            Perm.RECEIVABLES_MANAGE,
            Perm.INVOICES_CORRECT,
            Perm.LEDGER_VERIFY,
        }
    ),
    # Vendor finance: reads every account and the finance area; changes nothing.
    "vendor_finance": frozenset(_CUSTOMER_READ | {Perm.ALL_ACCOUNTS, Perm.COST_READ, Perm.FINANCE_READ}),
    # The vendor's platform may invite an account's first admin, but neither manages keys nor
    # makes vendor staff: people who act for the vendor are invited by a vendor operator.
    "vendor": frozenset(set(Perm) - {Perm.KEYS_MANAGE, Perm.STAFF_MANAGE}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a view or endpoint, whether a signed-in user or an API key."""

    role: str
    account_id: int | None  # None on the vendor side
    label: str
    api_key_id: int | None = None
    user_id: int | None = None

    # DRF and Django ask these of request.user.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_vendor(self) -> bool:
        return self.account_id is None

    def can(self, perm: Perm) -> bool:
        return perm in ROLE_PERMS.get(self.role, frozenset())

    def sees_account(self, account_id: int) -> bool:
        return self.is_vendor or self.account_id == account_id
