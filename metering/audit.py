"""Read side of the customer audit portal: periods, the audit table, its CSV export, the
dashboard, the vendor overview and the "You are not charged when…" terms.

Selectors only — nothing here writes. Every function takes an :class:`Account` the caller
has already resolved for the principal (``accounts.selectors.account_get_for_principal``,
404 for "missing or not yours"), so tenancy is settled once, before any query here runs.

Speed rules (measured by ``bench/portal.py`` on a 2,000,000-event account):

- the audit table is a keyset walk over ``(account_id, occurred_at DESC, id DESC)`` (or the
  reason index, see migration 0003) — never OFFSET, never a ``count(*)`` of an account's events;
- counts, totals and charts come from :class:`DailyRollup` (kept exact by triggers);
- the CSV export is PostgreSQL's ``COPY (SELECT …) TO STDOUT`` streamed as it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, CharField, F, Func, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from accounts.models import Account
from metering import engine
from metering.models import DailyRollup, Event, EventStatus, OutcomeType, SuccessCriteria
from metering.selectors import criteria_current, criteria_for
from outcomeportal.core.cursors import keyset_decode, keyset_encode
from outcomeportal.core.periods import Period

# Statuses whose amount the customer is charged (or will be, on this period's invoice).
# A disputed event stays charged until the dispute is resolved; a credited one is not.
CHARGED_STATUSES = (EventStatus.BILLABLE, EventStatus.INVOICED, EventStatus.DISPUTED)
STATUS_ORDER = tuple(EventStatus.values)  # pending, billable, non_billable, invoiced, disputed, credited

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
        qs = qs.filter(status=filters.status)
    if filters.reason:
        qs = qs.filter(non_billable_reason=filters.reason)
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
    "amount",
    "currency",
    "credits",
)


def event_audit_page(
    *,
    account: Account,
    filters: AuditFilters,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """One keyset page, newest first: the page after ``older_than``, or before ``newer_than``.

    Reads at most ``size + 1`` index entries past the cursor, whatever the depth.
    """
    qs = events_for_audit(account=account, filters=filters).select_related("outcome_type").only(*_ROW_FIELDS)
    if newer_than is not None:
        at, pk = newer_than.occurred_at, newer_than.pk
        rows = list(
            qs.filter(Q(occurred_at__gt=at) | Q(occurred_at=at, id__gt=pk), occurred_at__gte=at).order_by(
                "occurred_at", "id"
            )[: size + 1]
        )
        if len(rows) <= size:
            # Back at the top: show the full newest page rather than a short one.
            return event_audit_page(account=account, filters=filters, size=size)
        rows = rows[:size][::-1]
        return AuditPage(rows=rows, newer=_cursor_of(rows[0]), older=_cursor_of(rows[-1]))
    if older_than is not None:
        at, pk = older_than.occurred_at, older_than.pk
        qs = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk), occurred_at__lte=at)
    rows = list(qs.order_by("-occurred_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(
        rows=rows,
        newer=_cursor_of(rows[0]) if older_than is not None and rows else None,
        older=_cursor_of(rows[-1]) if more else None,
    )


def _cursor_of(event: Event) -> Cursor:
    return Cursor(occurred_at=event.occurred_at, pk=event.pk)


def event_audit_count(*, account: Account, filters: AuditFilters) -> int | None:
    """How many events match, from DailyRollup — or None when a filter is not a rollup dimension."""
    if not filters.countable_from_rollup:
        return None
    qs = DailyRollup.objects.filter(account_id=account.pk)
    if filters.date_from:
        qs = qs.filter(day__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(day__lte=filters.date_to)
    if filters.outcome_type_id is not None:
        qs = qs.filter(outcome_type_id=filters.outcome_type_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.reason:
        qs = qs.filter(non_billable_reason=filters.reason)
    return int(qs.aggregate(n=Sum("events"))["n"] or 0)


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


def audit_choices(*, account: Account) -> dict[str, list[str]]:
    """Channels, workflows and verification methods seen in the account's recent events.

    Suggestions for the filter inputs (free text is accepted too): read from the newest
    2,000 events through the recent-events index, cached for ten minutes.
    """
    key = f"portal:audit-choices:{account.pk}"
    choices = cache.get(key)
    if choices is None:
        recent = Event.objects.filter(account_id=account.pk).order_by("-occurred_at", "-id")[:2000]
        rows = list(recent.values_list("channel", "workflow", "verification_method"))
        choices = {
            name: sorted({row[i] for row in rows if row[i]})
            for i, name in enumerate(("channel", "workflow", "verification_method"))
        }
        cache.set(key, choices, 600)
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


# --- CSV export -------------------------------------------------------------------------------

# The audit table's columns, in order, as CSV headers. Never the vendor's cost.
EXPORT_HEADERS = (
    "event_id",
    "account",
    "outcome_type",
    "occurred_at",
    "channel",
    "workflow",
    "session_id",
    "success_criteria_met",
    "human_handoff",
    "window_status",
    "window_ends_at",
    "verification_method",
    "status",
    "non_billable_reason",
    "non_billable_reason_text",
    "amount",
    "currency",
    "credits",
    "source_url",
    "time_zone",  # the zone of occurred_at and window_ends_at (ISO 8601 with offsets): the account's
)


class _Text(Func):
    template = "%(expressions)s::text"
    output_field = CharField()


class _ReasonText(Func):
    """The reason in words: one lookup in a constant JSON object of :data:`engine.REASONS`
    (a CASE over 17 words costs the export a sixth of its server time)."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"coalesce(%s::jsonb ->> ({sql})::text, '')", (json.dumps(engine.REASONS), *params)


def event_export_sql(*, account: Account, filters: AuditFilters, now: datetime) -> str:
    """``SELECT`` of the export rows, newest first, with its parameters bound as literals.

    Built from :func:`events_for_audit`, so the export holds exactly the rows the table
    pages through; it walks the same index in order, so nothing is sorted. COPY takes no
    bind parameters, hence the client-side binding. Columns are PostgreSQL's own text
    output wherever possible (times: ISO 8601 with the offset, in the account's time zone,
    set for the statement by :func:`event_export_stream`) — per-row formatting functions
    would cost more than the rest of the export together.
    """
    window = Case(
        When(status=EventStatus.PENDING, window_ends_at__gt=now, then=Value("open")),
        When(status=EventStatus.PENDING, then=Value("closing")),
        When(window_ends_at__lte=now, then=Value("closed")),
        default=Value("not_needed"),
        output_field=CharField(),
    )
    columns = {
        "event_id": F("event_id"),
        "account": Value(account.external_id, output_field=CharField()),
        "outcome_type": F("outcome_type__code"),
        "occurred_at": F("occurred_at"),
        "channel": F("channel"),
        "workflow": F("workflow"),
        "session_id": F("session_id"),
        "success_criteria_met": _Text(F("success_criteria_met")),
        "human_handoff": _Text(F("human_handoff")),
        "window_status": window,
        "window_ends_at": F("window_ends_at"),
        "verification_method": F("verification_method"),
        "status": F("status"),
        "non_billable_reason": F("non_billable_reason"),
        "non_billable_reason_text": _ReasonText(F("non_billable_reason")),
        "amount": F("amount"),
        "currency": F("currency"),
        "credits": F("credits"),
        "source_url": F("source_url"),
        "time_zone": Value(account.timezone, output_field=CharField()),
    }
    assert tuple(columns) == EXPORT_HEADERS
    # Aliases c0…cN avoid clashing with model field names; the outer SELECT names them.
    inner = events_for_audit(account=account, filters=filters).values(
        **{f"c{i}": expr for i, expr in enumerate(columns.values())},
        sort_at=F("occurred_at"),
        sort_id=F("id"),
    )
    sql, params = inner.query.sql_with_params()
    connection.ensure_connection()
    bound = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    outer = ", ".join(f'q.c{i} AS "{name}"' for i, name in enumerate(EXPORT_HEADERS))
    return f"SELECT {outer} FROM ({bound}) q ORDER BY q.sort_at DESC, q.sort_id DESC"


def event_export_stream(
    *, account: Account, filters: AuditFilters, now: datetime | None = None, chunk_bytes: int = 256 * 1024
) -> Iterator[bytes]:
    """The export as CSV bytes with a header row, streamed from ``COPY … TO STDOUT``.

    The statement is built here (errors surface before the response starts); the rows flow
    when the iterator is consumed, in chunks of about ``chunk_bytes`` as PostgreSQL sends
    them, so memory stays flat whatever the row count.
    """
    select = event_export_sql(account=account, filters=filters, now=now or timezone.now())
    statement = f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)"
    return _copy_out(statement, time_zone=account.timezone, chunk_bytes=chunk_bytes)


def _copy_out(statement: str, *, time_zone: str, chunk_bytes: int) -> Iterator[bytes]:
    with connection.cursor() as cursor:
        # Times print in the account's zone for this statement; the connection's zone (UTC,
        # which Django relies on) is put back whatever happens to the stream.
        cursor.execute("SELECT current_setting('TimeZone'), set_config('TimeZone', %s, false)", [time_zone])
        previous = cursor.fetchone()[0]
        try:
            with cursor.cursor.copy(statement) as copy:
                buffer = bytearray()
                for data in copy:
                    buffer += data
                    if len(buffer) >= chunk_bytes:
                        yield bytes(buffer)
                        buffer.clear()
                if buffer:
                    yield bytes(buffer)
        finally:
            cursor.execute("SELECT set_config('TimeZone', %s, false)", [previous])


# --- Event detail -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckExplained:
    code: str
    outcome: str  # passed | failed | n/a
    description: str  # what was checked, in plain words
    reason: str  # the reason word a failure of this check gives
    decisive: bool  # the first failure: the reason the event is not billable


def decision_explained(event: Event) -> list[CheckExplained]:
    """The stored decision, criterion by criterion, in the engine's order."""
    checks, decisive_seen = [], False
    for code, outcome in event.checks:
        reason, description = engine.CHECKS.get(code, ("", code))
        if code == "attempt_succeeded" and outcome == engine.FAILED:
            reason = event.failure_reason or "workflow_failed"
        decisive = outcome == engine.FAILED and not decisive_seen
        decisive_seen = decisive_seen or decisive
        checks.append(CheckExplained(code, outcome, description, reason, decisive))
    return checks


# The account-state facts a decision used (Event.state), in words.
STATE_TEXT = {
    "session_taken_by": "Another event of the same session was already counted",
    "in_training_window": "The outcome fell inside the free training window",
    "pilot_free": "The outcome fell inside the free pilot allowance",
    "cap_reached": "The monthly spend cap had been reached",
    "dispute_credited": "The charge was credited after a dispute",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # occurred | received | signal | window | settled
    title: str
    detail: str = ""
    upcoming: bool = False


def event_timeline(event: Event, signals: list, *, now: datetime) -> list[TimelineEntry]:
    """What happened to the event, in time order, with the window's end (past or to come)."""
    entries = [
        TimelineEntry(event.occurred_at, "occurred", "Outcome occurred", _join(event.channel, event.workflow)),
        TimelineEntry(event.received_at, "received", "Received and decided", "Stored exactly as posted"),
    ]
    for signal in signals:
        entries.append(
            TimelineEntry(
                signal.occurred_at,
                "signal",
                signal.get_type_display(),
                _join(signal.get_effect_display(), signal.note),
            )
        )
    confirmed_early = any(s.type == "confirmed" and s.occurred_at == event.window_ends_at for s in signals)
    if event.status == EventStatus.PENDING and event.window_ends_at > now:
        entries.append(
            TimelineEntry(
                event.window_ends_at,
                "window",
                "Measurement window ends",
                "Billable then, unless it is reopened, reversed or escalated before",
                upcoming=True,
            )
        )
    elif event.window_ends_at > now:  # decided before the window ran out (a failed attempt, a reopen…)
        entries.append(
            TimelineEntry(event.window_ends_at, "window", "Measurement window would end", "Not needed: already decided")
        )
    else:
        title = "Measurement window closed by confirmation" if confirmed_early else "Measurement window ended"
        entries.append(TimelineEntry(event.window_ends_at, "window", title))
    if event.settled_at:
        entries.append(TimelineEntry(event.settled_at, "settled", "Settled", f"Status: {event.get_status_display()}"))
    return sorted(entries, key=lambda e: (e.at, e.kind == "window"))


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


# --- The dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """One account's current period's outcomes, from DailyRollup. Counts only: what they cost is
    billing's (billing.charges), which prices them as the invoice does."""

    period: Period
    by_status: dict[str, int]
    total: int
    charged: int
    attempted: int  # decided outcomes, sandbox excluded

    @property
    def attainment(self) -> float | None:
        """Billable ÷ attempted, or None before anything was decided."""
        return self.charged / self.attempted if self.attempted else None


def period_summary(*, account: Account, period: Period) -> PeriodSummary:
    rows = list(
        DailyRollup.objects.filter(account_id=account.pk, day__gte=period.first_day, day__lt=period.end_day)
        .values("status", "non_billable_reason")
        .annotate(n=Sum("events"))
        .order_by()
    )
    by_status = dict.fromkeys(STATUS_ORDER, 0)
    attempted = charged = 0
    for row in rows:
        status, n = row["status"], int(row["n"])
        by_status[status] = by_status.get(status, 0) + n
        if status in CHARGED_STATUSES:
            charged += n
        if status != EventStatus.PENDING and row["non_billable_reason"] != "sandbox":
            attempted += n
    return PeriodSummary(
        period=period,
        by_status=by_status,
        total=sum(by_status.values()),
        charged=charged,
        attempted=attempted,
    )


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Per-day outcome counts for the charts, every day of the range present (zeros included)."""

    days: list[date]
    by_status: dict[str, list[int]]
    reasons: list[tuple[str, int]] = field(default_factory=list)  # (reason word, events), largest first


def daily_series(*, account: Account, first_day: date, end_day: date) -> DailySeries:
    """Outcomes per day by status and non-billable reasons for [first_day, end_day)."""
    days = [first_day + timedelta(days=i) for i in range((end_day - first_day).days)]
    index = {d: i for i, d in enumerate(days)}
    base = DailyRollup.objects.filter(account_id=account.pk, day__gte=first_day, day__lt=end_day)
    by_status = {s: [0] * len(days) for s in STATUS_ORDER}
    for row in base.values("day", "status").annotate(n=Sum("events")).order_by():
        i = index[row["day"]]
        by_status.setdefault(row["status"], [0] * len(days))[i] += int(row["n"])
    reasons = [
        (row["non_billable_reason"], int(row["n"]))
        for row in base.exclude(non_billable_reason="")
        .values("non_billable_reason")
        .annotate(n=Sum("events"))
        .order_by("-n", "non_billable_reason")
    ]
    return DailySeries(days=days, by_status=by_status, reasons=reasons)


# --- Vendor overview ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountOverview:
    account_id: int
    external_id: str
    name: str
    tier: str
    industry: str
    currency: str
    outcomes: int
    charged: int
    pending: int
    attempted: int
    previous_charged: int
    previous_attempted: int

    @property
    def attainment(self) -> float | None:
        return self.charged / self.attempted if self.attempted else None

    @property
    def previous_attainment(self) -> float | None:
        return self.previous_charged / self.previous_attempted if self.previous_attempted else None


# Each account's period bounds are computed once (MATERIALIZED), then each account reads its
# own two months of rollup rows through the rollup's (account_id, day, …) unique index.
_OVERVIEW_SQL = """
WITH bounds AS MATERIALIZED (
    SELECT a.id, a.external_id, a.name, a.tier, a.industry, a.currency,
           date_trunc('month', %(now)s AT TIME ZONE a.timezone)::date AS period_start,
           (date_trunc('month', %(now)s AT TIME ZONE a.timezone) + interval '1 month')::date AS period_end,
           (date_trunc('month', %(now)s AT TIME ZONE a.timezone) - interval '1 month')::date AS previous_start
    FROM accounts_account a
)
SELECT b.id, b.external_id, b.name, b.tier, b.industry, b.currency,
       s.outcomes, s.charged, s.pending, s.attempted, s.previous_charged, s.previous_attempted
FROM bounds b
CROSS JOIN LATERAL (
    SELECT
        coalesce(sum(r.events) FILTER (WHERE r.day >= b.period_start), 0) AS outcomes,
        coalesce(sum(r.events) FILTER (WHERE r.day >= b.period_start AND r.status = ANY(%(charged)s)), 0) AS charged,
        coalesce(sum(r.events) FILTER (WHERE r.day >= b.period_start AND r.status = 'pending'), 0) AS pending,
        coalesce(sum(r.events) FILTER (WHERE r.day >= b.period_start AND r.status <> 'pending'
                                         AND r.non_billable_reason <> 'sandbox'), 0) AS attempted,
        coalesce(sum(r.events) FILTER (WHERE r.day < b.period_start AND r.status = ANY(%(charged)s)), 0)
            AS previous_charged,
        coalesce(sum(r.events) FILTER (WHERE r.day < b.period_start AND r.status <> 'pending'
                                         AND r.non_billable_reason <> 'sandbox'), 0) AS previous_attempted
    FROM metering_dailyrollup r
    WHERE r.account_id = b.id AND r.day >= b.previous_start AND r.day < b.period_end
) s
ORDER BY b.name, b.id
"""


def accounts_overview(*, now: datetime | None = None) -> list[AccountOverview]:
    """Every account's current period (each in its own time zone) and the previous one's attainment."""
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW_SQL, {"now": now or timezone.now(), "charged": list(CHARGED_STATUSES)})
        return [
            AccountOverview(
                account_id=row[0],
                external_id=row[1],
                name=row[2],
                tier=row[3],
                industry=row[4],
                currency=row[5],
                outcomes=int(row[6]),
                charged=int(row[7]),
                pending=int(row[8]),
                attempted=int(row[9]),
                previous_charged=int(row[10]),
                previous_attempted=int(row[11]),
            )
            for row in cursor.fetchall()
        ]


# --- "You are not charged when…" ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeTerms:
    """What one outcome type costs this account and what makes it count."""

    outcome_type: OutcomeType
    criteria: SuccessCriteria
    is_override: bool  # the account's enterprise definition, not the product one


def charging_terms_for(*, account: Account) -> list[OutcomeTerms]:
    types = outcome_types_for(account=account)
    current = criteria_current(account_ids=[account.pk], outcome_type_ids=[t.pk for t in types])
    terms = []
    for outcome_type in types:
        criteria = criteria_for(current, account_id=account.pk, outcome_type_id=outcome_type.pk)
        if criteria is not None:
            override = criteria.account_id is not None
            terms.append(OutcomeTerms(outcome_type=outcome_type, criteria=criteria, is_override=override))
    return terms
