"""The CSV export of the audit table, streamed from ``COPY … TO STDOUT``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import psycopg
from django.db import connection
from django.db.models import Case, CharField, F, Func, Value, When
from django.utils import timezone
from psycopg.sql import quote

from accounts.models import Account
from billing.audit.table import AuditFilters, events_for_audit
from billing.ledger.shown import REASONS, charged_sql, shown_sql
from metering.models import EventStatus

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


def event_export_sql(*, account: Account, filters: AuditFilters, now: datetime) -> str:
    """``SELECT`` of the export rows, newest first, with its parameters bound as literals.

    Built from :func:`events_for_audit`, so the export holds exactly the rows the table pages
    through; it walks the same index in order, so nothing is sorted, and joins each event's charge
    once (status, reason and amount read as billing.ledger.shown says). COPY takes no bind
    parameters, hence the client-side binding. Columns are PostgreSQL's own text output wherever
    possible (times: ISO 8601 with the offset, in the account's time zone, set for the statement by
    :func:`event_export_stream`) — per-row formatting functions would cost more than the rest of
    the export together.
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
        "source_url": F("source_url"),
        "time_zone": Value(account.timezone, output_field=CharField()),
    }
    # Aliases c0…cN avoid clashing with model field names; the outer SELECT names them.
    inner = events_for_audit(account=account, filters=filters).values(
        **{f"c{i}": expr for i, expr in enumerate(columns.values())},
        e_status=F("status"),
        e_reason=F("non_billable_reason"),
        sort_at=F("occurred_at"),
        sort_id=F("id"),
    )
    sql, params = inner.query.sql_with_params()
    connection.ensure_connection()
    bound = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    status, reason = shown_sql("q.e_status", "q.e_reason", "c")
    joined = {
        "status": status,
        "non_billable_reason": reason,
        # The reason in words: one lookup in a constant JSON object (a CASE over 17 words costs the
        # export a sixth of its server time).
        "non_billable_reason_text": f"coalesce({quote(json.dumps(REASONS))}::jsonb ->> ({reason}), '')",
        "amount": charged_sql("amount"),
        "currency": f"coalesce(c.currency, {quote(account.currency)})",
        "credits": charged_sql("credits"),
    }
    named = {name: f"q.c{i}" for i, name in enumerate(columns)}
    named.update(joined)
    outer = ", ".join(f'{named[name]} AS "{name}"' for name in EXPORT_HEADERS)
    # LATERAL: each row probes its charge by primary key, so the rows keep the index's order (a
    # hash join would have the million rows sorted again).
    return (
        f"SELECT {outer} FROM ({bound}) q LEFT JOIN LATERAL (SELECT b.state, b.reason, b.amount, b.currency, "
        "b.credits FROM billing_charge b WHERE b.event_id = q.sort_id) c ON true "
        "ORDER BY q.sort_at DESC, q.sort_id DESC"
    )


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
