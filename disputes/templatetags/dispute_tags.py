"""Template helpers of the dispute pages: status, credit and SLA badges (numbers, dates and durations
are the portal's vocabulary: billing/templatetags/portal.py)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.html import format_html

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
def negative(delta: timedelta | None) -> bool:
    return delta is not None and delta.total_seconds() < 0
