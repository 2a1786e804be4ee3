"""Models of spend controls (see billing.spend): the controls, their audit log, period locks, alerts."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import Account


def _default_thresholds() -> list[int]:
    return [50, 80, 100]


# --- Spend controls (billing.spend) -------------------------------------------------------------


class SpendControl(models.Model):
    """An account's spend controls, set by its finance admins (or the vendor)."""

    class AtCap(models.TextChoices):
        PAUSE = "pause", "Pause: stop charging and hand work to humans"
        ALLOW_OVERAGE = "allow_overage", "Allow overage: keep charging, alert only"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+")
    # Per billing period (calendar month in the account's time zone); null = no cap of that kind.
    monthly_cap = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    monthly_cap_outcomes = models.PositiveIntegerField(null=True, blank=True)
    alert_thresholds = ArrayField(models.PositiveSmallIntegerField(), default=_default_thresholds, blank=True)
    at_cap = models.CharField(max_length=16, choices=AtCap.choices, default=AtCap.PAUSE)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.CheckConstraint(name="spend_cap_not_negative", condition=Q(monthly_cap__gte=0)),
        ]


class SpendControlChange(models.Model):
    """Audit log of spend controls: who changed what, when, old → new. Append-only."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    changed_at = models.DateTimeField()
    changed_by = models.CharField(max_length=150)
    old = models.JSONField()
    new = models.JSONField()

    class Meta:
        ordering = ["-changed_at", "-id"]


class SpendPeriod(models.Model):
    """One row per account and period: the lock ingestion takes for capped accounts, and the pause."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(max_length=7)  # "YYYY-MM" in the account's time zone
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=32, blank=True)
    # What the cap holds of the period, as far as ingestion knows it without pricing each batch:
    # ``usage_exact`` / ``outcomes_exact`` were counted exactly (billing.charges) when ``bound_stamp``
    # was the reference-data stamp; ``usage_bound`` / ``outcomes_bound`` add an upper bound of every
    # batch admitted since (pricing.marginal_bound). The true usage lies between the two. Outcomes
    # released meanwhile only lower it; a contract or catalogue change moves the stamp, a changed
    # carry from the previous invoice clears it: either forces an exact pricing. Null: never priced.
    usage_exact = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    usage_bound = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    outcomes_exact = models.BigIntegerField(null=True, blank=True)
    outcomes_bound = models.BigIntegerField(null=True, blank=True)
    bound_stamp = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="spend_period_uniq")]


class SpendAlert(models.Model):
    """An alert that fired: each threshold once per period (unique), plus one forecast warning."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold reached"
        FORECAST = "forecast", "Cap forecast"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(max_length=7)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    threshold = models.PositiveSmallIntegerField(null=True, blank=True)  # percent; empty for forecasts
    fired_at = models.DateTimeField()
    percent_used = models.DecimalField(max_digits=9, decimal_places=2)
    spend = models.DecimalField(max_digits=24, decimal_places=6)
    outcomes = models.PositiveIntegerField()
    forecast_day = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period", "kind", "threshold"], name="spend_alert_once", nulls_distinct=False
            )
        ]
