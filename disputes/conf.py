"""Settings of disputes, read when used (never at import time), with their defaults.

``DISPUTES_SLA_HOURS`` (48)            hours support has to answer; an account's
                                       :class:`~disputes.models.DisputeTerms` overrides it
``DISPUTES_SLA_WARNING_HOURS`` (6)     support is told this long before an SLA is breached
``DISPUTES_SLA_WARNING_STALE_HOURS`` (24)  an SLA that ended longer ago than this is not warned about
                                       any more (the queue shows it breached; no email about old news)
``DISPUTES_RATE_WARNING_PERCENT`` (3)  a dispute rate above this flags an account or outcome type
``DISPUTES_METRICS_DAYS`` (30)         the rolling window of the trust metrics
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings


def sla_hours_default() -> int:
    return int(getattr(settings, "DISPUTES_SLA_HOURS", 48))


def sla_warning() -> timedelta:
    return timedelta(hours=int(getattr(settings, "DISPUTES_SLA_WARNING_HOURS", 6)))


def sla_warning_stale() -> timedelta:
    """How long after an SLA ended a warning is still worth sending (a worker that was stopped, a
    demo seeded days ago): past it, the breach is old news — the queue shows it, nobody is emailed."""
    return timedelta(hours=int(getattr(settings, "DISPUTES_SLA_WARNING_STALE_HOURS", 24)))


def rate_warning() -> Decimal:
    """The dispute-rate threshold as a fraction (3 % → 0.03)."""
    return Decimal(str(getattr(settings, "DISPUTES_RATE_WARNING_PERCENT", "3"))) / 100


def metrics_days() -> int:
    return int(getattr(settings, "DISPUTES_METRICS_DAYS", 30))
