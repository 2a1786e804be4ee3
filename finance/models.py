"""The finance area reads the other apps' rollups and ledgers; the one thing it keeps is a cache.

:class:`LossCount` — each (account, month)'s loss outcomes per outcome type, the one finance figure
that compares event by event (finance.selectors.loss_counts). It is a cache, never a source: each row
carries the stamp of what it was counted from, and a row whose stamp no longer matches is counted
again before it is read.
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
