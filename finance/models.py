"""The finance area reads the other apps' rollups and ledgers; the one thing it keeps is a cache.

:class:`LossCount` — each (account, month)'s loss outcomes per outcome type, the one finance figure
that compares event by event (finance.selectors.loss_counts). It is a cache, never a source: each row
carries the stamp of what it was counted from, and a row whose stamp no longer matches is counted
again before it is read.

:class:`ScenarioMonth` — each (account, month)'s history as the attainment scenarios read it
(finance.scenario_inputs): attempted and billable outcomes per type, resolved outcomes per complexity
tier, gain-share amounts. A cache too, stamped with the reference data's stamp and the month's fold
count, so a process's first scenario request reads a few hundred rows instead of counting six months.
"""

from django.db import models

from accounts.models import Account


class LossCount(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=7)  # YYYY-MM, the account's local month
    # md5 of what the counts depend on: the month's counted charges (the month rollup's rows), the
    # platform fee's share of an included outcome, and the catalogue's costs.
    stamp = models.CharField(max_length=32)
    counts = models.JSONField(default=dict)  # outcome type code → loss outcomes
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="finance_losscount_uniq")]

    def __str__(self) -> str:
        return f"loss outcomes of account {self.account_id} in {self.period}"


class ScenarioMonth(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=7)  # YYYY-MM, the account's local month
    # "<reference-data stamp>:<the month's fold count>" (accounts.refcache, metering.month_rollup): what
    # the month's figures were read under; any other stamp means read them again.
    stamp = models.CharField(max_length=64)
    # outcome type code → [billable, failed, {tier: resolved}, resolved, gain-share amount as a string]
    types = models.JSONField(default=dict)
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="finance_scenariomonth_uniq")]

    def __str__(self) -> str:
        return f"scenario history of account {self.account_id} in {self.period}"
