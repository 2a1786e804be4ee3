"""Operations that change accounts, people and keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import CUSTOMER_ROLES, Account, ApiKey, ApiKeyScope, User, Vendor
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
