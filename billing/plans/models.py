"""Plans, their versions and their members (see :mod:`billing.plans`)."""

from __future__ import annotations

from django.db import models

from accounts.models import Account


class Plan(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")  # its members' currency: amounts are not converted
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "code"]

    def __str__(self) -> str:
        return self.name


class PlanVersion(models.Model):
    """One published price book: a contract document without ``effective_from`` (billing.contracts)."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    note = models.CharField(max_length=200, blank=True)  # what changed, in the operator's words
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["plan", "-version"]
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="plan_version_uniq")]

    def __str__(self) -> str:
        return f"{self.plan.code} v{self.version}"


class PlanMember(models.Model):
    """An account following a plan; ``overrides`` is a partial contract document laid over the plan's."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="members")
    overrides = models.JSONField(default=dict, blank=True)
    since = models.DateField()  # the first day of the period the account's plan contract took effect
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["plan", "account"]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.plan_id}"
