"""What a person keeps of the audit table: the columns they show and their saved views.

Both are one person's, on one account (vendor staff read many accounts; a customer's people only
their own): every row carries the account and the user, and every unique key leads with the
account. The rules — names, limits, what a query may hold — live in :mod:`billing.audit.saved`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Account


class AuditView(models.Model):
    """A saved view of the audit table: its filters and its columns, under a name."""

    # Unindexed alone: the unique key below leads with it.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    # The filters as a query string (``status=billable&channel=voice``): only the table's filter
    # names, never a page cursor, so the view always opens on its newest page.
    query = models.CharField(max_length=1200, blank=True)
    # The optional columns shown, in the table's order (the ID, time and status always are).
    columns = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "user_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "user", "name"], name="auditview_account_user_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class AuditColumns(models.Model):
    """The columns one person last chose for one account's audit table (absent: every column)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    columns = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="auditcolumns_account_user_uniq"),
        ]
