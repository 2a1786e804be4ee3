"""Test data builders, one per concept. Plain functions: explicit and fast."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Account, Role, User
from accounts.services import account_create, api_key_create
from billing.ingestion import events_ingest
from metering.models import OutcomeType
from metering.services import outcome_type_create

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
