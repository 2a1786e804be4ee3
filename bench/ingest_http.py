"""HTTP batch ingestion through the real stack, and the database's own ceiling on the same table.

    python bench/ingest_http.py                      # 1,000,000 events, 4 clients, gunicorn
    python bench/ingest_http.py --events 50000       # a quick check
    python bench/ingest_http.py --inprocess          # Python-side cost per 1,000 events
    python bench/ingest_http.py --inprocess --profile

1. Sets up the bench database (migrate, 50 accounts, 4 outcome types, a vendor key) and
   empties its event tables.
2. Starts the app under gunicorn (DEBUG off, no access log) on a free loopback port.
3. C client processes post 1,000-event batches over keep-alive HTTP; 10 % of the events are
   re-posts of events from earlier batches (same payload). Bodies are built before the
   clock starts. Prints events/s, latency percentiles per request, the server's counts
   against the expectation, the stored row count and the CPU used by each party.
4. The ceiling: COPY 1,000-row batches into a staging table, then the ingest's own
   ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``, from several connections, on the
   same table with rows shaped like the ones just stored (same duplicate share).

See bench/README.md for the targets and the figures measured.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import io
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import benchlib
import orjson

# --- Gunicorn -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(*, url: str, port: int, workers: int, worker_class: str, threads: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="outcomeportal.settings",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "outcomeportal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--keep-alive",
        "75",
        "--timeout",
        "120",
        "--preload",
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    return subprocess.Popen(command, cwd=benchlib.ROOT, env=env)


def gunicorn_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {proc.returncode}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not become ready")


# --- Clients ------------------------------------------------------------------------------


def _client(port, key, batches, tag, base, barrier, results) -> None:
    """One client: build its bodies, wait for the start, post them one after another."""
    bodies = [
        orjson.dumps({"events": [benchlib.event_payload(i, tag=tag, base=base) for i in batch]}) for batch in batches
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    latencies: list[float] = []
    counts: Counter = Counter()
    errors: list[str] = []
    throttled = 0
    barrier.wait()
    started = time.monotonic()
    for body in bodies:
        for _attempt in range(20):
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - t0
            if response.status == 429:
                throttled += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            if response.status != 200:
                errors.append(f"HTTP {response.status}: {data[:300]!r}")
                break
            latencies.append(elapsed)
            doc = orjson.loads(data)
            for name in ("accepted", "duplicates", "conflicts", "rejected"):
                counts[name] += doc[name]
            break
    finished = time.monotonic()
    conn.close()
    results.put(
        {
            "started": started,
            "finished": finished,
            "latencies": latencies,
            "counts": dict(counts),
            "errors": errors,
            "throttled": throttled,
        }
    )


def run_http(args, *, url: str, key: str, base: datetime, tag: str) -> dict:
    from django.db import connection, connections

    batches, unique = benchlib.plan_batches(total=args.events, batch=args.batch, dup_ratio=args.dup_ratio)
    posted = sum(len(b) for b in batches)
    expected = {"accepted": unique, "duplicates": posted - unique, "conflicts": 0, "rejected": 0}
    print(
        f"plan: {posted:,} events in {len(batches):,} batches of {args.batch}, {unique:,} distinct, "
        f"{posted - unique:,} re-posted ({(posted - unique) / posted:.1%}), occurred within the last "
        f"{args.occurred_within:,} s"
    )
    port = _free_port()
    connections.close_all()
    server = gunicorn_start(
        url=url, port=port, workers=args.workers, worker_class=args.worker_class, threads=args.threads
    )
    ctx = mp.get_context("fork")
    clients = []
    try:
        wait_ready(port, server)
        # Warm every worker (imports, the database connection) without storing anything.
        for _ in range(args.workers * max(1, args.threads) * 2):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/v1/outcome-types", headers={"Authorization": f"Bearer {key}"})
            conn.getresponse().read()
            conn.close()
        barrier = ctx.Barrier(args.clients + 1)
        results = ctx.Queue()
        for c in range(args.clients):
            mine = batches[c :: args.clients]
            proc = ctx.Process(target=_client, args=(port, key, mine, tag, base, barrier, results), daemon=True)
            proc.start()
            clients.append(proc)
        print(
            f"gunicorn: {args.workers} × {args.worker_class}"
            + (f" ({args.threads} threads)" if args.worker_class == "gthread" else "")
            + f" on 127.0.0.1:{port}; {args.clients} clients building bodies…",
            flush=True,
        )
        barrier.wait(timeout=600)
        cpu_before = benchlib.cpu_snapshot()
        busy_before = benchlib.machine_busy()
        reports = [results.get(timeout=3600) for _ in clients]
        busy_after = benchlib.machine_busy()
        cpu_after = benchlib.cpu_snapshot()
    finally:
        for proc in clients:
            proc.join(timeout=30)
        gunicorn_stop(server)

    client_pids = {p.pid for p in clients}
    bench_db = connection.settings_dict["NAME"]

    def classify(pid: int, cmd: str) -> str | None:
        if pid in client_pids:
            return "clients"
        if f"127.0.0.1:{port}" in cmd:
            return "gunicorn"
        if cmd.startswith("postgres:") or "bin/postgres" in cmd:
            return "postgres (bench db)" if f" {bench_db} " in cmd else "postgres (background, other dbs)"
        return "other programs"

    cpu = benchlib.cpu_by_category(cpu_before, cpu_after, classify)
    started = min(r["started"] for r in reports)
    finished = max(r["finished"] for r in reports)
    wall = finished - started
    latencies = sorted(x for r in reports for x in r["latencies"])
    counts = Counter()
    for r in reports:
        counts.update(r["counts"])
    errors = [e for r in reports for e in r["errors"]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_event WHERE event_id LIKE %s", [f"{tag}-%"])
        stored = cursor.fetchone()[0]
        cursor.execute(
            "SELECT status, count(*) FROM metering_event WHERE event_id LIKE %s GROUP BY status ORDER BY 2 DESC",
            [f"{tag}-%"],
        )
        by_status = cursor.fetchall()
    busy = busy_after[0] - busy_before[0]
    capacity = busy_after[1] - busy_before[1]
    return {
        "posted": posted,
        "requests": len(latencies),
        "wall": wall,
        "rate": posted / wall,
        "p50": benchlib.percentile(latencies, 50) * 1000,
        "p95": benchlib.percentile(latencies, 95) * 1000,
        "p99": benchlib.percentile(latencies, 99) * 1000,
        "max": latencies[-1] * 1000 if latencies else float("nan"),
        "counts": {k: counts.get(k, 0) for k in expected},
        "expected": expected,
        "stored": stored,
        "by_status": by_status,
        "errors": errors,
        "throttled": sum(r["throttled"] for r in reports),
        "cpu": cpu,
        "machine_busy": busy / capacity if capacity else float("nan"),
    }


# --- The database ceiling -----------------------------------------------------------------


def _copy_escape(value: str) -> bytes:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").encode()


def ceiling_payloads(*, rows: int, batch: int, dup_ratio: float, tag: str) -> tuple[list[bytes], int]:
    """1,000-row COPY payloads shaped like the rows the HTTP run stored, with fresh event ids."""
    from django.db import connection

    plan, unique = benchlib.plan_batches(total=rows, batch=batch, dup_ratio=dup_ratio, seed=11)
    columns = _ceiling_columns()
    column_list = ", ".join(columns)
    event_id_at = columns.index("event_id")
    template: list[list[bytes]] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f"COPY (SELECT {column_list} FROM metering_event ORDER BY id LIMIT {min(unique, 20_000)}) TO STDOUT"
        ) as copy:
            buffer = b"".join(bytes(chunk) for chunk in copy)
    template = [line.split(b"\t") for line in buffer.split(b"\n") if line]
    if not template:
        raise SystemExit("No stored events to shape the ceiling rows on: run the HTTP phase first.")
    payloads = []
    for indices in plan:
        lines = []
        for j in indices:
            fields = list(template[j % len(template)])
            fields[event_id_at] = _copy_escape(f"ceil-{tag}-{j:09d}")
            lines.append(b"\t".join(fields))
        payloads.append(b"\n".join(lines) + b"\n")
    return payloads, unique


def _ceiling_columns() -> tuple[str, ...]:
    """Every column ingestion writes: the ones it copies per row and the batch's constants."""
    from metering.ingest import _COLUMNS

    return (*_COLUMNS, "checks", "received_at", "decided_at", "state", "settled_at")


def _ceiling_worker(url, payloads, barrier, results) -> None:
    import psycopg

    columns = ", ".join(_ceiling_columns())
    stage = "bench_event_stage"
    inserted = 0
    with psycopg.connect(url) as conn:
        conn.add_notice_handler(lambda notice: None)
        cursor = conn.cursor()
        backend = conn.info.backend_pid
        barrier.wait()
        cpu_started = benchlib.backend_cpu(backend)
        started = time.monotonic()
        for payload in payloads:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM metering_event WITH NO DATA"
            )
            with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
                copy.write(payload)
            cursor.execute(
                f"INSERT INTO metering_event ({columns}) SELECT {columns} FROM {stage} "
                "ORDER BY account_id, event_id ON CONFLICT (account_id, event_id) DO NOTHING "
                "RETURNING id, account_id, event_id"
            )
            inserted += len(cursor.fetchall())
            conn.commit()
        finished = time.monotonic()
        cpu_finished = benchlib.backend_cpu(backend)
    cpu = None if cpu_started is None or cpu_finished is None else cpu_finished - cpu_started
    results.put({"started": started, "finished": finished, "inserted": inserted, "cpu": cpu})


def run_ceiling(args, *, url: str, tag: str) -> dict:
    from django.db import connections

    payloads, unique = ceiling_payloads(rows=args.ceiling_rows, batch=args.batch, dup_ratio=args.dup_ratio, tag=tag)
    rows = args.ceiling_rows
    connections.close_all()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(args.ceiling_connections + 1)
    results = ctx.Queue()
    procs = []
    for c in range(args.ceiling_connections):
        proc = ctx.Process(
            target=_ceiling_worker, args=(url, payloads[c :: args.ceiling_connections], barrier, results), daemon=True
        )
        proc.start()
        procs.append(proc)
    barrier.wait(timeout=600)
    reports = [results.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    inserted = sum(r["inserted"] for r in reports)
    cpus = [r["cpu"] for r in reports]
    cpu = None if None in cpus else sum(cpus)
    return {"rows": rows, "wall": wall, "rate": rows / wall, "inserted": inserted, "expected": unique, "cpu": cpu}


# --- In-process: the Python side of one request, split ------------------------------------


class _Timers:
    """Wall time, this process's CPU time and its PostgreSQL backend's CPU time, per named step.

    CPU times do not grow when other programs compete for the cores, so they compare runs
    on a busy machine; the backend's comes from /proc/<pid>/schedstat (a local server only).
    """

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self.phase = "lookups"
        self.backend_pid: int | None = None
        self.statements: dict[str, int] | None = None  # with --sql: calls per statement

    def clear(self) -> None:
        self.totals.clear()

    def snap(self) -> tuple[float, float, float]:
        backend = 0.0
        if self.backend_pid:
            try:
                with open(f"/proc/{self.backend_pid}/schedstat") as f:
                    backend = int(f.read().split()[0]) / 1e9
            except OSError:
                self.backend_pid = None
        return time.perf_counter(), time.process_time(), backend

    def track(self, connection) -> None:
        """Follow the Django connection's backend (Django may reconnect between requests)."""
        self.backend_pid = connection.connection.info.backend_pid if connection.connection else None

    def add(self, name: str, start: tuple[float, float, float]) -> None:
        end = self.snap()
        total = self.totals.setdefault(name, [0.0, 0.0, 0.0])
        for i in range(3):
            total[i] += end[i] - start[i]

    def get(self, name: str) -> list[float]:
        return self.totals.get(name, [0.0, 0.0, 0.0])

    def wrap(self, name: str, func, *, phase: str | None = None):
        def timed(*a, **kw):
            previous = self.phase
            if phase:
                self.phase = phase
            start = self.snap()
            try:
                return func(*a, **kw)
            finally:
                self.add(name, start)
                self.phase = previous

        return timed

    def wrap_light(self, name: str, func):
        """For a per-event pure-Python function: wall time only (reading /proc per call would distort it)."""
        total = self.totals

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return func(*a, **kw)
            finally:
                total.setdefault(name, [0.0, 0.0, 0.0])[0] += time.perf_counter() - t0

        return timed

    def sql(self, execute, sql, params, many, context):
        start = self.snap()
        try:
            return execute(sql, params, many, context)
        finally:
            self.add(f"sql:{self.phase}", start)
            if self.statements is not None:
                self.add(f"statement:{' '.join(sql.split())[:90]}", start)
                self.statements[sql] = self.statements.get(sql, 0) + 1


def _wsgi_post(app, body: bytes, key: str) -> bytes:
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/api/v1/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    response = app(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        data = b"".join(response)
    finally:
        response.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"in-process WSGI post failed: {status[0]} {data[:300]!r}")
    return data


def run_inprocess(args, *, key: str, base: datetime, tag: str) -> None:
    import cProfile
    import pstats
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    import billing.events_api
    import billing.ingestion as use_case
    import metering.ingest as ingest

    n = args.inprocess_batches
    timers = _Timers()
    # The steps of billing.ingestion.events_ingest (metering's and billing's), timed where they
    # exist (the modules evolve).
    parse_original = ingest.event_parse
    ingest.event_parse = timers.wrap_light("parse", ingest.event_parse)
    steps = [
        ("criteria_current", "criteria", "criteria"),
        ("_insert", "insert", "insert"),
        ("_classify_repeats", "repeats", "repeats"),
        ("_claim_sessions", "sessions", "sessions"),
    ]
    for attr, label, phase in steps:
        if hasattr(ingest, attr):
            setattr(ingest, attr, timers.wrap(label, getattr(ingest, attr), phase=phase))
    for attr, label in (("_charges_for", "charges"), ("charges_write", "charges write")):
        if hasattr(use_case, attr):
            setattr(use_case, attr, timers.wrap(label, getattr(use_case, attr), phase=label))
    billing.events_api.events_ingest = timers.wrap("view: events_ingest", use_case.events_ingest)
    ingest_total = timers.wrap("events_ingest", use_case.events_ingest)
    connection.ensure_connection()
    connection._commit = timers.wrap("commit", connection._commit, phase="commit")
    from outcomeportal.wsgi import application as app  # as gunicorn loads it (gc.freeze() included)

    def bodies(mode: str) -> list[bytes]:
        plan, _ = benchlib.plan_batches(total=n * args.batch, batch=args.batch, dup_ratio=args.dup_ratio)
        return [
            orjson.dumps({"events": [benchlib.event_payload(i, tag=f"{tag}{mode}", base=base) for i in b]})
            for b in plan
        ]

    # Warm-up: imports, caches, the connection, the temporary staging table.
    for body in bodies("w")[:3]:
        ingest_total(raw_events=orjson.loads(body)["events"])
    timers.track(connection)
    has_backend = timers.snap()[2] > 0
    if args.sql:
        timers.statements = {}
    per = 1000 / n  # seconds over n batches → ms per batch of 1,000

    print(f"\nIn-process, one process, {n} batches of {args.batch} ({args.dup_ratio:.0%} re-posted).")
    print("Columns: wall ms, this process's CPU ms, its PostgreSQL backend's CPU ms — per 1,000 events.")
    gc_seconds = [0.0, 0.0]  # total, start of the current collection

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            gc_seconds[1] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_seconds[1]

    gc.callbacks.append(gc_timer)
    timers.clear()
    with connection.execute_wrapper(timers.sql):
        whole = timers.snap()
        for body in bodies("d"):
            start = timers.snap()
            raw = orjson.loads(body)["events"]
            timers.add("json in", start)
            result = ingest_total(raw_events=raw)
            start = timers.snap()
            orjson.dumps(result.as_response())
            timers.add("json out", start)
        timers.add("all", whole)
    gc.callbacks.remove(gc_timer)
    # event_parse is timed per call by wall clock only; its CPU is measured apart, on the same events
    # (decoded before the clock starts: building and decoding the bodies is not the parse).
    late = timedelta(days=settings.LATE_EVENT_WINDOW_DAYS)
    future = timedelta(seconds=settings.FUTURE_EVENT_TOLERANCE_SECONDS)
    now = timezone.now()
    decoded = [orjson.loads(body)["events"] for body in bodies("d")]
    parse_cpu = time.process_time()
    for events in decoded:
        for raw in events:
            parse_original(raw, now=now, late_window=late, future_tolerance=future)
    parse_cpu = time.process_time() - parse_cpu
    timers.totals["parse"][1] = parse_cpu

    def vec(name: str) -> list[float]:
        return timers.get(name)

    def minus(x: list[float], *ys: list[float]) -> list[float]:
        return [x[i] - sum(y[i] for y in ys) for i in range(3)]

    def plus(*ys: list[float]) -> list[float]:
        return [sum(y[i] for y in ys) for i in range(3)]

    def line(label: str, v: list[float]) -> None:
        backend = f"{v[2] * per:8.1f}" if has_backend else "     n/a"
        print(f"  {label:<58} {v[0] * per:8.1f} {v[1] * per:8.1f} {backend}")

    total = vec("all")
    lookups = plus(vec("sql:lookups"), vec("criteria"))
    accounted = [vec(k) for k in ("parse", "charges", "charges write", "insert", "repeats", "sessions", "commit")]
    rest = minus(vec("events_ingest"), lookups, *accounted)
    print(f"\nA. events_ingest called directly: {n * args.batch / total[0]:,.0f} events/s (wall, one process)")
    print(f"  {'':<58} {'wall':>8} {'app CPU':>8} {'DB CPU':>8}")
    line("JSON decode of the body (orjson)", vec("json in"))
    line("parse + validate (event_parse × 1,000; CPU measured apart)", vec("parse"))
    line("lookups: accounts, outcome types, criteria", lookups)
    line("decide (engine), build rows, bookkeeping (the remainder)", rest)
    line("DB: COPY + INSERT … ON CONFLICT RETURNING + result loop", vec("insert"))
    line("    of which SQL statements run through Django's cursor", vec("sql:insert"))
    line("DB: session claims", vec("sessions"))
    line("charges: contract, lifecycle, allowances, price, cap (billing)", vec("charges"))
    line("    of which SQL statements run through Django's cursor", vec("sql:charges"))
    line("DB: charges COPY, their rollup, the money log entry (billing)", vec("charges write"))
    line("DB: commit (deferred FK checks, WAL flush)", vec("commit"))
    line("classify in-batch repeats", vec("repeats"))
    line("JSON encode of the response (orjson)", vec("json out"))
    print(f"  {'    of which cyclic GC (wall, spread over the steps above)':<58} {gc_seconds[0] * per:8.1f}")
    line("total", total)
    cpu = total[1] + total[2]
    print(
        f"  CPU per 1,000 events: {total[1] * per:.1f} ms app + {total[2] * per:.1f} ms PostgreSQL = "
        f"{cpu * per:.1f} ms → at most {2 * n * args.batch / cpu:,.0f} events/s on 2 fully used cores"
    )

    if timers.statements is not None:
        heading = "Statements through Django's cursor, by PostgreSQL CPU"
        print(f"\n  {heading:<86}   wall    app     DB  calls per batch")
        ranked = sorted(
            ((k, v) for k, v in timers.totals.items() if k.startswith("statement:")), key=lambda kv: -kv[1][2]
        )
        calls = {" ".join(k.split())[:90]: n for k, n in timers.statements.items()}
        for name, v in ranked[:15]:
            text = name.removeprefix("statement:")
            times = f"{v[0] * per:6.1f} {v[1] * per:6.1f} {v[2] * per:6.1f}"
            print(f"  {text[:86]:<86} {times}  {calls.get(text, 0) / n:4.1f}")
        timers.statements = None

    timers.clear()
    timers.track(connection)
    whole = timers.snap()
    for body in bodies("s"):
        _wsgi_post(app, body, key)
    timers.add("all", whole)
    total, inner = vec("all"), vec("view: events_ingest")
    print(
        f"\nB. Through Django's WSGI handler (middleware, auth, DRF, throttle, parser, renderer), no HTTP server: "
        f"{n * args.batch / total[0]:,.0f} events/s (wall, one process)"
    )
    print(f"  {'':<58} {'wall':>8} {'app CPU':>8} {'DB CPU':>8}")
    line("events_ingest", inner)
    line("the stack around it (request, auth, DRF, JSON in/out)", minus(total, inner))
    line("total", total)
    cpu = total[1] + total[2]
    print(
        f"  CPU per 1,000 events: {total[1] * per:.1f} ms app + {total[2] * per:.1f} ms PostgreSQL = "
        f"{cpu * per:.1f} ms → at most {2 * n * args.batch / cpu:,.0f} events/s on 2 fully used cores"
    )

    if args.profile:
        profiled = bodies("p")
        profiler = cProfile.Profile()
        profiler.enable()
        for body in profiled:
            _wsgi_post(app, body, key)
        profiler.disable()
        print(f"\nC. cProfile of {n} WSGI requests (cProfile slows Python ~2×; read the shares, not the times):")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)


# --- Main ---------------------------------------------------------------------------------


def _caps_set(capped: bool) -> None:
    """Spend controls for every bench account (``--capped``), or none."""
    from decimal import Decimal

    from accounts.models import Account
    from billing.models import SpendControl, SpendPeriod
    from billing.spend.services import spend_controls_set

    SpendControl.objects.all().delete()
    SpendPeriod.objects.all().delete()
    if not capped:
        return
    for account in Account.objects.filter(external_id__startswith=benchlib.ACCOUNT_PREFIX):
        spend_controls_set(
            account=account,
            monthly_cap=Decimal("1000000.00"),
            monthly_cap_outcomes=None,
            alert_thresholds=[50, 80, 100],
            at_cap="pause",
            changed_by="bench",
        )
    print("spend controls: every account capped at 1,000,000.00 (pause at cap)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: the embedded one in .data/pg)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events posted in total (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (default 1,000)")
    parser.add_argument("--dup-ratio", type=float, default=0.10, help="share of re-posted events (default 0.10)")
    parser.add_argument(
        "--occurred-within",
        type=int,
        default=benchlib.OCCURRED_WITHIN_SECONDS,
        help="events occurred within the last N seconds (default 30 days; 600: posted as they happen)",
    )
    parser.add_argument(
        "--capped",
        action="store_true",
        help="cap every account (issue 5: a cap the run does not reach, pause at cap) before the run",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes (default 4)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"], help="(default sync)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker (default 2)")
    parser.add_argument("--ceiling-rows", type=int, default=200_000, help="rows for the ceiling (default 200,000)")
    parser.add_argument("--ceiling-connections", type=int, default=4, help="parallel connections for the ceiling")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the database ceiling")
    parser.add_argument("--inprocess", action="store_true", help="time events_ingest in this process instead")
    parser.add_argument("--inprocess-batches", type=int, default=50, help="batches for --inprocess (default 50)")
    parser.add_argument("--profile", action="store_true", help="with --inprocess: add a cProfile listing")
    parser.add_argument("--sql", action="store_true", help="with --inprocess: list the statements by their cost")
    args = parser.parse_args()
    if args.profile:
        args.inprocess = True
    if args.occurred_within < 1:
        parser.error("--occurred-within must be at least 1 second")
    benchlib.OCCURRED_WITHIN_SECONDS = args.occurred_within  # read by the clients, forked after this

    url = benchlib.bench_database_url(args.database_url)
    benchlib.django_setup(url)
    benchlib.migrate()
    benchlib.reset_events()
    world = benchlib.world_setup()
    _caps_set(args.capped)
    from django.db import connection

    base = datetime.now(UTC)
    tag = f"b{int(time.time()) % 100000:05d}"
    print(f"machine: {benchlib.machine()}")
    print(
        f"database: {connection.settings_dict['NAME']} on PostgreSQL {benchlib.server_version()} "
        f"({'embedded, .data/pg' if '.data/pg' in url else 'DATABASE_URL'})"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average before: {os.getloadavg()[0]:.2f}")
    print(f"server settings: {benchlib.server_settings()}")

    if args.inprocess:
        run_inprocess(args, key=world["key"], base=base, tag=tag)
        return

    http_result = run_http(args, url=url, key=world["key"], base=base, tag=tag)
    r = http_result
    print(f"\nHTTP ingestion ({r['requests']:,} requests of {args.batch} events):")
    print(f"  total events        {r['posted']:,}")
    print(f"  wall time           {r['wall']:.2f} s")
    print(f"  events/s            {r['rate']:,.0f}   (target ≥ 30,000)")
    print(
        f"  latency per request p50 {r['p50']:.0f} ms · p95 {r['p95']:.0f} ms · p99 {r['p99']:.0f} ms · "
        f"max {r['max']:.0f} ms   (target p99 ≤ 250 ms)"
    )
    got, want = r["counts"], r["expected"]
    verdict = "OK" if got == want else "MISMATCH"
    print(f"  server counts       {got}")
    print(f"  expected            {want}   → {verdict}")
    rows_verdict = "OK" if r["stored"] == want["accepted"] else "MISMATCH"
    print(f"  rows stored         {r['stored']:,} (expected {want['accepted']:,})   → {rows_verdict}")
    print(f"  decisions           {', '.join(f'{s} {c:,}' for s, c in r['by_status'])}")
    if r["throttled"]:
        print(f"  throttled (429)     {r['throttled']} (retried)")
    if r["errors"]:
        print(f"  ERRORS              {len(r['errors'])}; first: {r['errors'][0]}")
    print(f"  machine CPU busy    {r['machine_busy']:.0%} of {os.cpu_count()} cores during the run")
    cpu = r["cpu"]
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        per_k = seconds / r["posted"] * 1e6
        print(f"    {name:<34} {seconds:7.1f} CPU-s  = {per_k:5.1f} CPU-ms per 1,000 events")
    own = sum(v for k, v in cpu.items() if k in ("gunicorn", "postgres (bench db)", "clients"))
    if own:
        print(
            f"  CPU of this benchmark (gunicorn + its PostgreSQL backends + clients): {own / r['posted'] * 1e6:.1f} "
            f"CPU-ms per 1,000 events → at most {os.cpu_count() * r['posted'] / own:,.0f} events/s on "
            f"{os.cpu_count()} cores of its own (an upper bound: PostgreSQL's background work not counted)"
        )
    others = cpu.get("other programs", 0.0)
    if others > 0.05 * sum(cpu.values()):
        print(f"  NOTE: other programs used {others:.1f} CPU-s during the run: the machine was shared.")

    if args.no_ceiling:
        return
    c = run_ceiling(args, url=url, tag=tag)
    print(
        f"\nDatabase ceiling (COPY {args.batch}-row batches into a staging table + INSERT … ON CONFLICT DO NOTHING "
        f"RETURNING, {args.ceiling_connections} connections, same table, {args.dup_ratio:.0%} re-posted):"
    )
    print(f"  rows                {c['rows']:,} in {c['wall']:.2f} s")
    print(f"  rows/s              {c['rate']:,.0f}   (about 54,000 expected)")
    print(
        f"  inserted            {c['inserted']:,} (expected {c['expected']:,})   → "
        f"{'OK' if c['inserted'] == c['expected'] else 'MISMATCH'}"
    )
    if c["cpu"]:
        per_k = c["cpu"] / c["rows"] * 1e6
        print(
            f"  backend CPU         {per_k:.1f} CPU-ms per 1,000 rows → at most "
            f"{os.cpu_count() * c['rows'] / c['cpu']:,.0f} rows/s on {os.cpu_count()} cores of its own"
        )
    print(f"  HTTP / ceiling      {r['rate'] / c['rate']:.2f}")


if __name__ == "__main__":
    main()
