# Models of billing. Invoicing (contracts, invoices, credit notes) lives in billing.invoices.models;
# the charge ledger, the money log, spend controls and the credit ledger have their own modules, re-exported
# the same way.
from billing.audit.models import AuditColumns, AuditView  # noqa: F401
from billing.credits.models import CreditKind, CreditLedgerEntry  # noqa: F401
from billing.delivery.models import Delivery, DeliveryKind, DeliveryStatus  # noqa: F401
from billing.invoices.models import (  # noqa: F401
    ContractVersion,
    CreditNote,
    Invoice,
    InvoiceEventsPending,
    InvoiceLine,
    InvoiceStatus,
    NumberSeries,
    PaymentStatus,
    TaxRate,
)
from billing.ledger.models import Charge, ChargeReason, ChargeRollup, ChargeState  # noqa: F401
from billing.moneylog.models import MoneyLogEntry, MoneyLogPending  # noqa: F401
from billing.plans.models import Plan, PlanMember, PlanVersion  # noqa: F401
from billing.receivables.models import (  # noqa: F401
    InvoiceReminder,
    Payment,
    PaymentSource,
    PaymentStatusChange,
    PaymentWebhookEvent,
)
from billing.spend.models import SpendAlert, SpendControl, SpendControlChange, SpendPeriod  # noqa: F401
