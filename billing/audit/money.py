"""The money panels of the audit pages: the dashboard's charges, the event's invoice.

Every amount here is the invoice's (billing.charges, the invoice lines), never a list price.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Account
from billing import caps, presenters
from billing.audit.panels import Panel
from billing.charges import charges_by_day
from billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus
from billing.ledger.models import ChargeState
from billing.spend.services import account_spend_status, month_end_projection
from outcomeportal.core.money import round_line
from outcomeportal.core.periods import period_at, period_days


def dashboard_charges_panel(*, account: Account, first_day: date, end_day: date) -> Panel:
    """The usage dashboard's money: the period's invoice as it stands, its parts, the cap, and the
    charges day by day. Every figure is the invoice's."""
    status = account_spend_status(account=account)
    charges = status.charges
    daily = charges_by_day(account=account, first_day=first_day, end_day=end_day)
    percent = None
    if status.cap is not None or status.cap_outcomes is not None:
        policy = caps.CapPolicy(cap_amount=status.cap, cap_outcomes=status.cap_outcomes)
        percent = caps.percent_used(policy, status.usage) or Decimal(0)
    parts = [
        (label, amount)
        for label, amount in (
            ("Fixed fees", charges.fixed),
            ("Outcome charges", charges.outcomes),
            ("Adjustments (price lock, minimum, commitment, credits beyond the plan)", charges.adjustments),
            ("Late outcomes of earlier months", charges.late),
            ("Top-ups", charges.topups),
            ("Credit notes applied", -charges.credits_applied),
        )
        if amount
    ]
    today = timezone.localtime(timezone.now(), ZoneInfo(account.timezone)).date()
    chart = {
        "days": [d.isoformat() for d in daily.days],
        "today": today.isoformat(),
        "currency": account.currency,
        "spend": [str(a) for a in daily.per_day],
        "cumulative": [str(a) for a in daily.so_far],
        **_against_the_cap(status, first_day=first_day, end_day=end_day, today=today),
    }
    return Panel(
        "billing/_dashboard_charges.html",
        {
            "account": account,
            "status": status,
            "charges": charges,
            "parts": parts,
            "percent": percent,
            "width": min(percent, Decimal(100)) if percent is not None else None,
            "chart": chart,
            "rows": list(zip(daily.days, daily.per_day, daily.so_far, strict=True)),
        },
    )


def _against_the_cap(status, *, first_day: date, end_day: date, today: date) -> dict:
    """When the chart shows the period under way: its money cap (a line) and the month-end amount its
    run rate projects (the Spend page's figure: billing.caps.projected_spend over the same charges)."""
    start, end = period_days(status.period)
    if not (first_day <= today < end_day and start <= today < end):
        return {"cap": None, "forecast": None}
    return {
        "cap": None if status.cap is None else str(round_line(status.cap, status.charges.currency)),
        "forecast": {
            "to_day": end - timedelta(days=1),  # json_script writes it as YYYY-MM-DD
            "amount": str(month_end_projection(status, today=today)),
        },
    }


def event_invoice_panel(*, principal, account: Account, event) -> Panel | None:
    """The event detail's "Invoice" card: the invoice and line it is billed on, with what it adds
    there, or the upcoming invoice it goes on."""
    context = {"account": account, "event": event, "line": None, "invoice": None, "draft": None}
    if event.invoice_line_id:
        line = InvoiceLine.objects.select_related("invoice").filter(pk=event.invoice_line_id).first()
        if line is not None:
            context.update(
                line=line, invoice=line.invoice, charge=presenters.line_event_charge(line, event, account.currency)
            )
            return Panel("billing/_event_invoice.html", context)
    charge = getattr(event, "charge", None)
    if charge is not None and charge.state in (ChargeState.ESTIMATED, ChargeState.RATED) and not event.shown_reason:
        period = period_at(event.occurred_at, account.timezone)
        context["draft"] = Invoice.objects.filter(account=account, period=period, status=InvoiceStatus.DRAFT).first()
        if context["draft"] is None:
            return None  # not priced yet: metering's own words say where it goes
    return Panel("billing/_event_invoice.html", context)
