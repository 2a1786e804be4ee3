"""Prepaid credits: the balance, its ledger, top-up packs and credit grants.

An account on a contract priced in credits holds two kinds of credits:

* **plan credits** — the contract's ``platform_fee.included_credits`` each month, plus what
  rolled over (``rollover: true``) or nothing (they expire at the month's end);
* **prepaid credits** — top-up packs bought in the app, dispute credits and adjustments.
  They never expire while the account is active.

Pricing (:mod:`billing.pricing`) draws each month's usage from the plan credits first, then the
prepaid ones, and bills what is left as overage (``Carry`` hands both balances on).

The ledger (:class:`~billing.credits.models.CreditLedgerEntry`) has a row for every change, and
its sum is the balance:

* ``topup``, ``dispute_credit``, ``adjustment`` — posted when they happen (services below),
  on the period of the account's open draft invoice (:func:`billing.services.invoice_open_locked`);
  a top-up's price is a *Top-up* line of that same invoice;
* ``bundle_grant``, ``usage``, ``expiry``, ``rollover`` (a 0-credit note) — posted by
  :func:`billing.services.invoice_finalize`, exactly once, from the figures the invoice was
  priced with.

Services write (``topup_buy``, ``credits_grant``); selectors read (``credit_balance``,
``credit_ledger``, ``credit_summary``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Account, LifecycleStatus
from accounts.selectors import account_status_at
from billing.contracts import Terms
from billing.credits.models import PREPAID_KINDS, CreditKind, CreditLedgerEntry
from billing.invoices.models import Invoice
from billing.ledger.models import ChargeRollup, charge_class
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from billing.pricing import Carry
from billing.selectors import contract_for_period
from billing.services import invoice_draft_refresh, invoice_open_locked
from outcomeportal.core.cursors import keyset_decode, keyset_encode
from outcomeportal.core.money import ZERO, money_display, price_display, round_line, to_decimal
from outcomeportal.core.periods import period_add, period_at, period_first_day

# Packs offered when settings.BILLING_TOPUP_PACKS is not set: credits at the contract's published
# conversion (credit_price); "discount_percent" (optional) takes a percentage off a pack's price.
DEFAULT_TOPUP_PACKS = ({"credits": "500"}, {"credits": "1000"}, {"credits": "2500"})
CREDIT_PLACES = 4
# Outcomes of the period whose credits count as used so far: pending ones (not yet decided billable)
# and billed ones (billable, invoiced, under dispute). Credited and non-billable ones do not.
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class CreditsRefused(ValueError):
    """A top-up or grant that cannot be made (the message says why, for people)."""


# --- Top-up packs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopUpPack:
    credits: Decimal
    price: Decimal  # rounded once to the currency (outcomeportal.core.money)
    discount_percent: Decimal = ZERO

    @property
    def key(self) -> str:
        return f"{self.credits.normalize():f}"


def pack_price(*, credits: Decimal, credit_price: Decimal, discount_percent: Decimal, currency: str) -> Decimal:
    """A pack's price: credits × the published conversion, less its discount, rounded once."""
    return round_line(credits * credit_price * (100 - discount_percent) / 100, currency)


def topup_packs(*, terms: Terms | None, currency: str) -> tuple[TopUpPack, ...]:
    """The packs on sale under ``terms`` (none unless the contract is priced in credits)."""
    if terms is None or not terms.in_credits:
        return ()
    packs = []
    for item in getattr(settings, "BILLING_TOPUP_PACKS", DEFAULT_TOPUP_PACKS):
        try:
            credits = to_decimal(item["credits"])
            discount = to_decimal(item.get("discount_percent", "0"))
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise ValueError(f"BILLING_TOPUP_PACKS: {item!r} needs decimal-string credits.") from exc
        if credits <= 0 or credits.as_tuple().exponent < -CREDIT_PLACES or not 0 <= discount < 100:
            raise ValueError(f"BILLING_TOPUP_PACKS: {item!r} is out of range.")
        price = pack_price(
            credits=credits, credit_price=terms.credit_price, discount_percent=discount, currency=currency
        )
        packs.append(TopUpPack(credits, price, discount))
    return tuple(sorted(packs, key=lambda p: p.credits))


# --- Services ----------------------------------------------------------------------------------


def _credits_value(raw: Decimal | int | str) -> Decimal:
    try:
        value = to_decimal(raw)
    except (InvalidOperation, TypeError) as exc:
        raise CreditsRefused("Credits are a decimal number.") from exc
    if not value.is_finite() or value.as_tuple().exponent < -CREDIT_PLACES or abs(value) >= Decimal("1e12"):
        raise CreditsRefused(f"Credits have at most {CREDIT_PLACES} decimal places.")
    return value


def _n(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def topup_buy(
    *,
    account: Account,
    credits: Decimal,
    key: str,
    bought_by: str,
    any_amount: bool = False,
    now: datetime | None = None,
) -> tuple[CreditLedgerEntry, bool]:
    """Buy a top-up pack: a ``topup`` ledger entry and a *Top-up* line on the open draft invoice.

    ``key`` is the purchase's one-time key (the form's): the same key again returns the same
    entry (``created`` False) — a double submit buys once. Raises :class:`CreditsRefused` when
    the contract is not priced in credits or the pack is not on sale. ``any_amount`` (the
    vendor, over the API): any positive number of credits, at the contract's published
    conversion with no discount, when it is not one of the packs.
    """
    now = now or timezone.now()
    if not _KEY.match(key or ""):
        raise CreditsRefused("The purchase key is missing or malformed; reload the page and try again.")
    credits = _credits_value(credits)
    reference = f"topup:{key}"
    with transaction.atomic():
        invoice = invoice_open_locked(account=account, now=now)  # serialises purchases and finalization
        existing = CreditLedgerEntry.objects.filter(account=account, kind=CreditKind.TOPUP, reference=reference).first()
        if existing is not None:
            return existing, False
        _, terms = contract_for_period(account_id=account.pk, period=invoice.period)
        packs = {p.credits: p for p in topup_packs(terms=terms, currency=account.currency)}
        if not packs:
            raise CreditsRefused("Top-ups are sold with contracts priced in credits.")
        pack = packs.get(credits)
        if pack is None and any_amount and credits > 0:
            price = pack_price(credits=credits, credit_price=terms.credit_price, discount_percent=ZERO,
                               currency=account.currency)  # fmt: skip
            pack = TopUpPack(credits, price)
        if pack is None:
            raise CreditsRefused("That pack is not on sale; choose one of the packs listed.")
        entry = CreditLedgerEntry.objects.create(
            account=account,
            created_at=now,
            kind=CreditKind.TOPUP,
            credits=pack.credits,
            amount=pack.price,
            currency=account.currency,
            period=invoice.period,
            invoice_id=invoice.pk,
            reference=reference,
            note=f"Top-up: {_n(pack.credits)} credits for {money_display(pack.price, account.currency)}"
            + (f" ({_n(pack.discount_percent)} % off)" if pack.discount_percent else "")
            + f", bought by {bought_by}",
            created_by=bought_by,
        )
        invoice_draft_refresh(account=account, period=invoice.period, now=now)
        row_act_record(kind=kinds.CREDITS_GRANTED, view="credit_entry", pk=entry.pk, account_id=account.pk)
    return entry, True


GRANT_KINDS = (CreditKind.DISPUTE_CREDIT, CreditKind.ADJUSTMENT)


def credits_grant(
    *,
    account: Account,
    credits: Decimal,
    reason: str,
    reference: str,
    kind: str = CreditKind.DISPUTE_CREDIT,
    dispute_id: int | None = None,
    created_by: str = "",
    now: datetime | None = None,
) -> CreditLedgerEntry:
    """Add credits to the account's prepaid balance (for disputes: ``kind="dispute_credit"``).

    Idempotent by ``reference`` (e.g. ``"dispute:17"``): the same (account, kind, reference)
    again returns the entry already posted. The credits are usable from the open period on and
    never expire. ``kind="adjustment"`` may be negative (a correction), but never below the
    prepaid credits the account holds.
    """
    now = now or timezone.now()
    if kind not in GRANT_KINDS:
        raise CreditsRefused(f"kind is one of {', '.join(GRANT_KINDS)}.")
    credits = _credits_value(credits)
    if not reason.strip():
        raise CreditsRefused("A credit grant needs a reason.")
    if not reference or len(reference) > 80:
        raise CreditsRefused("A credit grant needs a reference of at most 80 characters (e.g. dispute:17).")
    if credits == 0 or (kind == CreditKind.DISPUTE_CREDIT and credits < 0):
        raise CreditsRefused("Credits granted must be positive.")
    if dispute_id is None and (match := re.fullmatch(r"dispute:(\d+)", reference)):
        dispute_id = int(match.group(1))
    with transaction.atomic():
        invoice = invoice_open_locked(account=account, now=now)
        existing = CreditLedgerEntry.objects.filter(account=account, kind=kind, reference=reference).first()
        if existing is not None:
            if existing.credits != credits:
                raise CreditsRefused(f"{reference} was already granted {_n(existing.credits)} credits.")
            return existing
        if credits < 0 and -credits > _prepaid_available(account=account, period=invoice.period):
            raise CreditsRefused("An adjustment cannot take more than the prepaid credits the account holds.")
        entry = CreditLedgerEntry.objects.create(
            account=account,
            created_at=now,
            kind=kind,
            credits=credits,
            currency=account.currency,
            period=invoice.period,
            invoice_id=invoice.pk,
            dispute_id=dispute_id,
            reference=reference,
            note=reason.strip(),
            created_by=created_by,
        )
        invoice_draft_refresh(account=account, period=invoice.period, now=now)
        kind = kinds.CREDITS_GRANTED if credits > 0 else kinds.CREDITS_DEDUCTED
        row_act_record(kind=kind, view="credit_entry", pk=entry.pk, account_id=account.pk)
    return entry


def _prepaid_available(*, account: Account, period: str) -> Decimal:
    """Prepaid credits the period starts with (the previous invoice's carry) plus those added in it."""
    previous = Invoice.objects.live().filter(account=account, period=period_add(period, -1)).first()
    carried = Carry.from_dict(previous.carry_out).purchased if previous is not None else ZERO
    added = CreditLedgerEntry.objects.filter(account=account, period=period, kind__in=PREPAID_KINDS).aggregate(
        s=Sum("credits")
    )["s"]
    return carried + (added or ZERO)


# --- Selectors ---------------------------------------------------------------------------------


def credit_balance(*, account: Account) -> Decimal:
    """The balance: the sum of the ledger (plan credits posted by final invoices + prepaid credits)."""
    total = CreditLedgerEntry.objects.filter(account=account).aggregate(s=Sum("credits"))["s"]
    return total if total is not None else ZERO


@dataclass(frozen=True, slots=True)
class LedgerLine:
    id: int
    created_at: datetime
    kind: str
    kind_label: str
    credits: Decimal
    amount: Decimal | None
    currency: str
    period: str
    invoice_id: int | None
    dispute_id: int | None
    reference: str
    note: str
    balance_after: Decimal  # the running balance after this line, in (created_at, id) order


_LEDGER_SQL = """
SELECT * FROM (
  SELECT id, created_at, kind, credits, amount, currency, period, invoice_id, dispute_id, reference, note,
         SUM(credits) OVER (ORDER BY created_at, id) AS balance_after
  FROM billing_creditledgerentry WHERE account_id = %s
) l
{where}
ORDER BY created_at DESC, id DESC
LIMIT %s
"""


def credit_ledger(*, account: Account, before: tuple[datetime, int] | None = None, limit: int = 50) -> list[LedgerLine]:
    """The ledger, newest line first, each with the running balance after it (keyset pages)."""
    params: list = [account.pk]
    where = ""
    if before is not None:
        where = "WHERE (created_at, id) < (%s, %s)"
        params += [before[0], before[1]]
    labels = dict(CreditKind.choices)
    with connection.cursor() as cursor:
        cursor.execute(_LEDGER_SQL.format(where=where), [*params, limit])
        rows = cursor.fetchall()
    return [
        LedgerLine(r[0], r[1], r[2], labels.get(r[2], r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])
        for r in rows
    ]


def ledger_cursor_encode(line: LedgerLine) -> str:
    """The portal's "older lines" cursor: (created_at, id) of a page's last line (like the API's)."""
    return keyset_encode(line.created_at, line.id)


def ledger_cursor_decode(cursor: str) -> tuple[datetime, int] | None:
    """None for an empty or tampered cursor: the page then starts from the newest line."""
    return keyset_decode(cursor)


@dataclass(frozen=True)
class CreditSummary:
    """What the spend page and the API show about credits."""

    account: Account
    period: str  # the current period (account time zone)
    in_credits: bool  # the current contract is priced in credits
    credit_price: Decimal | None  # money per credit (the published conversion)
    balance: Decimal  # Σ ledger
    included: Decimal  # plan credits included this period
    rollover: bool
    pending: Decimal  # credits of this period's pending outcomes
    billed: Decimal  # credits of this period's billed outcomes (billable, invoiced, disputed)
    packs: tuple[TopUpPack, ...]
    has_entries: bool

    @property
    def used_so_far(self) -> Decimal:
        return self.pending + self.billed

    @property
    def visible(self) -> bool:
        return self.in_credits or self.has_entries

    def value(self, credits: Decimal) -> str | None:
        """Credits in money at the published conversion, for people ("≈ $22.00")."""
        if self.credit_price is None:
            return None
        return money_display(credits * self.credit_price, self.account.currency)

    @property
    def credit_price_text(self) -> str | None:
        return None if self.credit_price is None else price_display(self.credit_price, self.account.currency)


def _month_days(period: str) -> tuple[date, date]:
    return period_first_day(period), period_first_day(period_add(period, 1))


def credit_summary(*, account: Account, now: datetime | None = None) -> CreditSummary:
    now = now or timezone.now()
    period = period_at(now, account.timezone)
    _, terms = contract_for_period(account_id=account.pk, period=period)
    in_credits = bool(terms and terms.in_credits)
    pf = terms.platform_fee if in_credits else None
    start, end = _month_days(period)
    used = {"P": ZERO, "R": ZERO}  # the period's credits of charges pending, and rated or billed
    rows = (
        ChargeRollup.objects.filter(account=account, day__gte=start, day__lt=end, credits__gt=0)
        .values_list("attempt", "state", "reason")
        .annotate(s=Sum("credits"))
    )
    for attempt, state, reason, credits in rows:
        cls = charge_class(attempt, state, reason)
        if cls is not None:
            used["P" if cls == "P" else "R"] += credits
    agg = CreditLedgerEntry.objects.filter(account=account).aggregate(s=Sum("credits"), n=Count("id"))
    active = account_status_at(account_id=account.pk, at=now) == LifecycleStatus.ACTIVE  # plan credits roll over
    return CreditSummary(
        account=account,
        period=period,
        in_credits=in_credits,
        credit_price=terms.credit_price if in_credits else None,
        balance=agg["s"] if agg["s"] is not None else ZERO,
        included=pf.included_credits if pf else ZERO,
        rollover=bool(pf and pf.rollover) and active,
        pending=used["P"],
        billed=used["R"],
        packs=topup_packs(terms=terms, currency=account.currency),
        has_entries=bool(agg["n"]),
    )


__all__ = [
    "CreditSummary",
    "CreditsRefused",
    "LedgerLine",
    "TopUpPack",
    "credit_balance",
    "credit_ledger",
    "credit_summary",
    "credits_grant",
    "topup_buy",
    "topup_packs",
]
