"""Settlement of pending events whose measurement window has closed.

    python bench/settle.py                    # 1,000,000 pending events
    python bench/settle.py --events 100000    # a quick check
    python bench/settle.py --workers 2        # two runs at once, each on its own connection

Empties the bench database's event tables, inserts the pending events in one set-based
``INSERT … SELECT … FROM generate_series`` (realistic columns spread over 50 accounts and
4 outcome types, every window closed before ``now``; the insert trigger queues them in
``metering_pendingwindow`` as it does for ingestion), runs ``VACUUM ANALYZE``, then times
``billing.ingestion.outcomes_settle(now=now)`` — ``--workers`` calls at once, as concurrent
scheduled runs would make them. Prints events/s, the backend CPU per event summed over the
connections, and the WAL written (the whole server's: other databases' writes count too).
Verifies that every event is billable with ``settled_at = now`` afterwards and that a second
run settles nothing.

See bench/README.md for the target and the figures measured.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import benchlib


def insert_pending(*, events: int, now: datetime) -> float:
    """Insert ``events`` pending events with closed windows; returns the seconds it took."""
    from django.db import connection

    from accounts.models import Account
    from metering import engine
    from metering.fields import checks_encode
    from metering.models import OutcomeType
    from metering.selectors import criteria_current

    accounts = list(
        Account.objects.filter(external_id__startswith=benchlib.ACCOUNT_PREFIX)
        .order_by("id")
        .values_list("id", "currency")
    )
    types = list(OutcomeType.objects.filter(code__in=[t["code"] for t in benchlib.OUTCOME_TYPES]).order_by("id"))
    current = criteria_current(account_ids=[], outcome_type_ids=[t.pk for t in types])
    criteria = [current[(None, t.pk)] for t in types]
    # What the engine records for an event that passed every check (the stored `checks` column).
    checks = checks_encode([(code, engine.PASSED) for code in engine.CHECK_ORDER])
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_event (
                account_id, event_id, outcome_type_id, occurred_at, success_criteria_met, human_handoff,
                channel, workflow, session_id, complexity, verification_method, source_url, sandbox,
                failure_reason, value_amount, cost_amount, attributes, payload_hash, received_at, status,
                non_billable_reason, window_ends_at, criteria_id, checks, state, decided_at, settled_at)
            SELECT
                (%(accounts)s::bigint[])[1 + g %% %(n_accounts)s],
                'settle-' || lpad(g::text, 9, '0'),
                (%(types)s::bigint[])[1 + t],
                o.occurred_at,
                true,
                g %% 23 = 0,
                (ARRAY['chat', 'chat', 'email', 'voice'])[1 + g %% 4],
                (ARRAY['billing_question', 'password_reset', 'order_status', 'refund'])[1 + g %% 4],
                'sess-' || g,
                (ARRAY['simple', 'moderate', 'complex'])[1 + g %% 3],
                'crm_sync',
                'https://platform.example.com/conversations/' || g,
                false,
                '',
                CASE WHEN t IN (1, 3) THEN (20 + g %% 500) + 0.50 END,
                0.0421 + (g %% 100) / 10000.0,
                jsonb_build_object('agent_version', 'v3.2', 'language', 'en', 'turns', g %% 17),
                md5(g::text),
                o.occurred_at + interval '2 seconds',
                'pending',
                '',
                o.occurred_at + (%(windows)s::int[])[1 + t] * interval '1 hour',
                (%(criteria)s::bigint[])[1 + t],
                %(checks)s,
                '{}'::jsonb,
                o.occurred_at + interval '2 seconds',
                NULL
            FROM generate_series(1, %(events)s) AS g
            CROSS JOIN LATERAL (SELECT g %% 4 AS t) AS k
            -- 31 to 40 days ago: every window (at most 30 days) has closed by `now`.
            CROSS JOIN LATERAL (
                SELECT %(now)s::timestamptz - interval '40 days' + (g %% 777600) * interval '1 second' AS occurred_at
            ) AS o
            """,
            {
                "accounts": [a[0] for a in accounts],
                "n_accounts": len(accounts),
                "types": [t.pk for t in types],
                "criteria": [c.pk for c in criteria],
                "windows": [c.measurement_window_hours for c in criteria],
                "checks": checks,
                "events": events,
                "now": now,
            },
        )
        # Their charges, as ingestion writes them (estimated until settlement rates them).
        benchlib.charges_from_events(cursor, where="e.event_id LIKE 'settle-%%'")
    return time.perf_counter() - started


def wal_position() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'")
        return int(cursor.fetchone()[0])


def settle_on_connections(*, now: datetime, chunk: int, workers: int) -> list[tuple[int, float | None]]:
    """``workers`` runs of ``outcomes_settle`` at once, each on its own connection (as two
    scheduled runs would be). Returns (settled, backend CPU seconds) per run."""
    from django.db import connection

    from billing.ingestion import outcomes_settle

    barrier = threading.Barrier(workers)

    def run(_: int) -> tuple[int, float | None]:
        try:
            connection.ensure_connection()
            backend = connection.connection.info.backend_pid
            barrier.wait()
            before = benchlib.backend_cpu(backend)
            settled = outcomes_settle(now=now, chunk=chunk)
            after = benchlib.backend_cpu(backend)
            return settled, None if before is None or after is None else after - before
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def main() -> None:
    from django.db import connection

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: the embedded one in .data/pg)")
    parser.add_argument("--events", type=int, default=1_000_000, help="pending events (default 1,000,000)")
    parser.add_argument("--chunk", type=int, default=None, help="rows per UPDATE (default: SETTLE_CHUNK)")
    parser.add_argument("--workers", type=int, default=1, help="parallel connections settling chunks (default 1)")
    args = parser.parse_args()

    url = benchlib.bench_database_url(args.database_url)
    benchlib.django_setup(url)
    benchlib.migrate()
    benchlib.reset_events()
    benchlib.world_setup()

    from billing.ingestion import outcomes_settle
    from metering.services import SETTLE_CHUNK

    chunk = args.chunk or SETTLE_CHUNK
    print(f"machine: {benchlib.machine()}")
    print(
        f"database: {connection.settings_dict['NAME']} on PostgreSQL {benchlib.server_version()} "
        f"({'embedded, .data/pg' if '.data/pg' in url else 'DATABASE_URL'})"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average before: {os.getloadavg()[0]:.2f}")

    now = datetime.now(UTC).replace(microsecond=0)
    seconds = insert_pending(events=args.events, now=now)
    print(f"\ninserted {args.events:,} pending events in {seconds:.1f} s ({args.events / seconds:,.0f} rows/s)")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE metering_event")
        cursor.execute("VACUUM ANALYZE billing_charge")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")

    wal_before = wal_position()
    busy_before = benchlib.machine_busy()
    started = time.perf_counter()
    runs = settle_on_connections(now=now, chunk=chunk, workers=args.workers)
    seconds = time.perf_counter() - started
    busy_after = benchlib.machine_busy()
    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1e-9)
    settled = sum(n for n, _ in runs)
    cpu = sum(c for _, c in runs) if all(c is not None for _, c in runs) else None
    wal = wal_position() - wal_before  # the whole server's WAL: other databases' writes count too

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status = 'billable' AND settled_at = %s), "
            "count(*) FILTER (WHERE status = 'pending'), count(*) FROM metering_event",
            [now],
        )
        billable, pending, total = cursor.fetchone()
    started = time.perf_counter()
    again = outcomes_settle(now=now, chunk=chunk)
    again_seconds = time.perf_counter() - started

    print(f"\noutcomes_settle(now=…), chunks of {chunk:,}, {args.workers} connection(s):")
    print(f"  settled             {settled:,} in {seconds:.2f} s")
    print(f"  events/s            {settled / seconds:,.0f}   (target ≥ 100,000)")
    print(f"  machine CPU busy    {busy:.0%} of {os.cpu_count()} cores during the run")
    if cpu is not None and settled:
        print(
            f"  backend CPU         {cpu:.2f} s over {args.workers} backend(s) in {seconds:.2f} s → "
            f"{cpu / settled * 1e6:.1f} µs per event ({settled / cpu:,.0f} events per backend CPU-second)"
        )
    if settled:
        print(f"  WAL written         {wal / 1e6:,.0f} MB → {wal / settled:,.0f} bytes per event")
    ok = settled == args.events and billable == args.events and pending == 0 and total == args.events
    print(f"  billable after      {billable:,} of {total:,}, pending {pending:,}   → {'OK' if ok else 'MISMATCH'}")
    verdict = "OK" if again == 0 else "MISMATCH"
    print(f"  second run          settled {again:,} in {again_seconds * 1000:.0f} ms   → {verdict}")


if __name__ == "__main__":
    main()
