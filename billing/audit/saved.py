"""The audit table's columns and saved views: the rules, apart from HTTP.

A person picks the optional columns the table shows (the event, its time and its status always
are) and keeps named views — the filters and the columns — on each account they read. Both are
theirs alone: every read and write here is by ``(account, user)``, so nobody reaches another
person's view, nor one of theirs on an account they do not see (the caller has resolved the
account for the person first: ``accounts.selectors.account_get_for_principal``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Account
from billing.audit.forms import FILTER_PARAMS
from billing.audit.models import AuditColumns, AuditView

# Always shown: what identifies an event and what it came to.
FIXED_COLUMNS = ("event_id", "occurred_at", "status")
# The columns a person may hide, in the table's order, with the words the column picker uses.
OPTIONAL_COLUMNS: dict[str, str] = {
    "channel": "Channel",
    "workflow": "Workflow",
    "success_criteria_met": "Criteria met",
    "human_handoff": "Hand-off",
    "window": "Measurement window",
    "verification_method": "Verification",
    "non_billable_reason": "Not-billable reason",
    "amount": "Amount",
    "source_url": "Source link",
}
COLUMNS_PARAM = "cols"  # the query-string name of a column choice (a saved view's link carries it)
_NO_COLUMNS = "none"  # ``cols=none``: only the fixed columns

NAME_MAX = 60
VIEWS_MAX = 20  # per person and account: a list of links one reads at a glance
_VALUE_MAX = 128  # as the filter fields


class SavedViewRefused(Exception):
    """A view that cannot be saved, with the reason in words for the person."""


# --- Columns ----------------------------------------------------------------------------------


def columns_clean(names: Iterable[str]) -> tuple[str, ...]:
    """The known optional columns among ``names``, in the table's order (unknown names dropped)."""
    chosen = set(names)
    return tuple(name for name in OPTIONAL_COLUMNS if name in chosen)


def columns_encode(columns: Iterable[str]) -> str:
    """The ``cols`` value of a column choice."""
    return ",".join(columns_clean(columns)) or _NO_COLUMNS


def columns_decode(value: str | None) -> tuple[str, ...] | None:
    """The column choice of a ``cols`` value — or None when there is none to read."""
    if value is None or not value.strip():
        return None
    if value.strip() == _NO_COLUMNS:
        return ()
    return columns_clean(part.strip() for part in value.split(","))


def columns_hidden(columns: Iterable[str]) -> tuple[str, ...]:
    """The optional columns a choice leaves out (what the table excludes)."""
    shown = set(columns)
    return tuple(name for name in OPTIONAL_COLUMNS if name not in shown)


def audit_columns_for(*, account: Account, user_id: int) -> tuple[str, ...]:
    """The columns the person last chose on this account; every column before they chose."""
    row = AuditColumns.objects.filter(account=account, user_id=user_id).values_list("columns", flat=True).first()
    return tuple(OPTIONAL_COLUMNS) if row is None else columns_clean(row)


def audit_columns_save(
    *, account: Account, user_id: int, columns: Iterable[str], now: datetime | None = None
) -> tuple[str, ...]:
    """Remember the person's column choice on this account (one row, written in one statement)."""
    chosen = columns_clean(columns)
    AuditColumns.objects.bulk_create(
        [AuditColumns(account=account, user_id=user_id, columns=list(chosen), updated_at=now or timezone.now())],
        update_conflicts=True,
        unique_fields=["account", "user"],
        update_fields=["columns", "updated_at"],
    )
    return chosen


# --- Saved views ------------------------------------------------------------------------------


def query_clean(query: str) -> str:
    """Only the table's filters of a query string, non-empty, in the form's order; no cursor."""
    given: dict[str, str] = {}
    for name, value in parse_qsl(query or "", keep_blank_values=False):
        value = value.strip()
        if name in FILTER_PARAMS and value and name not in given:
            if len(value) > _VALUE_MAX:
                raise SavedViewRefused("A filter of this view is too long to keep.")
            given[name] = value
    return urlencode([(name, given[name]) for name in FILTER_PARAMS if name in given])


def view_name_clean(name: str) -> str:
    """The name as it is kept: trimmed, inner spaces folded; refused when empty or too long."""
    text = " ".join((name or "").split())
    if not text:
        raise SavedViewRefused("Give the view a name.")
    if len(text) > NAME_MAX:
        raise SavedViewRefused(f"Keep the name to {NAME_MAX} characters or fewer.")
    if any(not ch.isprintable() for ch in text):
        raise SavedViewRefused("The name holds a character that cannot be shown.")
    return text


def audit_views_for(*, account: Account, user_id: int) -> list[AuditView]:
    """The person's saved views on this account, by name."""
    return list(AuditView.objects.filter(account=account, user_id=user_id).order_by("name", "id"))


def audit_view_get_for(*, account: Account, user_id: int, view_id: int) -> AuditView:
    """The person's view on this account — 404 when it is missing or not theirs, the same answer."""
    view = AuditView.objects.filter(account=account, user_id=user_id, pk=view_id).first()
    if view is None:
        raise Http404("No such saved view.")
    return view


def audit_view_save(
    *,
    account: Account,
    user_id: int,
    name: str,
    query: str,
    columns: Iterable[str],
    now: datetime | None = None,
) -> AuditView:
    """Keep the filters and columns under a name. Refused (:class:`SavedViewRefused`, in words)
    when the name is empty, too long or already one of the person's views here, or when they
    already keep :data:`VIEWS_MAX` views on this account."""
    text = view_name_clean(name)
    cleaned = query_clean(query)
    mine = AuditView.objects.filter(account=account, user_id=user_id)
    if mine.filter(name__iexact=text).exists():
        raise SavedViewRefused(f"You already have a view named “{text}”. Pick another name, or delete that one first.")
    if mine.count() >= VIEWS_MAX:
        raise SavedViewRefused(f"You keep {VIEWS_MAX} views on this account already. Delete one to save another.")
    try:
        with transaction.atomic():
            return AuditView.objects.create(
                account=account,
                user_id=user_id,
                name=text,
                query=cleaned,
                columns=list(columns_clean(columns)),
                created_at=now or timezone.now(),
            )
    except IntegrityError:  # the same name saved a moment ago, from another tab
        raise SavedViewRefused(f"You already have a view named “{text}”.") from None


def audit_view_delete(*, account: Account, user_id: int, view_id: int) -> None:
    """Delete the person's view — 404 when it is missing or not theirs (nothing else is touched)."""
    deleted, _ = AuditView.objects.filter(account=account, user_id=user_id, pk=view_id).delete()
    if not deleted:
        raise Http404("No such saved view.")


def view_query(view: AuditView) -> str:
    """The query string that opens the view: its filters and its columns."""
    return "&".join(part for part in (view.query, urlencode({COLUMNS_PARAM: columns_encode(view.columns)})) if part)
