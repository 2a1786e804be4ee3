"""Read side of the customer audit portal: periods, the audit table, its CSV export, the
dashboard, the vendor overview and the "You are not charged when…" terms.

Selectors only — nothing here writes but a person's own column choice and saved views
(:mod:`billing.audit.saved`). Every function takes an :class:`Account` the caller
has already resolved for the principal (``accounts.selectors.account_get_for_principal``,
404 for "missing or not yours"), so tenancy is settled once, before any query here runs.

Speed rules (measured by ``bench/portal.py`` on a 2,000,000-event account):

- the audit table is a keyset walk over ``(account_id, occurred_at DESC, id DESC)`` (or the
  reason index, see migration 0003) — never OFFSET, never a ``count(*)`` of an account's events;
- counts, totals and charts come from the two rollups (``DailyRollup``, ``ChargeRollup``: kept exact
  by triggers), read by the status customers see (:mod:`billing.audit.counts`); the audit table's
  total for a filter they do not know reads at most ``COUNT_CAP`` events (``event_audit_count``),
  and a page filtered on a value no index leads with walks at most ``SCAN_CAP`` events;
- the filters' choices (channel, workflow, verification) are a cached, bounded sample
  (``audit_choices``): no index leads with those columns;
- a person's column choice and saved views are theirs, per account (:mod:`billing.audit.saved`);
- the CSV export is PostgreSQL's ``COPY (SELECT …) TO STDOUT`` streamed as it arrives.
"""

from billing.audit.detail import (
    STATE_TEXT,
    CheckExplained,
    TimelineEntry,
    decision_explained,
    deduction_entries,
    event_timeline,
)
from billing.audit.export import EXPORT_HEADERS, event_export_sql, event_export_stream
from billing.audit.summaries import (
    AccountOverview,
    DailySeries,
    PeriodSummary,
    accounts_overview,
    daily_series,
    period_summary,
)
from billing.audit.table import (
    CHARGED_STATUSES,
    COUNT_CAP,
    PAGE_SIZE,
    SCAN_CAP,
    STATUS_ORDER,
    AuditCount,
    AuditFilters,
    AuditPage,
    Cursor,
    audit_choices,
    event_audit_count,
    event_audit_page,
    events_for_audit,
    local_day_start,
    outcome_types_for,
    period_current,
    window_state,
)
from billing.audit.terms import OutcomeTerms, charging_terms_for

__all__ = [
    "CHARGED_STATUSES",
    "COUNT_CAP",
    "EXPORT_HEADERS",
    "PAGE_SIZE",
    "SCAN_CAP",
    "STATE_TEXT",
    "STATUS_ORDER",
    "AccountOverview",
    "AuditCount",
    "AuditFilters",
    "AuditPage",
    "CheckExplained",
    "Cursor",
    "DailySeries",
    "OutcomeTerms",
    "PeriodSummary",
    "TimelineEntry",
    "accounts_overview",
    "audit_choices",
    "charging_terms_for",
    "daily_series",
    "decision_explained",
    "deduction_entries",
    "event_audit_count",
    "event_audit_page",
    "event_export_sql",
    "event_export_stream",
    "event_timeline",
    "events_for_audit",
    "local_day_start",
    "outcome_types_for",
    "period_current",
    "period_summary",
    "window_state",
]
