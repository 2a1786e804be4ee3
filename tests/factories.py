"""Test data builders, one per concept. Plain functions: explicit and fast."""

from __future__ import annotations

import base64
import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from accounts.models import Account, Role, User
from accounts.services import account_create, api_key_create
from billing.ingestion import events_ingest
from metering.models import OutcomeType
from metering.services import outcome_type_create
from outcomeportal import signing

_seq = itertools.count(1)


def make_account(external_id: str | None = None, **kwargs) -> Account:
    n = next(_seq)
    return account_create(external_id=external_id or f"acct-{n}", name=kwargs.pop("name", f"Account {n}"), **kwargs)


def make_outcome_type(code: str = "resolved_conversation", unit_price: str = "0.99", **criteria) -> OutcomeType:
    criteria.setdefault("measurement_window_hours", 72)
    criteria.setdefault("one_per_session", True)
    return outcome_type_create(
        code=code,
        name=code.replace("_", " ").capitalize(),
        unit_price=Decimal(unit_price),
        value_type="labor_savings",
        **criteria,
    )


def make_user(role: str, account: Account | None = None, username: str | None = None) -> User:
    return User.objects.create_user(
        username=username or f"{role}-{next(_seq)}", password="pw-Secret-123", role=role, account=account
    )


def vendor_key() -> str:
    return api_key_create(name="test vendor").secret


def account_key(account: Account, role: str = Role.CUSTOMER_ADMIN) -> str:
    return api_key_create(name=f"test {role}", account=account, role=role).secret


def signing_key_new() -> tuple[str, str, str]:
    """A certificate signing key pair: (base64 private key, kid, base64 public key)."""
    private = Ed25519PrivateKey.generate()
    public = signing.public_raw(private)
    return signing.private_raw_b64(private), signing.key_id(public), base64.b64encode(public).decode()


def event_payload(
    account: Account | str,
    event_id: str | None = None,
    *,
    occurred_at: datetime | None = None,
    outcome_type: str = "resolved_conversation",
    **fields,
) -> dict:
    payload = {
        "event_id": event_id or f"evt-{next(_seq)}",
        "account": account if isinstance(account, str) else account.external_id,
        "outcome_type": outcome_type,
        "occurred_at": (occurred_at or timezone.now() - timedelta(hours=1)).isoformat(),
        "success_criteria_met": True,
    }
    payload.update(fields)
    return payload


def ingest(*payloads: dict, now: datetime | None = None):
    return events_ingest(raw_events=list(payloads), now=now)


def rollups_match_rows() -> bool:
    """Both rollups (kept by triggers) equal the aggregates of their rows, key by key: metering's
    daily rollup the events, the ledger's rollup the charges. And every charge's state agrees with
    its event's decision: estimated while pending, rated once billable, void once ruled out."""
    from django.db import connection

    from billing.ledger.models import ChargeRollup
    from metering.models import DailyRollup

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.account_id, (e.occurred_at AT TIME ZONE a.timezone)::date, e.outcome_type_id, "
            "e.status, e.non_billable_reason, count(*), sum(coalesce(e.cost_amount, 0)), "
            "count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = ''), "
            "count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'simple'), "
            "count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'moderate'), "
            "count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'complex') "
            "FROM metering_event e JOIN accounts_account a ON a.id = e.account_id GROUP BY 1, 2, 3, 4, 5"
        )
        events = {tuple(row[:5]): tuple(row[5:]) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT c.account_id, (c.occurred_at AT TIME ZONE a.timezone)::date, c.outcome_type_id, c.complexity, "
            "c.attempt, c.state, c.reason, count(*), sum(coalesce(c.amount, 0)), sum(coalesce(c.credits, 0)) "
            "FROM billing_charge c JOIN accounts_account a ON a.id = c.account_id GROUP BY 1, 2, 3, 4, 5, 6, 7"
        )
        charges = {tuple(row[:7]): tuple(row[7:]) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) FROM billing_charge c JOIN metering_event e ON e.id = c.event_id WHERE NOT ("
            "(c.state = 'estimated' AND e.status = 'pending') OR (c.state = 'void' AND e.status = 'non_billable') "
            "OR (c.attempt AND e.status = 'non_billable') OR (c.state NOT IN ('estimated', 'void') AND NOT c.attempt "
            "AND e.status = 'billable'))"
        )
        disagreeing = cursor.fetchone()[0]
    daily = {
        (r.account_id, r.day, r.outcome_type_id, r.status, r.non_billable_reason): (
            r.events,
            r.reported_cost,
            r.uncosted,
            r.uncosted_simple,
            r.uncosted_moderate,
            r.uncosted_complex,
        )
        for r in DailyRollup.objects.all()
        if r.events
    }
    ledger = {
        (r.account_id, r.day, r.outcome_type_id, r.complexity, r.attempt, r.state, r.reason): (
            r.charges,
            r.amount,
            r.credits,
        )
        for r in ChargeRollup.objects.all()
        if r.charges or r.amount or r.credits
    }
    return daily == events and ledger == charges and disagreeing == 0 and _months_match(daily, ledger)


def _months_match(daily: dict, ledger: dict) -> bool:
    """The month rollups, once folded (readers fold first), equal the day rollups summed by month."""
    from billing.ledger.models import ChargeMonthRollup
    from billing.ledger.month_rollup import month_rollups_fold
    from metering.models import MonthlyRollup

    month_rollups_fold()

    def by_month(rows: dict) -> dict:
        out: dict = {}
        for (account, day, *rest), sums in rows.items():
            key = (account, day.replace(day=1), *rest)
            out[key] = tuple(a + b for a, b in zip(out.get(key, (0,) * len(sums)), sums, strict=True))
        return {k: v for k, v in out.items() if any(v)}

    months = {
        (r.account_id, r.month, r.outcome_type_id, r.status, r.non_billable_reason): (
            r.events, r.reported_cost, r.uncosted, r.uncosted_simple, r.uncosted_moderate, r.uncosted_complex,
        )
        for r in MonthlyRollup.objects.all()
        if r.events
    }  # fmt: skip
    charge_months = {
        (r.account_id, r.month, r.outcome_type_id, r.complexity, r.attempt, r.state, r.reason): (
            r.charges, r.amount, r.credits,
        )
        for r in ChargeMonthRollup.objects.all()
        if r.charges or r.amount or r.credits
    }  # fmt: skip
    return months == by_month(daily) and charge_months == by_month(ledger)


def event_seen(event_id: str, account: Account | None = None):
    """The event as customers see it: with its charge (billing.ledger.selectors.attach_charges) —
    ``shown_status``, ``shown_reason``, ``amount``, ``credits``, ``currency``, ``invoice_line_id``."""
    from billing.ledger.selectors import attach_charges
    from metering.models import Event

    qs = Event.objects.select_related("account").filter(event_id=event_id)
    if account is not None:
        qs = qs.filter(account=account)
    return attach_charges([qs.get()])[0]
