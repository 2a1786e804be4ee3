"""Benchmark of the customer audit portal: server time per request on a big account.

    python bench/portal.py                      # 10,000,000 events, 50 accounts, one with 2,000,000
    python bench/portal.py --events 200000      # a quick run (the big account keeps its 20 % share)
    python bench/portal.py --skip-fill          # measure again on the data already there
    python bench/portal.py --explain            # also print EXPLAIN ANALYZE of the audit queries

It fills its own database, ``outcomeportal_bench_portal`` (never the dev database), on the
embedded PostgreSQL in ``.data/pg`` or on the server of ``--database-url``. The fill is
plain SQL — one ``INSERT … SELECT`` over ``generate_series`` per account, with triggers and
secondary indexes off, then the indexes rebuilt and DailyRollup rebuilt with one
``INSERT … SELECT … GROUP BY`` (exactly what the triggers maintain), triggers back on.

Then, in-process through Django's test client as a signed-in customer admin of the big
account, it times: the audit table's first page, a page 1,000 pages deep, a filtered page
(status + reason + 30-day range), the dashboard, the vendor overview, and the CSV export
of every event of the big account (rows/s and peak RSS). Figures are p50/p95 per case.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATABASE = "outcomeportal_bench_portal"
N_ACCOUNTS = 50
BIG_SHARE = 0.2  # 2,000,000 of 10,000,000
SPAN_DAYS = 120
PAGE = 50


# --- Database ---------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def database_url(server_url: str | None) -> str:
    """The bench database's URL (created if missing). Refuses any name without 'bench'."""
    import psycopg

    if server_url:
        url = _with_database(server_url, urlsplit(server_url).path.lstrip("/") or DATABASE)
        admin = _with_database(url, "postgres")
    else:
        data_dir = ROOT / ".data"
        os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir / "run"))
        (data_dir / "run").mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
        url, admin = server.get_uri(DATABASE), server.get_uri("postgres")
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r}: the bench database's name must contain 'bench'.")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomeportal.settings")
    os.environ.setdefault("STATIC_MANIFEST", "false")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- The fill -----------------------------------------------------------------------------------

# (reason, share per mille): what makes an event not billable, roughly as in a support desk.
REASON_MIX = [
    ("abandoned", 60),
    ("workflow_failed", 30),
    ("greeting_only", 20),
    ("unanswered_question", 15),
    ("human_handoff", 65),
    ("duplicate_in_session", 25),
    ("sandbox", 20),
    ("criteria_not_met", 15),
    ("verification_failed", 12),
    ("reopened_in_window", 10),
    ("escalated_in_window", 4),
    ("reversed_in_window", 2),
    ("cap_reached", 1),
    ("dispute_credited", 3),
]
DISPUTED_PER_MILLE = 6
TYPES = [  # code, name, price, window hours, share of 10
    ("resolved_conversation", "Resolved conversation", "0.99", 72, 7),
    ("qualified_lead", "Qualified lead", "25.00", 168, 2),
    ("completed_screening", "Completed screening", "4.50", 48, 1),
]
TIMEZONES = ["UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles"]


def _checks_for(reason: str) -> str:
    from metering import engine
    from metering.fields import checks_encode

    failing = {code for code, (r, _) in engine.CHECKS.items() if r == reason}
    if reason in engine.FAILURE_REASONS:
        failing = {"attempt_succeeded"}
    return checks_encode([(code, "failed" if code in failing else "passed") for code in engine.CHECK_ORDER])


def fill(n_events: int, big_events: int | None = None, jobs: int = 2) -> None:

    import benchlib
    from django.db import connection, models
    from django.utils import timezone

    from accounts.models import Account, Role, User
    from accounts.services import account_create
    from billing.ledger.models import Charge
    from metering.models import Event, OutcomeType, SuccessCriteria
    from metering.services import outcome_type_create

    started = time.perf_counter()
    types = []
    for code, name, price, window, share in TYPES:
        outcome_type = OutcomeType.objects.filter(code=code).first() or outcome_type_create(
            code=code, name=name, unit_price=price, value_type="labor_savings", measurement_window_hours=window
        )
        criteria = SuccessCriteria.objects.filter(outcome_type=outcome_type, account=None).order_by("-version").first()
        types.append((outcome_type.pk, criteria.pk, price, window, share))
    accounts = []
    for i in range(N_ACCOUNTS):
        external_id = f"bench-{i:02d}"
        account = Account.objects.filter(external_id=external_id).first() or account_create(
            external_id=external_id,
            name="Big Bench Co" if i == 0 else f"Bench Account {i:02d}",
            timezone_name="America/New_York" if i == 0 else TIMEZONES[i % len(TIMEZONES)],
            tier=["enterprise", "mid-market", "smb"][i % 3],
            industry=["saas", "ecommerce", "fintech", "telecom"][i % 4],
        )
        accounts.append(account)
    big = big_events if big_events is not None else round(n_events * BIG_SHARE)
    rest = n_events - big
    others = N_ACCOUNTS - 1
    sizes = [big] + [rest // others + (1 if k < rest % others else 0) for k in range(others)]
    if not User.objects.filter(username="bench-admin").exists():
        User.objects.create_user(
            "bench-admin", password="bench-Secret-1", role=Role.CUSTOMER_ADMIN, account=accounts[0]
        )
    if not User.objects.filter(username="bench-operator").exists():
        User.objects.create_user("bench-operator", password="bench-Secret-1", role=Role.VENDOR_OPERATOR)

    now = timezone.now()
    start = now - timedelta(days=SPAN_DAYS)
    reason_case, lo = [], 0
    for reason, share in REASON_MIX:
        reason_case.append(f"WHEN r < {lo + share} THEN '{reason}'")
        lo += share
    disputed_hi = lo + DISPUTED_PER_MILLE
    bounds, acc = [], 0  # (upper bound of t, (type id, criteria id, price, window hours))
    for type_id, criteria_id, price, window, share in types:
        acc += share
        bounds.append((acc, (type_id, criteria_id, price, window)))

    BILLING = "'cap_reached', 'dispute_credited'"  # billing's reasons in the mix (the charge's)

    def type_case(column: int) -> str:
        return "CASE " + " ".join(f"WHEN t < {hi} THEN {values[column]}" for hi, values in bounds) + " END"

    print(f"fill: {n_events:,} events, {N_ACCOUNTS} accounts, the big one {big:,}; {jobs} parallel jobs", flush=True)
    with connection.cursor() as cursor:
        benchlib.truncate(
            cursor,
            "TRUNCATE metering_event, metering_dailyrollup, metering_monthlyrollup, billing_charge, "
            "billing_chargerollup, billing_chargemonthrollup "
            "RESTART IDENTITY CASCADE",
        )
        # Secondary indexes and constraints go; they are rebuilt once at the end from the model's Meta
        # (so an interrupted fill never leaves the table without them on the next run).
        for index in [*Event._meta.indexes, *Charge._meta.indexes]:
            cursor.execute(f'DROP INDEX IF EXISTS "{index.name}"')
        for constraint in Event._meta.constraints:
            cursor.execute(f'ALTER TABLE metering_event DROP CONSTRAINT IF EXISTS "{constraint.name}"')
        cursor.execute("DROP TABLE IF EXISTS bench_checks")
        cursor.execute("CREATE UNLOGGED TABLE bench_checks (reason text PRIMARY KEY, checks text)")
        for reason in ["", *(r for r, _ in REASON_MIX)]:
            cursor.execute("INSERT INTO bench_checks VALUES (%s, %s)", [reason, _checks_for(reason)])
        cursor.execute("ANALYZE bench_checks")

    # One job per account; the big account in slices, so that the jobs keep every core busy.
    work = []
    for account, n in zip(accounts, sizes, strict=True):
        step_us = int(SPAN_DAYS * 86400 * 1_000_000 / n) if n else 0
        slice_size = max(n // (jobs * 2), 1) if n > 500_000 else max(n, 1)
        for first in range(0, n, slice_size):
            work.append((account, first, min(first + slice_size, n) - 1, step_us))
    done = [0]

    def insert(job) -> int:
        account, first, last, step_us = job
        try:
            with connection.cursor() as cursor:
                # No triggers (foreign keys are right by construction; rollups are rebuilt below).
                cursor.execute("SET session_replication_role = replica")
                cursor.execute(
                    f"""
                WITH g AS MATERIALIZED (
                    SELECT b.*, b.at + b.window_hours * interval '1 hour' AS window_end,
                           CASE {" ".join(reason_case)} ELSE '' END AS reason
                    FROM (
                        SELECT i, %(start)s + (i * %(step)s) * interval '1 microsecond' AS at,
                               ((i * 2654435761) %% 1000)::int AS r,
                               {type_case(0)} AS type_id, {type_case(1)} AS criteria_id,
                               {type_case(2)}::numeric AS price, {type_case(3)} AS window_hours
                        FROM (SELECT i, ((i * 40503) %% 10)::int AS t
                              FROM generate_series(%(first)s::bigint, %(last)s::bigint) i) s
                    ) b
                ), stored AS (
                INSERT INTO metering_event (account_id, event_id, outcome_type_id, occurred_at, success_criteria_met,
                    human_handoff, channel, workflow, session_id, complexity, verification_method, source_url,
                    sandbox, failure_reason, value_amount, cost_amount, attributes, payload_hash, received_at,
                    status, non_billable_reason, window_ends_at, criteria_id, checks, state, decided_at, settled_at)
                SELECT %(account)s, 'evt-' || lpad(g.i::text, 8, '0'), g.type_id, g.at, g.reason <> 'criteria_not_met',
                    g.reason = 'human_handoff', (ARRAY['chat','chat','chat','email','voice','sms'])[1 + g.i %% 6],
                    (ARRAY['billing_question','password_reset','order_status','refund','onboarding','account_update'])
                        [1 + (g.i / 7) %% 6],
                    'sess-' || (g.i / 2), (ARRAY['simple','simple','moderate','complex'])[1 + g.i %% 4],
                    (ARRAY['customer_confirmed','inactivity_timeout','llm_verified','crm_accepted'])
                        [1 + (g.i / 3) %% 4],
                    'https://helpdesk.example.com/tickets/' || g.i, g.reason = 'sandbox',
                    CASE WHEN g.reason IN ('abandoned','workflow_failed','greeting_only','unanswered_question')
                        THEN g.reason ELSE '' END,
                    NULL, 0.031 + (g.r %% 40) / 100.0,
                    (ARRAY['{{"language": "en", "turns": 4}}', '{{"language": "de", "turns": 7}}',
                           '{{"language": "en", "turns": 2, "csat": 5}}'])[1 + g.i %% 3]::jsonb,
                    lpad(to_hex(g.i * 2654435761), 32, '0'), g.at + interval '2 seconds',
                    CASE WHEN g.reason NOT IN ('', {BILLING}) THEN 'non_billable'
                         WHEN g.window_end > %(now)s THEN 'pending' ELSE 'billable' END,
                    CASE WHEN g.reason IN ({BILLING}) THEN '' ELSE g.reason END, g.window_end, g.criteria_id,
                    c.checks, '{{}}'::jsonb, g.at + interval '2 seconds',
                    CASE WHEN g.reason IN ('', {BILLING}) AND g.window_end <= %(now)s THEN g.window_end END
                FROM g JOIN bench_checks c ON c.reason = g.reason
                RETURNING id, event_id
                )
                -- Each event's charge as ingestion, settlement, invoicing and disputes leave it: allowances
                -- and the cap are billing's reasons; last month's outcomes are invoiced, a few disputed.
                INSERT INTO billing_charge (event_id, account_id, outcome_type_id, occurred_at, complexity,
                    value_amount, attempt, contract_version_id, amount, credits, currency, state, reason,
                    invoice_line_id)
                SELECT x.id, %(account)s, g.type_id, g.at,
                    (ARRAY['simple','simple','moderate','complex'])[1 + g.i %% 4], NULL, x.attempt, NULL,
                    CASE WHEN g.reason = '' THEN g.price END, NULL, %(currency)s, x.state,
                    CASE WHEN g.reason IN ({BILLING}) THEN g.reason ELSE '' END,
                    CASE WHEN x.state IN ('invoiced', 'disputed') THEN 1 END
                FROM stored s JOIN g ON s.event_id = 'evt-' || lpad(g.i::text, 8, '0')
                CROSS JOIN LATERAL (SELECT s.id, g.reason IN ({benchlib.ATTEMPT_REASONS_SQL}) AS attempt,
                    CASE WHEN g.reason IN ({benchlib.ATTEMPT_REASONS_SQL}) THEN 'rated'
                         WHEN g.reason = 'dispute_credited' THEN 'credited'
                         WHEN g.window_end > %(now)s THEN 'estimated'
                         WHEN g.reason = '' AND g.at < date_trunc('month', %(now)s) AND g.r < {disputed_hi}
                              THEN 'disputed'
                         WHEN g.reason = '' AND g.at < date_trunc('month', %(now)s) THEN 'invoiced'
                         ELSE 'rated' END AS state) x
                WHERE g.reason IN ('', {BILLING}, {benchlib.ATTEMPT_REASONS_SQL})
                """,
                    {
                        "account": account.pk,
                        "first": first,
                        "last": last,
                        "start": start,
                        "step": step_us,
                        "now": now,
                        "currency": account.currency,
                    },
                )
                cursor.execute("SET session_replication_role = DEFAULT")
            done[0] += last - first + 1
            sys.stdout.write(f"\r  inserted {done[0]:,} ({time.perf_counter() - started:.0f} s)   ")
            sys.stdout.flush()
            return last - first + 1
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        assert sum(pool.map(insert, work)) == n_events
    print()

    # Indexes built side by side (CREATE INDEX takes a SHARE lock: several may run at once);
    # the unique constraint is attached to its index afterwards.
    t = time.perf_counter()
    with connection.schema_editor(collect_sql=True) as editor:
        statements = [str(index.create_sql(Event, editor)) for index in Event._meta.indexes]
        statements += [str(index.create_sql(Charge, editor)) for index in Charge._meta.indexes]
    unique = [c for c in Event._meta.constraints if isinstance(c, models.UniqueConstraint)]
    for c in unique:
        columns = ", ".join(Event._meta.get_field(f).column for f in c.fields)
        statements.append(f'CREATE UNIQUE INDEX "{c.name}" ON metering_event ({columns})')

    def build(statement: str) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '512MB'")
                cursor.execute(statement)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(build, statements))
    with connection.cursor() as cursor:
        for c in unique:
            cursor.execute(f'ALTER TABLE metering_event ADD CONSTRAINT "{c.name}" UNIQUE USING INDEX "{c.name}"')
        print(f"  indexes rebuilt ({len(statements)}): {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        # In day order, as ingestion creates them (a key's row at its first event): a reader of recent
        # days finds their rows together, not one per page as a hash aggregate's order would leave them.
        cursor.execute(
            """
            INSERT INTO metering_dailyrollup (account_id, day, outcome_type_id, status, non_billable_reason, events,
                reported_cost, uncosted, uncosted_simple, uncosted_moderate, uncosted_complex)
            SELECT e.account_id, (e.occurred_at AT TIME ZONE a.timezone)::date, e.outcome_type_id, e.status,
                e.non_billable_reason, count(*), coalesce(sum(e.cost_amount), 0),
                count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = ''),
                count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'simple'),
                count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'moderate'),
                count(*) FILTER (WHERE e.cost_amount IS NULL AND e.complexity = 'complex')
            FROM metering_event e JOIN accounts_account a ON a.id = e.account_id
            GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 1, 3, 4, 5
            """
        )
        rows = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO billing_chargerollup (account_id, day, outcome_type_id, complexity, attempt, state, reason,
                charges, amount, credits)
            SELECT c.account_id, (c.occurred_at AT TIME ZONE a.timezone)::date, c.outcome_type_id, c.complexity,
                c.attempt, c.state, c.reason, count(*), coalesce(sum(c.amount), 0), coalesce(sum(c.credits), 0)
            FROM billing_charge c JOIN accounts_account a ON a.id = c.account_id
            GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 2, 1, 3, 4, 5, 6, 7
            """
        )
        rows += cursor.rowcount
        # The month rollups, from the day rollups (as the triggers keep them, in the same statement).
        cursor.execute(
            "INSERT INTO metering_monthlyrollup (account_id, month, outcome_type_id, status, non_billable_reason, "
            "events, reported_cost, uncosted, uncosted_simple, uncosted_moderate, uncosted_complex) "
            "SELECT account_id, date_trunc('month', day)::date, outcome_type_id, status, non_billable_reason, "
            "sum(events), sum(reported_cost), sum(uncosted), sum(uncosted_simple), sum(uncosted_moderate), "
            "sum(uncosted_complex) FROM metering_dailyrollup GROUP BY 1, 2, 3, 4, 5"
        )
        rows += cursor.rowcount
        cursor.execute(
            "INSERT INTO billing_chargemonthrollup (account_id, month, outcome_type_id, complexity, attempt, state, "
            "reason, charges, amount, credits) SELECT account_id, date_trunc('month', day)::date, outcome_type_id, "
            "complexity, attempt, state, reason, sum(charges), sum(amount), sum(credits) FROM billing_chargerollup "
            "GROUP BY 1, 2, 3, 4, 5, 6, 7"
        )
        rows += cursor.rowcount
        print(f"  rollups rebuilt ({rows:,} rows): {time.perf_counter() - t:.0f} s", flush=True)
        # The settlement queue, which the insert trigger would have filled.
        cursor.execute(
            "INSERT INTO metering_pendingwindow (window_ends_at, event_id) "
            "SELECT window_ends_at, id FROM metering_event WHERE status = 'pending'"
        )
        t = time.perf_counter()
        cursor.execute("DROP TABLE bench_checks")
        cursor.execute("VACUUM (ANALYZE) metering_event")
        cursor.execute("VACUUM (ANALYZE) metering_dailyrollup")
        cursor.execute("VACUUM (ANALYZE) billing_charge")
        cursor.execute("VACUUM (ANALYZE) billing_chargerollup")
        print(f"  vacuum analyze: {time.perf_counter() - t:.0f} s", flush=True)
    print(f"fill done in {time.perf_counter() - started:.0f} s", flush=True)


# --- Measurements -------------------------------------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _backend_cpu_ns() -> int:
    """CPU time used so far by this connection's PostgreSQL backend (``/proc/<pid>/schedstat``, ns)."""
    from django.db import connection

    if not hasattr(_backend_cpu_ns, "pid"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            _backend_cpu_ns.pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{_backend_cpu_ns.pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:  # a server on another machine: no CPU figure
        return 0


class Sample(list):
    """Per request: (wall ms, CPU ms of this process + its PostgreSQL backend)."""


def _timed(client, urls: list[str], *, warmup: int = 3, headers: dict | None = None) -> Sample:
    for url in urls[:warmup]:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    samples = Sample()
    for url in urls:
        cpu, db, t = time.process_time(), _backend_cpu_ns(), time.perf_counter()
        response = client.get(url, headers=headers)
        if response.streaming:
            for _ in response.streaming_content:
                pass
        wall = (time.perf_counter() - t) * 1000
        used = (time.process_time() - cpu) * 1000 + (_backend_cpu_ns() - db) / 1e6
        samples.append((wall, used))
        assert response.status_code == 200, (url, response.status_code)
    return samples


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _report(name: str, samples: Sample, target: float | None = None) -> dict:
    p50, p95 = _percentiles([w for w, _ in samples])
    c50, c95 = _percentiles([c for _, c in samples])
    verdict = "" if target is None else ("  ok" if p95 <= target else f"  OVER {target:.0f}")
    target_text = f"≤ {target:.0f}" if target else ""
    print(
        f"  {name:<40} n={len(samples):<3} wall p50 {p50:6.1f} p95 {p95:6.1f} ms {target_text:>6}{verdict:<9}"
        f" | CPU app+db p50 {c50:5.1f} p95 {c95:5.1f} ms",
        flush=True,
    )
    return {"case": name, "p50": p50, "p95": p95, "cpu_p50": c50, "cpu_p95": c95}


def measure(requests: int, explain: bool) -> None:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Account, User
    from billing.audit import Cursor

    big = Account.objects.get(external_id="bench-00")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_event")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT sum(events) FROM metering_dailyrollup WHERE account_id = %s", [big.pk])
        big_total = int(cursor.fetchone()[0] or 0)
    print(f"\nmeasure: {total:,} events in the database; {big.external_id} has {big_total:,}", flush=True)
    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    operator = Client()
    operator.force_login(User.objects.get(username="bench-operator"))
    base = f"/account/{big.external_id}/events/"

    # Cursors ~1,000 pages deep: rows 50,000 … (positions found once with OFFSET, outside the timing).
    depth = min(1000 * PAGE, max(big_total - PAGE * (requests + 1), 0))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT occurred_at, id FROM metering_event WHERE account_id = %s ORDER BY occurred_at DESC, id DESC "
            "OFFSET %s LIMIT %s",
            [big.pk, max(depth - 1, 0), PAGE * requests],
        )
        rows = cursor.fetchall()[::PAGE]
    deep_urls = [f"{base}?{urlencode({'older': Cursor(at, pk).encode()})}" for at, pk in rows] or [base]
    today = timezone.localtime(timezone.now(), ZoneInfo(big.timezone)).date()
    month_ago = today - timedelta(days=29)
    filtered = f"{base}?{urlencode({'status': 'non_billable', 'reason': 'abandoned', 'from': month_ago, 'to': today})}"
    # Walk the filtered result a few pages deep too, so the filtered case is not only a first page.
    filtered_urls = [filtered]
    for _ in range(min(requests, 20) - 1):
        html = client.get(filtered_urls[-1]).content.decode()
        older = re.search(r'href="([^"]*older=[^"]*)"', html)
        if not older:
            break
        filtered_urls.append(unescape(older.group(1)))
    filtered_urls = (filtered_urls * (requests // len(filtered_urls) + 1))[:requests]
    rare = f"{base}?{urlencode({'reason': 'cap_reached', 'from': month_ago, 'to': today})}"
    print(f"  requests per case: {requests}; deep pages start at row {depth:,} (page {depth // PAGE + 1:,})")

    htmx = {"HX-Request": "true"}
    results = [
        _report("audit table, first page", _timed(client, [base] * requests), 60),
        _report("audit table, ~1,000 pages deep", _timed(client, deep_urls), 60),
        _report("audit table, status+reason+30 days", _timed(client, filtered_urls), 60),
        _report("audit table, htmx partial (first page)", _timed(client, [base] * requests, headers=htmx), 60),
        _report("dashboard (current period)", _timed(client, [f"/account/{big.external_id}/"] * requests), 200),
        _report("dashboard (90 days)", _timed(client, [f"/account/{big.external_id}/?range=90"] * requests), 200),
        _report("event detail", _timed(client, [f"{base}evt-00001234"] * requests)),
        _report("audit table, rare reason + 30 days", _timed(client, [rare] * requests)),
        _report(
            "audit table, search by session ID",
            _timed(client, [f"{base}?{urlencode({'q': f'sess-{500_000 + k}'})}" for k in range(requests)]),
        ),
        _report("audit table, channel=voice", _timed(client, [f"{base}?channel=voice"] * requests)),
        _report("vendor overview (50 accounts)", _timed(operator, ["/overview/"] * requests)),
    ]
    del results

    print("\nCSV export (every event of the big account, streamed from COPY):", flush=True)
    rss_before = _current_rss_mb()
    cpu, db, t = time.process_time(), _backend_cpu_ns(), time.perf_counter()
    response = client.get(f"/account/{big.external_id}/events.csv")
    rows_out = bytes_out = 0
    peak_current = rss_before
    for i, chunk in enumerate(response.streaming_content):
        rows_out += chunk.count(b"\n")
        bytes_out += len(chunk)
        if i % 200 == 0:
            peak_current = max(peak_current, _current_rss_mb())
    elapsed = time.perf_counter() - t
    app_cpu, db_cpu = time.process_time() - cpu, (_backend_cpu_ns() - db) / 1e9
    rows_out -= 1  # the header
    print(
        f"  {rows_out:,} rows, {bytes_out / 1e6:,.0f} MB in {elapsed:.2f} s = {rows_out / elapsed:,.0f} rows/s "
        f"(target ≥ 100,000)\n  RSS: {rss_before:.0f} MB before, {peak_current:.0f} MB peak during the export "
        f"(process peak ever {_rss_mb():.0f} MB)\n  CPU: {app_cpu:.1f} s in this process, {db_cpu:.1f} s in PostgreSQL "
        f"(= {rows_out / max(app_cpu, db_cpu, 1e-9):,.0f} rows/s if each side had a core to itself)",
        flush=True,
    )
    assert rows_out == big_total, (rows_out, big_total)

    if explain:
        _explain(big, deep_urls[0], month_ago, today)


def _explain(big, deep_url: str, month_ago, today) -> None:
    from django.db import connection
    from django.db.models import Q

    from metering import audit

    token = deep_url.split("older=")[-1] if "older=" in deep_url else ""
    cursor_at = audit.Cursor.decode(token)
    cases = {
        "first page": (audit.AuditFilters(), None),
        "1,000 pages deep": (audit.AuditFilters(), cursor_at),
        "status+reason+30 days": (
            audit.AuditFilters(status="non_billable", reason="abandoned", date_from=month_ago, date_to=today),
            None,
        ),
        "rare reason + 30 days": (audit.AuditFilters(reason="cap_reached", date_from=month_ago, date_to=today), None),
        "session search": (audit.AuditFilters(search="sess-500000"), None),
    }
    for name, (filters, older) in cases.items():
        qs = audit.events_for_audit(account=big, filters=filters).only("id")
        if older:
            qs = qs.filter(
                Q(occurred_at__lt=older.occurred_at) | Q(occurred_at=older.occurred_at, id__lt=older.pk),
                occurred_at__lte=older.occurred_at,
            )
        sql, params = qs.order_by("-occurred_at", "-id")[: PAGE + 1].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            print(f"\nEXPLAIN ANALYZE — {name}")
            for (line,) in cursor.fetchall():
                print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in all (default 10,000,000)")
    parser.add_argument("--big", type=int, help="events of the big account (default 20 %% of --events)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel connections for the fill (default 2)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per case (default 40)")
    parser.add_argument("--skip-fill", action="store_true", help="measure the data already in the database")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the audit queries")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: the embedded one in .data/pg)")
    args = parser.parse_args()
    django_setup(database_url(args.database_url))
    if not args.skip_fill:
        fill(args.events, args.big, args.jobs)
    measure(args.requests, args.explain)


if __name__ == "__main__":
    main()
