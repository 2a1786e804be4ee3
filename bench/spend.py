"""Spend controls: the cost of caps at ingestion, and the account-status endpoint's latency.

Issue 5 "Speed": the ingestion benchmark rerun with every account capped must stay within
15 % of the uncapped figure, and ``GET /api/v1/accounts/{id}/status`` must answer with a
p95 ≤ 10 ms of server time.

Runs in-process against the bench database (``outcomeportal_bench``, see benchlib):

1. ``--batches`` batches of 1,000 events through ``billing.ingestion.events_ingest`` with no
   spend controls, then the same number (fresh events) with every one of the 50 accounts
   capped (a cap above what the run reaches, pause at cap, thresholds 50/80/100 — the
   steady state of a capped account: every batch takes the account's period lock and reads
   the period's spend), then again with caps low enough that accounts cross them mid-run
   (thresholds fire, the account pauses, later outcomes are ruled out). Prints events/s and
   CPU per 1,000 events (this process + its PostgreSQL backend), and the ratios.
2. ``--status-requests`` GETs of the status endpoint through Django's WSGI handler (vendor
   key, random accounts): prints p50 / p95 / p99 server time.

    python bench/spend.py                 # 20 batches per phase, 2,000 status requests
    python bench/spend.py --batches 50
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib


def _ingest_phase(label: str, *, batches: int, tag: str, base: datetime) -> dict:
    from django.db import connection

    from billing.ingestion import events_ingest

    bodies = [[benchlib.event_payload(b * 1000 + i, tag=tag, base=base) for i in range(1000)] for b in range(batches)]
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db_before, cpu_before, started = benchlib.backend_cpu(pid), time.process_time(), time.perf_counter()
    for body in bodies:
        events_ingest(raw_events=body)
    wall = time.perf_counter() - started
    app_cpu = time.process_time() - cpu_before
    db_cpu = (benchlib.backend_cpu(pid) or 0) - (db_before or 0)
    events = batches * 1000
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM billing_charge c JOIN metering_event e ON e.id = c.event_id "
            "WHERE e.event_id LIKE %s AND c.reason = 'cap_reached'",
            [f"{tag}-%"],
        )
        capped = cursor.fetchone()[0]
    row = {
        "label": label,
        "events_per_s": events / wall,
        "cpu_ms_per_1000": (app_cpu + db_cpu) * 1000 / (events / 1000),
        "app_ms": app_cpu * 1000 / (events / 1000),
        "db_ms": db_cpu * 1000 / (events / 1000),
        "cap_reached": capped,
    }
    print(
        f"  {label:<44} {row['events_per_s']:>8,.0f} events/s   CPU {row['cpu_ms_per_1000']:6.1f} ms/1,000 "
        f"(app {row['app_ms']:.1f} + DB {row['db_ms']:.1f})   cap_reached {capped:,}"
    )
    return row


def _cap_all(amount: Decimal | None) -> None:
    from accounts.models import Account
    from billing.models import SpendControl, SpendPeriod
    from billing.spend.services import spend_controls_set

    SpendControl.objects.all().delete()
    SpendPeriod.objects.all().delete()
    if amount is None:
        return
    for account in Account.objects.filter(external_id__startswith=benchlib.ACCOUNT_PREFIX):
        spend_controls_set(
            account=account,
            monthly_cap=amount,
            monthly_cap_outcomes=None,
            alert_thresholds=[50, 80, 100],
            at_cap="pause",
            changed_by="bench",
        )


def _status_latency(requests: int, key: str) -> dict:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    handler = WSGIHandler()
    factory = RequestFactory()
    accounts = [f"{benchlib.ACCOUNT_PREFIX}{n:02d}" for n in range(benchlib.N_ACCOUNTS)]
    rng = random.Random(5)
    times = []
    for i in range(requests + 50):
        environ = factory.get(
            f"/api/v1/accounts/{rng.choice(accounts)}/status", HTTP_AUTHORIZATION=f"Bearer {key}"
        ).environ
        started = time.perf_counter()
        status = []
        body = b"".join(handler(environ, lambda s, h, status=status: status.append(s)))
        elapsed = time.perf_counter() - started
        assert status[0].startswith("200"), (status, body[:200])
        if i >= 50:  # warm-up done
            times.append(elapsed * 1000)
    times.sort()
    return {q: benchlib.percentile(times, q) for q in (0.5, 0.95, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batches", type=int, default=20, help="1,000-event batches per phase (20)")
    parser.add_argument("--status-requests", type=int, default=2000)
    args = parser.parse_args()

    url = benchlib.bench_database_url(args.database_url)
    benchlib.django_setup(url)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    benchlib.migrate()
    benchlib.reset_events()
    world = benchlib.world_setup()
    load = os.getloadavg()[0]
    print(f"machine: {benchlib.machine()}")
    print(f"database: {benchlib.server_version()} · load average before: {load:.2f}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")

    base = datetime.now(UTC)
    print(f"1. Ingestion in-process, {args.batches} batches of 1,000 per phase")
    _cap_all(None)
    uncapped = _ingest_phase("no spend controls", batches=args.batches, tag="u", base=base)
    _cap_all(Decimal("1000000.00"))
    capped = _ingest_phase("every account capped, cap not reached", batches=args.batches, tag="c", base=base)
    # About 20 events per account per batch at ~$1-3 each: a $600 cap is crossed mid-run.
    _cap_all(Decimal("600.00"))
    crossing = _ingest_phase("every account capped, caps crossed mid-run", batches=args.batches, tag="x", base=base)
    for row in (capped, crossing):
        print(
            f"  {row['label']}: throughput {row['events_per_s'] / uncapped['events_per_s']:.0%} of uncapped, "
            f"CPU {row['cpu_ms_per_1000'] / uncapped['cpu_ms_per_1000']:.0%} of uncapped (target: within 15 %)"
        )

    print(f"\n2. GET /api/v1/accounts/{{id}}/status, {args.status_requests:,} requests (server time, in-process)")
    q = _status_latency(args.status_requests, world["key"])
    print(f"  p50 {q[0.5]:.2f} ms   p95 {q[0.95]:.2f} ms   p99 {q[0.99]:.2f} ms   (target p95 ≤ 10 ms)")
    _cap_all(None)


if __name__ == "__main__":
    main()
