"""Operations that change accounts, people and keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
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


def account_min_attainment_set(*, account: Account, min_attainment: Decimal | None) -> None:
    """Set the customer's minimum value threshold (a ratio 0..1, None: none known), which the
    finance area's churn scenario reads. Refused (ValueError, nothing written) outside 0..1."""
    if min_attainment is not None and not (0 <= min_attainment <= 1):
        raise ValueError("A ratio from 0 to 1.")
    Account.objects.filter(pk=account.pk).update(min_attainment=min_attainment)
    account.min_attainment = min_attainment


BILLING_DETAIL_FIELDS = ("billing_name", "billing_address", "billing_country", "tax_id", "billing_emails")
MAX_BILLING_EMAILS = 10


class BillingDetailsInvalid(ValueError):
    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def account_billing_details_update(*, account: Account, **values) -> Account:
    """Change the buyer details printed on the account's next invoices (never on issued ones).

    Only the fields given change. Raises :class:`BillingDetailsInvalid` with field → messages.
    """
    unknown = set(values) - set(BILLING_DETAIL_FIELDS)
    if unknown:
        raise BillingDetailsInvalid({k: ["Not a billing detail."] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    if "billing_country" in values:
        country = (values["billing_country"] or "").strip().upper()
        if country and not (len(country) == 2 and country.isalpha() and country.isascii()):
            errors["billing_country"] = ["A two-letter ISO 3166-1 country code, e.g. DE, or empty."]
        values["billing_country"] = country
    if "billing_emails" in values:
        emails = [e.strip().lower() for e in values["billing_emails"] or [] if e and e.strip()]
        bad = [e for e in emails if not _email_ok(e)]
        if bad:
            errors["billing_emails"] = [f"Not an email address: {', '.join(bad)}."]
        elif len(emails) > MAX_BILLING_EMAILS:
            errors["billing_emails"] = [f"At most {MAX_BILLING_EMAILS} addresses."]
        values["billing_emails"] = list(dict.fromkeys(emails))
    for name, limit in (("billing_name", 200), ("tax_id", 64), ("billing_address", 1000)):
        if name in values:
            values[name] = (values[name] or "").strip()
            if len(values[name]) > limit:
                errors[name] = [f"At most {limit} characters."]
    if errors:
        raise BillingDetailsInvalid(errors)
    if values:
        Account.objects.filter(pk=account.pk).update(**values)
        for key, value in values.items():
            setattr(account, key, value)
    return account


def _email_ok(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True
