# Models of billing. Invoicing (contracts, invoices, credit notes) lives in billing.invoice_models;
# spend controls may add theirs here or in their own module, re-exported the same way.
from billing.invoice_models import (  # noqa: F401
    ContractVersion,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    NumberSeries,
)
from billing.spend_models import SpendAlert, SpendControl, SpendControlChange, SpendPeriod  # noqa: F401
