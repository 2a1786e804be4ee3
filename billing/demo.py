"""seed_demo's billing part: contracts and spend controls given *before* events are ingested,
so that the pipeline itself decides training_window, pilot_free and cap_reached.

Registered with ``metering.demo.demo_hook_register("before_events", …)`` in ``billing.apps``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from accounts.models import Account
from billing.contract_term import months_after
from billing.invoices.catchup import invoices_catch_up
from billing.invoices.corrections import outcome_deduct
from billing.ledger.models import Charge, ChargeState
from billing.services import contract_version_create
from billing.spend.services import spend_controls_set
from metering.models import Event


def billing_demo_terms(context) -> None:
    """acme: platform fee with included resolutions, a yearly term whose notice date is three weeks
    away; kumo: training window then a pilot, a six-month trial term that ends; brightpath: a $600
    monthly cap; talentbridge: a 500-screening monthly cap (both pause)."""
    first_month = context.period_start.date().replace(day=1).isoformat()
    today = context.now.date()
    acme_term_starts = months_after(today + timedelta(days=51), -12)
    accounts = {a.external_id: a for a in Account.objects.filter(pk__in=context.accounts.values())}
    specs = {s.external_id: s for s in context.specs}
    if "acme" in accounts:
        contract_version_create(
            account=accounts["acme"],
            created_by="demo",
            document={
                "effective_from": first_month,
                "prices": [
                    {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"},
                    {"outcome_type": "qualified_lead", "model": "unit", "price": "4.00"},
                ],
                "platform_fee": {"name": "Platform fee", "amount": "1500.00", "included_outcomes": 1000},
                "term": {"starts": acme_term_starts.isoformat(), "months": 12, "notice_days": 30},
            },
        )
    if "kumo" in accounts:
        days = (context.now - context.period_start).days
        joined = context.period_start + timedelta(days=specs["kumo"].start_fraction * days)
        contract_version_create(
            account=accounts["kumo"],
            created_by="demo",
            document={
                "effective_from": first_month,
                "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
                "onboarding": {"starts": joined.date().isoformat(), "training_days": 14, "pilot_free_outcomes": 500},
                "term": {"starts": joined.date().isoformat(), "months": 6, "renewal": "none"},
            },
        )
    caps = {"brightpath": (Decimal("600.00"), None), "talentbridge": (None, 500)}
    for external_id, (money, outcomes) in caps.items():
        if external_id in accounts:
            spend_controls_set(
                account=accounts[external_id],
                monthly_cap=money,
                monthly_cap_outcomes=outcomes,
                alert_thresholds=[50, 80, 100],
                at_cap="pause",
                changed_by="demo",
                now=context.period_start,
            )
    context.progress(
        "billing: contracts for acme (platform fee, a yearly term) and kumo (training window, pilot, a trial term); "
        "monthly caps for brightpath ($600) and talentbridge (500 screenings)"
    )


def billing_demo_invoices(context) -> None:
    """After settlement: finalize every month of the demo that has ended (as the hourly job would
    have), so that only the current month is a draft and disputes land on invoiced outcomes."""
    result = invoices_catch_up(now=context.now)
    context.progress(
        f"billing: {result.finalized} invoices finalized for the closed months, {result.events_stamped} events billed"
    )


# Accounts whose outcomes the disputes demo files on (disputes.demo): deductions pick others.
_DISPUTED_DEMO_ACCOUNTS = ("acme", "northwind")


def billing_demo_deductions(context) -> None:
    """After the invoices: two outcomes deducted after their window (the customer came back) — one
    already invoiced (a credit note on the next invoice), one on the upcoming invoice (it leaves it)."""
    made = []
    for external_id in sorted(set(context.accounts) - set(_DISPUTED_DEMO_ACCOUNTS)):
        charges = Charge.objects.filter(
            account_id=context.accounts[external_id], attempt=False, reason="", amount__gt=0
        ).order_by("occurred_at", "event_id")
        for state, on_line in ((ChargeState.INVOICED, False), (ChargeState.RATED, True)):
            if state in made:
                continue
            charge = charges.filter(state=state, invoice_line__isnull=on_line).first()
            if charge is None:
                continue
            outcome_deduct(
                event=Event.objects.get(pk=charge.event_id),
                reason="The customer wrote back after the window: not resolved after all.",
                reported_at=context.now - timedelta(days=1),
                by="demo",
                now=context.now,
            )
            made.append(state)
    if made:
        context.progress(f"billing: {len(made)} outcomes deducted after their window (the customer came back)")
