"""Template helpers of the portal: money, reasons and checks in words, the header's context."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.db import DatabaseError
from django.utils.html import format_html

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of
from billing.audit import period_current
from billing.audit.detail import BILLING_CHECKS
from billing.ledger.shown import REASONS, STATUS_LABELS
from metering import engine

register = template.Library()

SESSION_ACCOUNT_KEY = "portal_account"  # vendor staff: the account last looked at
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}


# Every check an event page explains: metering's decision, then billing's (billing.audit.detail).
_CHECKS = {**engine.CHECKS, **{code: (reason, text) for code, reason, text in BILLING_CHECKS}}


@register.filter
def money(amount, currency: str = "USD") -> str:
    """``$1,234.50``; sub-cent amounts keep their precision (``$0.495``); ``—`` for none."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return str(amount)
    if not value.is_finite():
        return str(amount)
    if value == value.quantize(Decimal("0.01")):
        text = f"{abs(value):,.2f}"
    else:  # sub-cent precision is real information (per-event prices); show it
        exact = abs(value).normalize()
        text = f"{exact:,.{-exact.as_tuple().exponent}f}"
    sign = "-" if value < 0 else ""
    symbol = _SYMBOLS.get(currency or "")
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


@register.filter
def reason_text(code: str) -> str:
    return REASONS.get(code or "", code or "")


@register.filter
def check_text(code: str) -> str:
    return _CHECKS.get(code, ("", code))[1]


@register.filter
def check_reason(code: str) -> str:
    return _CHECKS.get(code, ("", ""))[0]


def coarse_minutes(minutes: int) -> str:
    """``2 d 4 h``, ``41 h``, ``35 min`` — coarse on purpose (at least 1 min)."""
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


@register.filter
def time_left(delta: timedelta | None) -> str:
    """What is left of ``delta``, coarse; nothing left reads ``1 min``."""
    if delta is None:
        return ""
    return coarse_minutes(max(int(delta.total_seconds() // 60), 0))


@register.filter
def percent(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{places}f}%"


@register.simple_tag
def status_badge(status: str, label: str = "") -> str:
    text = label or STATUS_LABELS.get(status, status)
    return format_html('<span class="badge status-{}">{}</span>', status, text)


@register.simple_tag(takes_context=True)
def portal_header(context) -> dict:
    """The account in view, its current period and the vendor's account switcher.

    Customers: their own account, always. Vendor staff: the account of the page they are on
    (views pass ``portal_account``), else the one they last looked at (kept in the session).
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {}
    try:
        principal = principal_of(request)
        account = context.get("portal_account")
        header = {
            "is_vendor": principal.is_vendor,
            "can_overview": principal.can(Perm.ALL_ACCOUNTS),
            "can_finance": principal.can(Perm.FINANCE_READ),
        }
        if principal.is_vendor:
            if account is None and request.session.get(SESSION_ACCOUNT_KEY):
                account = Account.objects.filter(external_id=request.session[SESSION_ACCOUNT_KEY]).first()
            header["switch_accounts"] = list(Account.objects.order_by("name").values_list("external_id", "name")[:500])
        elif account is None or account.pk != principal.account_id:
            account = user.account
        header["account"] = account
        header["period"] = period_current(account=account) if account else None
        return header
    except DatabaseError:  # the error pages must render even with the database away
        return {}
