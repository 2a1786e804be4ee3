"""The audit table: filters, keyset pages, counts, the filter choices.

Each row is an event (metering's facts and decision) with its charge (billing's), read as one
status and one reason (billing.ledger.shown): filters on a status or reason are conditions on both,
and counts come from both rollups (billing.audit.counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from billing.audit.counts import shown_counts
from billing.ledger.selectors import attach_charges, shown_reason_q, shown_status_q
from billing.ledger.shown import BILLING_REASONS, CHARGED_STATUSES, STATUSES  # noqa: F401 - CHARGED_STATUSES re-exported
from metering.models import DailyRollup, Event, EventStatus, OutcomeType
from outcomeportal.core.cursors import keyset_decode, keyset_encode
from outcomeportal.core.periods import Period

STATUS_ORDER = STATUSES  # pending, billable, non_billable, invoiced, disputed, credited

PAGE_SIZE = 50


# --- Periods (the kernel's: whole months in the account's zone) -------------------------------


def period_current(*, account: Account, now: datetime | None = None) -> Period:
    return Period.containing(now or timezone.now(), account.timezone)


def local_day_start(day: date, *, account: Account) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(account.timezone))


# --- The audit table --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What the customer asked the audit table for. Days are local to the account, inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    outcome_type_id: int | None = None
    status: str = ""
    reason: str = ""
    channel: str = ""
    workflow: str = ""
    verification_method: str = ""
    search: str = ""  # an event ID or a session ID, exactly

    @property
    def countable_from_rollup(self) -> bool:
        """True when every filter is a DailyRollup dimension, so the match count costs nothing."""
        return not (self.channel or self.workflow or self.verification_method or self.search)


@dataclass(frozen=True, slots=True)
class Cursor:
    """A keyset position: the (occurred_at, id) of a row. Opaque in URLs."""

    occurred_at: datetime
    pk: int

    def encode(self) -> str:
        return keyset_encode(self.occurred_at, self.pk)

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor, or None for anything this module did not produce."""
        position = keyset_decode(token)
        return None if position is None else cls(occurred_at=position[0], pk=position[1])


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[Event]
    newer: Cursor | None  # where the page of newer rows starts from (None: this is the newest page)
    older: Cursor | None  # where the page of older rows starts from (None: nothing older)
    # Set when the page is short because its walk stopped: the time of the last event it looked at,
    # and how many it looked at (SCAN_CAP); ``older`` goes on from there.
    scanned_to: datetime | None = None
    scanned: int = 0
    scanned_newer: bool = False  # the walk went towards newer events (``newer`` goes on)


def events_for_audit(*, account: Account, filters: AuditFilters) -> QuerySet[Event]:
    """The account's events matching ``filters`` (unordered). One account, always."""
    qs = Event.objects.filter(account_id=account.pk)
    if filters.date_from:
        qs = qs.filter(occurred_at__gte=local_day_start(filters.date_from, account=account))
    if filters.date_to:
        qs = qs.filter(occurred_at__lt=local_day_start(filters.date_to + timedelta(days=1), account=account))
    if filters.outcome_type_id is not None:
        qs = qs.filter(outcome_type_id=filters.outcome_type_id)
    if filters.status:
        qs = qs.filter(shown_status_q(filters.status, account_id=account.pk))
    if filters.reason:
        qs = qs.filter(shown_reason_q(filters.reason, account_id=account.pk))
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.workflow:
        qs = qs.filter(workflow=filters.workflow)
    if filters.verification_method:
        qs = qs.filter(verification_method=filters.verification_method)
    if filters.search:
        qs = qs.filter(Q(event_id=filters.search) | Q(session_id=filters.search))
    return qs


# What one audit row needs; the raw JSON blobs and the vendor's cost stay in the database.
_ROW_FIELDS = (
    "id",
    "account_id",
    "event_id",
    "outcome_type__code",
    "outcome_type__name",
    "occurred_at",
    "channel",
    "workflow",
    "session_id",
    "success_criteria_met",
    "human_handoff",
    "verification_method",
    "source_url",
    "status",
    "non_billable_reason",
    "window_ends_at",
)


# A filter no index leads with (channel, workflow, verification method, outcome type) is checked
# event by event along the recent-events index until a page of matches is found: for a value rare in
# the dates, that would walk the account's whole history. An older page walks at most this many
# events past its cursor; a short page then says where it stopped, and "Older" goes on from there.
SCAN_CAP = 20_000


def _walks_events(filters: AuditFilters) -> bool:
    return bool(filters.channel or filters.workflow or filters.verification_method or filters.outcome_type_id)


def event_audit_page(
    *,
    account: Account,
    filters: AuditFilters,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """One keyset page, newest first: the page after ``older_than``, or before ``newer_than``.

    Reads at most ``size + 1`` index entries past the cursor, whatever the depth — or, with a
    filter checked event by event, at most :data:`SCAN_CAP` events either way (``scanned_to`` then
    says where a short page stopped looking, and ``older`` or ``newer`` goes on from there).
    """
    qs = events_for_audit(account=account, filters=filters).select_related("outcome_type").only(*_ROW_FIELDS)
    walks = _walks_events(filters)
    if newer_than is not None:
        edge = _scan_edge(account=account, filters=filters, past=newer_than, newer=True) if walks else None
        qs = _newer(qs, newer_than)
        if edge is not None:  # the walk ends at the SCAN_CAP-th event past the cursor, included
            qs = _older(qs, Cursor(edge.occurred_at, edge.pk + 1))
        rows = list(qs.order_by("occurred_at", "id")[: size + 1])
        more = len(rows) > size
        if not more and edge is None and not walks:
            # Back at the top: show the full newest page rather than a short one.
            return event_audit_page(account=account, filters=filters, size=size)
        # (A walk's pages are as long as their stretches allow: at the top, the rows left — maybe
        # none — are a page of their own, so that going back shows every row once.)
        rows = attach_charges(rows[:size][::-1])
        stopped = edge is not None and not more
        return AuditPage(
            rows=rows,
            newer=_cursor_of(rows[0]) if more else edge,
            # older than this page: from its last row, or — none shown — from the cursor's own row
            older=_cursor_of(rows[-1]) if rows else Cursor(newer_than.occurred_at, newer_than.pk + 1),
            scanned_to=edge.occurred_at if stopped else None,
            scanned=SCAN_CAP if stopped else 0,
            scanned_newer=stopped,
        )
    edge = _scan_edge(account=account, filters=filters, past=older_than, newer=False) if walks else None
    if older_than is not None:
        qs = _older(qs, older_than)
    if edge is not None:  # the walk ends at the SCAN_CAP-th event past the cursor, included
        qs = _newer(qs, Cursor(edge.occurred_at, edge.pk - 1))
    rows = list(qs.order_by("-occurred_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = attach_charges(rows[:size])
    stopped = edge is not None and not more
    newer = None
    if older_than is not None:  # newer than this page: from its first row, or the cursor's own row
        newer = _cursor_of(rows[0]) if rows else Cursor(older_than.occurred_at, older_than.pk - 1)
    return AuditPage(
        rows=rows,
        newer=newer,
        older=_cursor_of(rows[-1]) if more else edge,
        scanned_to=edge.occurred_at if stopped else None,
        scanned=SCAN_CAP if stopped else 0,
    )


def _older(qs: QuerySet[Event], cursor: Cursor) -> QuerySet[Event]:
    """Rows strictly older than the cursor's (occurred_at, id)."""
    at, pk = cursor.occurred_at, cursor.pk
    return qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk), occurred_at__lte=at)


def _newer(qs: QuerySet[Event], cursor: Cursor) -> QuerySet[Event]:
    """Rows strictly newer than the cursor's (occurred_at, id)."""
    at, pk = cursor.occurred_at, cursor.pk
    return qs.filter(Q(occurred_at__gt=at) | Q(occurred_at=at, id__gt=pk), occurred_at__gte=at)


def _scan_edge(*, account: Account, filters: AuditFilters, past: Cursor | None, newer: bool) -> Cursor | None:
    """The :data:`SCAN_CAP`-th event of the dates past the cursor, older or newer (an index-only walk
    of the recent-events index); None when no event is left after it."""
    window = _in_dates(account=account, filters=filters)
    if past is not None:
        window = _newer(window, past) if newer else _older(window, past)
    order = ("occurred_at", "id") if newer else ("-occurred_at", "-id")
    edge = list(window.order_by(*order).values_list("occurred_at", "id")[SCAN_CAP - 1 : SCAN_CAP + 1])
    return Cursor(occurred_at=edge[0][0], pk=edge[0][1]) if len(edge) == 2 else None


def _cursor_of(event: Event) -> Cursor:
    return Cursor(occurred_at=event.occurred_at, pk=event.pk)


# The bounded count (filters a rollup does not know: channel, workflow, verification, search):
# it reads at most this many events, whatever the account's size.
COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class AuditCount:
    """How many events match the filters, and how sure the number is.

    ``exact``: ``n`` is every matching event (from the rollups, or from an account whose dates hold
    at most :data:`COUNT_CAP` events, read one by one). ``at_least``: more than ``n`` match (a search
    that found more than the cap). ``newest``: ``n`` of the newest ``read`` events match; the dates
    hold ``in_range`` events in all — read from the rollups.
    """

    n: int
    kind: str = "exact"  # exact, at_least, newest
    read: int = 0
    in_range: int = 0


def _rollup_total(*, account: Account, filters: AuditFilters) -> int:
    """Events matching the filters' dates, type, status and reason, from the two rollups."""
    rows = shown_counts(
        account_id=account.pk,
        first_day=filters.date_from,
        end_day=filters.date_to + timedelta(days=1) if filters.date_to else None,
        outcome_type_id=filters.outcome_type_id,
    )
    return sum(
        n
        for status, reason, n in rows
        if (not filters.status or status == filters.status) and (not filters.reason or reason == filters.reason)
    )


def _dates_total(*, account: Account, filters: AuditFilters) -> int:
    """Events in the filters' dates, whatever their status — from the rollups, whole months from the
    month rollups (billing.audit.counts.shown_counts)."""
    return _rollup_total(account=account, filters=AuditFilters(date_from=filters.date_from, date_to=filters.date_to))


def _in_dates(*, account: Account, filters: AuditFilters) -> QuerySet[Event]:
    dates_only = AuditFilters(date_from=filters.date_from, date_to=filters.date_to)
    return events_for_audit(account=account, filters=dates_only)


def event_audit_count(*, account: Account, filters: AuditFilters, cap: int | None = None) -> AuditCount:
    """How many events match — never a ``count(*)`` of the account's events.

    Filters that are rollup dimensions (dates, type, status, reason) are answered from the two
    rollups. Otherwise the count reads events, never more than ``cap``: a search (an event or
    session ID, through their indexes) counts its matches up to the cap; the other filters count
    the matches among the newest ``cap`` events of the dates — all of them, so exactly, when the
    rollups say the dates hold no more than that (:data:`COUNT_CAP` unless ``cap`` says).
    """
    if filters.countable_from_rollup:
        return AuditCount(n=_rollup_total(account=account, filters=filters))
    cap = cap or COUNT_CAP
    matching = events_for_audit(account=account, filters=filters)
    if filters.search:
        n = matching.values("id")[: cap + 1].count()
        return AuditCount(n=cap, kind="at_least") if n > cap else AuditCount(n=n)
    in_range = _dates_total(account=account, filters=filters)
    if in_range <= cap:
        return AuditCount(n=_bounded_count(matching))
    # The newest ``cap`` events of the dates are a keyset range: from the cap-th newest one (an
    # index-only walk of ``cap`` entries of the recent-events index) to the newest.
    last = _in_dates(account=account, filters=filters).order_by("-occurred_at", "-id").values_list("occurred_at", "id")
    edge = last[cap - 1 : cap].first()
    if edge is None:  # fewer events than the rollups said (a moment's race): count them all
        return AuditCount(n=_bounded_count(matching))
    at, pk = edge
    newest = matching.filter(Q(occurred_at__gt=at) | Q(occurred_at=at, id__gte=pk), occurred_at__gte=at)
    return AuditCount(n=_bounded_count(newest), kind="newest", read=cap, in_range=in_range)


def _bounded_count(qs: QuerySet[Event]) -> int:
    """``qs.count()`` of a query that reads at most a few thousand events, without JIT: the planner
    costs a recent keyset range as random heap reads, passes ``jit_above_cost`` and spends ~15 ms
    compiling a count that takes ~4 ms to run (bench/portal.py's account, 200,000 events)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        return qs.count()


def window_state(event: Event, *, now: datetime) -> tuple[str, timedelta | None]:
    """The measurement window in one word, with the time left while it is open.

    ``open`` (pending, time left), ``closing`` (pending, due: settles on the next run),
    ``closed`` (the window ran out or was closed by a confirmation), ``not_needed`` (decided
    non-billable before the window ended, e.g. an abandoned session).
    """
    if event.status == EventStatus.PENDING:
        return ("open", event.window_ends_at - now) if event.window_ends_at > now else ("closing", None)
    if event.window_ends_at <= now:
        return "closed", None
    return "not_needed", None


# What the filter choices read: the newest events, and a few of every day the account has events
# on (from the rollup), so a channel used once in spring is still offered in December.
CHOICES_NEWEST = 5_000
CHOICES_PER_DAY = 20
CHOICES_DAYS = 400
_CHOICES_SQL = """
SELECT DISTINCT s.channel, s.workflow, s.verification_method FROM (
  (SELECT channel, workflow, verification_method FROM metering_event
   WHERE account_id = %(account)s ORDER BY occurred_at DESC, id DESC LIMIT %(newest)s)
  UNION ALL
  SELECT e.channel, e.workflow, e.verification_method
  FROM (SELECT DISTINCT day FROM metering_dailyrollup WHERE account_id = %(account)s
        ORDER BY day DESC LIMIT %(days)s) d
  CROSS JOIN LATERAL (
    SELECT channel, workflow, verification_method FROM metering_event
    WHERE account_id = %(account)s
      AND occurred_at >= (d.day::timestamp AT TIME ZONE %(tz)s)
      AND occurred_at < ((d.day + 1)::timestamp AT TIME ZONE %(tz)s)
    ORDER BY occurred_at DESC, id DESC LIMIT %(per_day)s) e
) s
"""
_CHOICE_KEYS = ("channel", "workflow", "verification_method")


def audit_choices(*, account: Account) -> dict[str, list[str]]:
    """Channels, workflows and verification methods of the account's events: the filters' choices.

    No index leads with these columns (and ingestion pays for every index), so they are read
    from a bounded sample through the recent-events index: the newest 5,000 events, and the
    newest 20 of each of the account's last 400 days with events (the rollup knows which). Raw
    fields never change, so values seen stay offered for a day; the sample is read again every
    ten minutes. A value outside the sample is still accepted (a bookmarked link).
    """
    key = f"portal:audit-choices:{account.pk}"
    seen_key = f"portal:audit-choices-seen:{account.pk}"
    choices = cache.get(key)
    if choices is None:
        with connection.cursor() as cursor:
            cursor.execute(
                _CHOICES_SQL,
                {
                    "account": account.pk,
                    "tz": account.timezone,
                    "newest": CHOICES_NEWEST,
                    "days": CHOICES_DAYS,
                    "per_day": CHOICES_PER_DAY,
                },
            )
            rows = cursor.fetchall()
        seen = cache.get(seen_key) or {}
        choices = {
            name: sorted({row[i] for row in rows if row[i]} | set(seen.get(name, ())))
            for i, name in enumerate(_CHOICE_KEYS)
        }
        cache.set(key, choices, 600)
        cache.set(seen_key, choices, 24 * 3600)
    return choices


def outcome_types_for(*, account: Account) -> list[OutcomeType]:
    """The account's outcome types: those it has events of (from the rollup), or — before its
    first event — every active type of the catalogue. Cached for ten minutes."""
    key = f"portal:outcome-types:{account.pk}"
    type_ids = cache.get(key)
    if type_ids is None:
        type_ids = list(
            DailyRollup.objects.filter(account_id=account.pk).values_list("outcome_type_id", flat=True).distinct()
        )
        cache.set(key, type_ids, 600)
    types = OutcomeType.objects.filter(pk__in=type_ids) if type_ids else OutcomeType.objects.filter(active=True)
    return list(types.order_by("name"))
