"""The money log's tables: the chain itself, and the rows waiting for their place in it.

A money act writes a :class:`MoneyLogPending` row in its own transaction (no lock taken); a
deferred trigger chains it when that transaction commits (migration ``0013_money_log``): under a
transaction-level advisory lock it reads the last entry, computes the hash and inserts the
:class:`MoneyLogEntry` — so the lock is held only while the transaction commits, and the chain
never forks. Both tables refuse UPDATE, DELETE and TRUNCATE (triggers).
"""

from __future__ import annotations

from django.db import models


class MoneyLogEntry(models.Model):
    """One money act, chained to the one before it. Never updated or deleted (triggers)."""

    # Given by the chaining trigger, one more than the last entry's: gapless, in chain order.
    id = models.BigIntegerField(primary_key=True)
    prev_hash = models.CharField(max_length=64)  # the previous entry's hash; 64 zeros for the first
    hash = models.CharField(max_length=64)  # hex SHA-256 of prev_hash + the entry's body (canonical.py)
    at = models.DateTimeField()  # when it was recorded (UTC, the wall clock: not a service's injected "now")
    kind = models.CharField(max_length=40)  # billing.moneylog.kinds
    # A plain id, not a foreign key: the log outlives nothing it records, and no delete cascades into it.
    account_id = models.BigIntegerField(null=True, blank=True)
    ref = models.CharField(max_length=80, blank=True)  # what it is about: "invoice:12", "credit_note:3", ""
    actor_type = models.CharField(max_length=8)  # user | api_key | system
    actor_id = models.BigIntegerField(null=True, blank=True)  # the user's or the API key's id
    actor_label = models.CharField(max_length=150)
    data = models.JSONField()  # what changed (canonical JSON: decimal strings, UTC times)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["ref"], name="moneylog_ref_idx", condition=~models.Q(ref="")),
            models.Index(fields=["account_id", "id"], name="moneylog_account_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind} {self.ref}"

    @property
    def actor(self) -> dict:
        return {"type": self.actor_type, "id": self.actor_id, "label": self.actor_label}


class MoneyLogPending(models.Model):
    """A money act recorded by a transaction that has not committed yet (see the module docstring).

    Rows exist only inside their transaction: the chaining trigger moves each into the log at
    commit. The table is UNLOGGED (migration 0013): nothing in it ever outlives a commit.
    """

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    account_id = models.BigIntegerField(null=True, blank=True)
    ref = models.CharField(max_length=80, blank=True)
    actor_type = models.CharField(max_length=8)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150)
    data = models.JSONField()
    body = models.TextField()  # the entry's canonical JSON, hashed with the previous entry's hash
    ready = models.BooleanField(default=False)  # set at commit: the second, last step chains it
