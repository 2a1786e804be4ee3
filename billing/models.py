# Models of billing. Invoicing (contracts, invoices, credit notes) lives in billing.invoice_models;
# spend controls and the credit ledger have their own modules, re-exported the same way.
from billing.credit_models import CreditKind, CreditLedgerEntry  # noqa: F401
from billing.invoice_models import (  # noqa: F401
    ContractVersion,
    CreditNote,
    Invoice,
    InvoiceEventsPending,
    InvoiceLine,
    InvoiceStatus,
    NumberSeries,
)
from billing.spend_models import SpendAlert, SpendControl, SpendControlChange, SpendPeriod  # noqa: F401
