"""Shared set-up for the benchmarks: the bench database, Django, the catalogue and the event generator.

The benchmarks never touch the dev database (``outcomeportal``) or a test database: they
run in their own database, ``outcomeportal_bench`` by default, on the embedded PostgreSQL
in ``.data/pg`` (started or joined as the app does) or on the server named by
``--database-url`` / ``DATABASE_URL``. Tables are truncated between runs, so the
database name must contain "bench".
"""

from __future__ import annotations

import math
import os
import platform
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DATABASE = "outcomeportal_bench"
N_ACCOUNTS = 50
ACCOUNT_PREFIX = "bench-acct-"

# Four outcome types, each with a different definition of success (all via outcome_type_create).
OUTCOME_TYPES = [
    {
        "code": "resolved_conversation",
        "name": "Resolved conversation",
        "unit_price": Decimal("0.99"),
        "value_type": "labor_savings",
        "measurement_window_hours": 72,
        "one_per_session": True,
        "excluded_channels": ["internal"],
    },
    {
        "code": "qualified_lead",
        "name": "Qualified lead",
        "unit_price": Decimal("25.00"),
        "value_type": "revenue_generation",
        "measurement_window_hours": 168,
        "one_per_session": True,
        "required_verification_methods": ["crm_sync", "human_review"],
    },
    {
        "code": "completed_screening",
        "name": "Completed screening",
        "unit_price": Decimal("4.50"),
        "value_type": "risk_avoidance",
        "measurement_window_hours": 48,
        "one_per_session": False,
        "excluded_workflows": ["internal_test"],
    },
    {
        "code": "saved_cancellation",
        "name": "Saved cancellation",
        "unit_price": Decimal("15.00"),
        "value_type": "revenue_generation",
        "measurement_window_hours": 720,
        "one_per_session": True,
        "handoff_is_billable": True,
    },
]
# How often each type appears in the generated stream (out of 20).
_TYPE_CYCLE = [0] * 11 + [1] * 4 + [2] * 3 + [3] * 2
_CHANNELS = ["chat", "chat", "chat", "email", "voice", "sms"]
_WORKFLOWS = ["billing_question", "password_reset", "order_status", "refund", "onboarding", "internal_test"]
_COMPLEXITY = ["simple", "simple", "moderate", "complex"]
_FAILURES = ["abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"]


# --- Database -----------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _embedded_server():
    from outcomeportal.embedded_db import embedded_server

    return embedded_server(ROOT / ".data")


def bench_database_url(database_url: str | None) -> str:
    """The bench database's URL, creating the database if it does not exist.

    ``database_url`` (or ``DATABASE_URL``) names a server; without a path the bench
    database on it is used. Without either, the embedded server in ``.data/pg``.
    """
    import psycopg

    url = database_url or os.environ.get("DATABASE_URL") or ""
    if url:
        name = urlsplit(url).path.lstrip("/") or BENCH_DATABASE
        url = _with_database(url, name)
        admin_url = _with_database(url, "postgres")
    else:
        server = _embedded_server()
        name = BENCH_DATABASE
        url = server.get_uri(name)
        admin_url = server.get_uri("postgres")
    if "bench" not in name:
        raise SystemExit(f"Refusing to benchmark in database {name!r}: its name must contain 'bench'.")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


def django_setup(url: str) -> None:
    """Point Django at the bench database, production-style settings (DEBUG off)."""
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("CONN_MAX_AGE", "600")  # one connection for the whole run
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomeportal.settings")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def reset_events() -> None:
    """Empty the event tables of the bench database (and what hangs off them)."""
    from django.db import connection

    assert "bench" in connection.settings_dict["NAME"]
    tables = [t for t in connection.introspection.table_names() if t in _EVENT_TABLES]
    with connection.cursor() as cursor:
        truncate(cursor, f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def truncate(cursor, sql: str) -> None:
    """TRUNCATE money tables: refused by their triggers (billing 0013) but to a superuser session
    in maintenance — the bench's role on its own database (docs/security.md)."""
    cursor.execute("SET outcomeportal.maintenance = on")
    try:
        cursor.execute(sql)
    finally:
        cursor.execute("RESET outcomeportal.maintenance")


# Tables holding events or figures derived from them (those that exist are emptied).
_EVENT_TABLES = (
    "metering_event",
    "metering_sessionclaim",
    "metering_signal",
    "metering_dailyrollup",
    "metering_monthlyrollup",
    "metering_monthlyrollupmark",
    "billing_charge",
    "billing_chargerollup",
    "billing_chargemonthrollup",
    "billing_chargemonthmark",
    "billing_moneylogentry",  # the money log records the charges: it starts again with them
)
ATTEMPT_REASONS_SQL = (
    "'abandoned', 'workflow_failed', 'greeting_only', 'unanswered_question', 'no_show', 'human_handoff', "
    "'criteria_not_met', 'verification_failed', 'reopened_in_window', 'reversed_in_window', 'escalated_in_window'"
)


def charges_from_events(cursor, *, where: str, params: dict | None = None, amount: str = "t.unit_price") -> int:
    """Charges for the events matching ``where`` (alias ``e``), as ingestion would have written them:
    outcomes pending → estimated, billable → rated, attempts → rated with no amount; ``amount`` an
    SQL expression (``t`` is the outcome type). The rollup is kept by the charge table's trigger."""
    cursor.execute(
        "INSERT INTO billing_charge (event_id, account_id, outcome_type_id, occurred_at, complexity, value_amount, "
        "attempt, contract_version_id, amount, credits, currency, state, reason) "
        "SELECT e.id, e.account_id, e.outcome_type_id, e.occurred_at, e.complexity, e.value_amount, "
        f"e.status = 'non_billable', NULL, CASE WHEN e.status = 'non_billable' THEN NULL ELSE {amount} END, NULL, "
        "a.currency, CASE WHEN e.status = 'pending' THEN 'estimated' ELSE 'rated' END, '' "
        "FROM metering_event e JOIN accounts_account a ON a.id = e.account_id "
        "JOIN metering_outcometype t ON t.id = e.outcome_type_id "
        f"WHERE ({where}) AND (e.status <> 'non_billable' OR e.non_billable_reason IN ({ATTEMPT_REASONS_SQL}))",
        params or {},
    )
    return cursor.rowcount


def world_setup() -> dict:
    """50 accounts, 4 outcome types with criteria, a fresh vendor key (idempotent)."""
    from accounts.models import Account
    from accounts.services import account_create, api_key_create
    from metering.models import OutcomeType
    from metering.services import outcome_type_create

    tiers = ["starter", "growth", "enterprise"]
    industries = ["retail", "fintech", "health", "telecom", "travel"]
    existing = set(Account.objects.filter(external_id__startswith=ACCOUNT_PREFIX).values_list("external_id", flat=True))
    for n in range(N_ACCOUNTS):
        external_id = f"{ACCOUNT_PREFIX}{n:02d}"
        if external_id not in existing:
            account_create(
                external_id=external_id,
                name=f"Bench account {n:02d}",
                currency="EUR" if n % 5 == 0 else "USD",
                tier=tiers[n % 3],
                industry=industries[n % 5],
                use_case="support",
            )
    codes = set(OutcomeType.objects.values_list("code", flat=True))
    for spec in OUTCOME_TYPES:
        if spec["code"] not in codes:
            outcome_type_create(created_by="bench", **spec)
    key = api_key_create(name=f"bench {datetime.now(UTC):%Y-%m-%d %H:%M:%S}").secret
    return {"key": key}


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · {platform.machine()} · Python {platform.python_version()}"


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def server_settings() -> str:
    """The server settings that move write throughput, as the figures were measured with them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(name || ' ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings "
            "WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'synchronous_commit', 'fsync')"
        )
        return cursor.fetchone()[0]


# --- Events -------------------------------------------------------------------------------


# How far back events occurred: 30 days by default (some windows closed, most still open, each
# batch spread over hundreds of days × accounts × types); ``ingest_http.py --occurred-within 600``
# posts them as a platform does in real time (every batch adds to the same days).
OCCURRED_WITHIN_SECONDS = 30 * 86400


def event_payload(index: int, *, tag: str, base: datetime) -> dict:
    """The ``index``-th event of a run: deterministic, so a re-post carries the same payload."""
    type_n = _TYPE_CYCLE[(index * 7) % len(_TYPE_CYCLE)]
    code = OUTCOME_TYPES[type_n]["code"]
    # Spread over the last OCCURRED_WITHIN_SECONDS, never in the future.
    occurred = base - timedelta(seconds=60 + (index * 7919) % OCCURRED_WITHIN_SECONDS)
    # About 3 % re-use the session of the same account's event 50 places earlier.
    session = index - N_ACCOUNTS if index % 31 == 0 and index >= N_ACCOUNTS else index
    payload = {
        "event_id": f"{tag}-{index:09d}",
        "account": f"{ACCOUNT_PREFIX}{index % N_ACCOUNTS:02d}",
        "outcome_type": code,
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred.microsecond // 1000:03d}Z",
        "success_criteria_met": index % 13 != 0,
        "human_handoff": index % 23 == 0,
        "channel": _CHANNELS[index % len(_CHANNELS)],
        "workflow": _WORKFLOWS[(index // 3) % len(_WORKFLOWS)],
        "session_id": f"sess-{tag}-{session}",
        "complexity": _COMPLEXITY[index % len(_COMPLEXITY)],
        "verification_method": "crm_sync" if index % 5 else "none",
        "source_url": f"https://platform.example.com/conversations/{index}",
        "cost_amount": f"0.{(index * 37) % 9000 + 1000:04d}",
        "attributes": {"agent_version": "v3.2", "language": "en" if index % 4 else "de", "turns": index % 17},
    }
    if index % 97 == 0:
        payload["sandbox"] = True
    if index % 29 == 0:
        payload["failure_reason"] = _FAILURES[index % len(_FAILURES)]
    if type_n in (1, 3):
        payload["value_amount"] = f"{(index * 13) % 500 + 20}.50"
    return payload


def plan_batches(*, total: int, batch: int, dup_ratio: float, seed: int = 7) -> tuple[list[list[int]], int]:
    """Batches of event indices: each batch mixes new events with re-posts of earlier batches' events.

    Returns (batches, number of distinct events). No index repeats inside a batch.
    """
    import random

    rng = random.Random(seed)
    n_batches = -(-total // batch)
    dups_total = round(total * dup_ratio)
    unique_total = total - dups_total
    batches: list[list[int]] = []
    next_new = placed = 0
    for k in range(n_batches):
        size = min(batch, total - k * batch)
        dups = min(round(dups_total * (k + 1) / n_batches) - placed, next_new, size)
        new = size - dups
        if next_new + new > unique_total:
            new = unique_total - next_new
            dups = size - new
        ids = list(range(next_new, next_new + new)) + rng.sample(range(next_new), dups)
        rng.shuffle(ids)
        batches.append(ids)
        next_new += new
        placed += dups
    return batches, next_new


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


# --- CPU accounting -----------------------------------------------------------------------


def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) used so far by every process, with its command line."""
    ticks = os.sysconf("SC_CLK_TCK")
    snapshot = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        snapshot[int(name)] = (
            cmd or stat.split("(", 1)[1].split(")", 1)[0],
            (int(fields[11]) + int(fields[12])) / ticks,
        )
    return snapshot


def backend_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by a local PostgreSQL backend (None if it cannot be read)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return None


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks


def cpu_by_category(before: dict, after: dict, classify) -> dict[str, float]:
    """CPU seconds used between two snapshots, summed by ``classify(pid, cmd)`` (None: skip)."""
    totals: dict[str, float] = {}
    for pid, (cmd, seconds) in after.items():
        used = seconds - before.get(pid, (cmd, 0.0))[1]
        category = classify(pid, cmd)
        if category and used > 0:
            totals[category] = totals.get(category, 0.0) + used
    return totals
