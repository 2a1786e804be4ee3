"""Operations that change accounts, people and keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import (
    CUSTOMER_ROLES,
    Account,
    AccountLifecycleChange,
    ApiKey,
    ApiKeyScope,
    LifecycleStatus,
    User,
    Vendor,
)
from outcomeportal.core.currencies import is_currency

KEY_PREFIX = "op_"


class AccountExists(Exception):
    pass


class CurrencyInvalid(ValueError):
    """Not an active ISO 4217 currency code (the table is ``outcomeportal.core.currencies``)."""

    def __init__(self, code: str):
        super().__init__(f"{code!r} is not an active ISO 4217 currency code (e.g. USD, EUR, JPY).")
        self.code = code


def currency_check(*, code: str) -> str:
    """The code in upper case if ISO 4217 lists it as an active currency; else :class:`CurrencyInvalid`.

    ``QQQ`` (no such code), ``XXX`` (no currency), ``XTS`` (testing) and the metals are refused.
    """
    upper = code.upper()
    if not is_currency(upper):
        raise CurrencyInvalid(code)
    return upper


def api_key_hash(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is the right tool (no salt/stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def vendor_get_default() -> Vendor:
    vendor = Vendor.objects.order_by("pk").first()
    return vendor or Vendor.objects.create(name="OutcomePortal vendor")


def api_key_create(
    *, name: str, account: Account | None = None, role: str = "", created_by: User | None = None
) -> NewApiKey:
    """Create a vendor key (no account) or an account key carrying a customer role."""
    if account is None and role:
        raise ValueError("A vendor key carries no customer role.")
    if account is not None and role not in CUSTOMER_ROLES:
        raise ValueError(f"An account key needs one of the roles {', '.join(CUSTOMER_ROLES)}.")
    scope = ApiKeyScope.VENDOR if account is None else ApiKeyScope.ACCOUNT
    secret = f"{KEY_PREFIX}{'v' if account is None else 'a'}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        scope=scope,
        account=account,
        role=role,
        name=name,
        prefix=secret[:14],
        key_hash=api_key_hash(secret),
        created_by=created_by,
    )
    return NewApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def account_create(
    *,
    external_id: str,
    name: str,
    currency: str = "USD",
    timezone_name: str = "UTC",
    tier: str = "",
    industry: str = "",
    use_case: str = "",
) -> Account:
    """Create a customer account; the same ``external_id`` twice raises :class:`AccountExists`,
    a currency ISO 4217 does not list as active :class:`CurrencyInvalid`."""
    currency = currency_check(code=currency)
    try:
        with transaction.atomic():
            return Account.objects.create(
                vendor=vendor_get_default(),
                external_id=external_id,
                name=name,
                currency=currency,
                timezone=timezone_name,
                tier=tier,
                industry=industry,
                use_case=use_case,
            )
    except IntegrityError as exc:
        raise AccountExists(external_id) from exc


# --- The account lifecycle -----------------------------------------------------------------------

# Which moves are allowed, from the status of the last change (an account starts active). A churned
# account may come back (won back); a suspended one resumes or churns.
LIFECYCLE_MOVES: dict[str, frozenset[str]] = {
    LifecycleStatus.ACTIVE: frozenset({LifecycleStatus.SUSPENDED, LifecycleStatus.CHURNED}),
    LifecycleStatus.SUSPENDED: frozenset({LifecycleStatus.ACTIVE, LifecycleStatus.CHURNED}),
    LifecycleStatus.CHURNED: frozenset({LifecycleStatus.ACTIVE}),
}


class LifecycleMoveRefused(Exception):
    """The move is not in :data:`LIFECYCLE_MOVES`, or dated before the account's last change."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def account_lifecycle_set(
    *, account: Account, status: str, effective_at: datetime, changed_by: str, now: datetime | None = None
) -> AccountLifecycleChange:
    """Move the account to ``status`` from ``effective_at`` on, keeping the history.

    Refused (:class:`LifecycleMoveRefused`, nothing written): a status that is not a lifecycle
    status, a move the table does not allow from the last change's status (the same status again
    included), or a date before the last change's — history is appended, never rewritten.
    """
    if status not in LifecycleStatus.values:
        raise LifecycleMoveRefused("lifecycle_status_invalid", f"{status!r} is not one of {LifecycleStatus.values}.")
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).first()  # one change of an account at a time
        last = AccountLifecycleChange.objects.filter(account=account).order_by("-effective_at", "-id").first()
        current = last.status if last else LifecycleStatus.ACTIVE
        if status not in LIFECYCLE_MOVES[current]:
            raise LifecycleMoveRefused(
                "lifecycle_move_refused", f"An account that is {current} cannot become {status}."
            )
        if last is not None and effective_at < last.effective_at:
            raise LifecycleMoveRefused(
                "lifecycle_out_of_order",
                f"effective_at is before the last change ({last.effective_at.isoformat()}); history is not rewritten.",
            )
        return AccountLifecycleChange.objects.create(
            account=account,
            status=status,
            effective_at=effective_at,
            changed_by=changed_by,
            changed_at=now or timezone.now(),
        )
