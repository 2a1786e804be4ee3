"""Template helpers of the dispute pages: status and SLA badges, durations in words."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.html import format_html

from billing.templatetags.portal import coarse_minutes
from disputes.models import CreditState, DisputeStatus

register = template.Library()

_STATUS = dict(DisputeStatus.choices)
_CREDIT = dict(CreditState.choices)
_RISK = {"breached": "SLA breached", "at_risk": "SLA at risk", "ok": "Within SLA", "resolved": "Answered in time"}


@register.simple_tag
def dispute_badge(status: str) -> str:
    return format_html('<span class="badge dispute-{}">{}</span>', status, _STATUS.get(status, status))


@register.simple_tag
def credit_badge(state: str) -> str:
    return format_html('<span class="badge credit-{}">{}</span>', state, _CREDIT.get(state, state))


@register.simple_tag
def risk_badge(risk: str) -> str:
    return format_html('<span class="badge risk-{}">{}</span>', risk, _RISK.get(risk, risk))


@register.filter
def duration(delta: timedelta | None) -> str:
    """``3 d 4 h``, ``41 h``, ``35 min`` — the absolute length (callers say "ago" / "left" / "late")."""
    if delta is None:
        return "—"
    return coarse_minutes(int(abs(delta.total_seconds()) // 60))


@register.filter
def negative(delta: timedelta | None) -> bool:
    return delta is not None and delta.total_seconds() < 0


@register.filter
def pct(value, places: int = 1) -> str:
    """A fraction (Decimal or float) as a percentage: 0.0333 → "3.3%"; "—" for none."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{places}f}%"
