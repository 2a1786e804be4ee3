"""Template helpers of the portal: its presentation vocabulary (numbers, dates, periods, durations,
nouns — outcomeportal.core.formatting), codes in words (billing.labels), wording by reader
(billing.wording), checks in words and the header's context."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import template
from django.db import DatabaseError
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of
from billing import labels, wording
from billing.audit import period_current
from billing.audit.detail import BILLING_CHECKS
from metering import engine
from outcomeportal.core import formatting
from outcomeportal.core.periods import Period

register = template.Library()

SESSION_ACCOUNT_KEY = "portal_account"  # vendor staff: the account last looked at


# Every check an event page explains: metering's decision, then billing's (billing.audit.detail).
_CHECKS = {**engine.CHECKS, **{code: (reason, text) for code, reason, text in BILLING_CHECKS}}


# --- The presentation vocabulary (outcomeportal.core.formatting): one rule each, every page -------


@register.filter
def money(amount, currency: str = "USD") -> str:
    """``$1,527.75``, ``¥12,000``, ``-$12.50``; sub-cent amounts keep their precision (``$0.495``)."""
    value = formatting.as_number(amount)
    if value is None:
        return formatting.NONE if amount is None or amount == "" else str(amount)
    return formatting.money(value, currency or "USD")


@register.filter
def count(value) -> str:
    """``36,361``."""
    number = formatting.as_number(value)
    return formatting.NONE if number is None else formatting.count(number)


@register.filter
def percent(fraction, points: str = "") -> str:
    """A fraction as ``3.3%``; a non-zero rate never reads ``0.0%`` (1 of 36,361 is ``0.003%``).
    ``percent:"points"`` for a value already in percentage points (``82.5`` → ``82.5%``)."""
    value = formatting.as_number(fraction)
    if value is not None and points == "points":
        value = value / 100
    return formatting.percent(value)


def _local(value):
    """A datetime in the zone the page shows (its view's ``timezone.override``); a date as it is."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def day(value) -> str:
    """``6 Dec 2026`` (a datetime: its day in the page's zone)."""
    return formatting.day(_local(value) if isinstance(value, date) else None)


@register.filter
def moment(value, detail: str = "") -> str:
    """``6 Dec 2026, 14:55`` in the page's zone; ``moment:"zone"`` names the zone (``… 14:55 EST``),
    ``moment:"exact"`` adds the seconds too (``6 Dec 2026, 14:55:07 EST``)."""
    local = _local(value) if isinstance(value, datetime) else None
    return formatting.moment(local, exact=detail == "exact", with_zone=detail == "zone")


@register.filter
def period(value, end=None) -> str:
    """``December 2026`` or ``1–15 Dec 2026``: a period key (``2026-12``), a Period, a day or instant
    (its month), or ``start|period:end`` with ``end`` excluded (the database's half-open bounds,
    never shown as such). ``period:"days"`` writes a Period's days even when it is a whole month."""
    if value is None or value == "":
        return formatting.NONE
    if isinstance(value, str):
        return formatting.period_key(value)
    if isinstance(value, Period):
        write = formatting.day_range if end == "days" else formatting.days
        return write(value.first_day, value.last_day)
    if isinstance(value, date) and end is None:  # a month's day or instant: its month
        local = _local(value)
        return formatting.month(local.year, local.month)
    return formatting.span(_local(value), _local(end))


@register.filter
def days(first, last) -> str:
    """``first|days:last``, both days included: ``1–15 Dec 2026`` (a whole month: ``December 2026``)."""
    if not isinstance(first, date) or not isinstance(last, date):
        return formatting.NONE
    first, last = _local(first), _local(last)
    as_day = [v.date() if isinstance(v, datetime) else v for v in (first, last)]
    return formatting.days(*as_day)


@register.filter
def duration(value) -> str:
    """``35 min``, ``3 h 20 min``, ``1 day 4 h``, ``2 days`` (a timedelta or seconds; its length)."""
    if isinstance(value, timedelta | int | float) and not isinstance(value, bool):
        return formatting.duration(value)
    return formatting.NONE


@register.filter
def plural(n, noun: str) -> str:
    """``1 outcome``, ``4,065 outcomes``; ``noun`` may give both forms: ``"entry,entries"``."""
    return formatting.plural(formatting.as_number(n) or 0, noun)


@register.filter
def plural_noun(n, noun: str) -> str:
    """The noun alone, agreeing with ``n``: ``{{ n|count }} {{ n|plural_noun:"dispute is,disputes are" }}``."""
    return formatting.plural(formatting.as_number(n) or 0, noun, with_count=False)


@register.filter
def label(code, kind: str) -> str:
    """A code in words, from the one table (billing.labels): ``llm_verified`` → "Checked by a language model"."""
    return labels.label(code, kind)


@register.simple_tag(takes_context=True)
def voice(context, phrase: str) -> str:
    """``phrase`` for the page's reader: customers read "you", vendor staff "the customer" (billing.wording)."""
    principal = context.get("principal")
    # The table's own constants, not user input: nothing to escape (an apostrophe stays one).
    return mark_safe(wording.voice(phrase, vendor=bool(principal is not None and principal.is_vendor)))  # noqa: S308


@register.filter
def check_text(code: str) -> str:
    return _CHECKS.get(code, ("", code))[1]


@register.filter
def check_reason(code: str) -> str:
    return _CHECKS.get(code, ("", ""))[0]


@register.simple_tag
def status_badge(status: str, label: str = "") -> str:
    text = label or labels.label(status, "status")
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
