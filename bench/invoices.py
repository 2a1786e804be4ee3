"""Benchmark: pricing and finalizing invoices.

Two figures (issue 4):

* **one account-month of N events** (default 1,000,000): ``invoice_finalize`` for that account —
  aggregate in SQL, price (pure), save lines, freeze each line's events (an id array per line),
  take the number: the invoice is final. Target ≤ 2 s. Then, printed apart, the second step:
  stamping every event row with its line and amount (``invoice_events_link``).
* **all accounts of a month with M events** (default 10,000,000 over 50 accounts):
  ``invoices_build`` for the month: every invoice final (first pass, target ≤ 30 s), then every
  event stamped (second pass, printed apart).

Events are generated in SQL (``generate_series``) straight into ``metering_event`` — this
measures billing, not ingestion — in the database ``outcomeportal_bench_billing`` (never the
dev database). The contract exercises the expensive paths: a platform fee with 1,000 included
outcomes (rank split), complexity tiers, graduated tiers, per-unit prices.

    python bench/invoices.py --events 100000 --month-events 500000     # validate small first
    python bench/invoices.py                                          # full size
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib

DATABASE = "outcomeportal_bench_billing"
CONTRACT = {
    "effective_from": "2026-01-01",
    "prices": [
        {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"},
        {
            "outcome_type": "qualified_lead",
            "model": "complexity",
            "tiers": {"simple": "10.00", "moderate": "20.00", "complex": "35.00"},
        },
        {
            "outcome_type": "completed_screening",
            "model": "graduated",
            "bands": [
                {"up_to": 1000, "price": "4.50"},
                {"up_to": 10000, "price": "3.75"},
                {"up_to": None, "price": "3.00"},
            ],
        },
        {"outcome_type": "saved_cancellation", "model": "unit", "price": "15.00"},
    ],
    "platform_fee": {"amount": "1500.00", "included_outcomes": 1000, "included_types": ["resolved_conversation"]},
}


def generate(*, account_ids: list[int], per_account: int, month_start: datetime, tag: str) -> float:
    """Insert ``per_account`` decided events per account across the month, in SQL. Returns seconds."""
    from django.db import connection

    from metering import engine
    from metering.fields import checks_encode

    # Rows as wide as ingestion stores them: the checks an event that passed them all records,
    # a source URL, attributes, a cost.
    checks = checks_encode([(code, engine.PASSED) for code in engine.CHECK_ORDER])
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, code FROM metering_outcometype ORDER BY id")
        types = [pk for pk, _ in cursor.fetchall()]
        cursor.execute("SELECT outcome_type_id, max(id) FROM metering_successcriteria WHERE account_id IS NULL "
                       "GROUP BY 1")  # fmt: skip
        criteria = dict(cursor.fetchall())
        for account_id in account_ids:
            cursor.execute(
                """
                INSERT INTO metering_event (account_id, event_id, outcome_type_id, occurred_at, success_criteria_met,
                    human_handoff, channel, workflow, session_id, complexity, verification_method, source_url, sandbox,
                    failure_reason, value_amount, cost_amount, attributes, payload_hash, received_at, status,
                    non_billable_reason, window_ends_at, criteria_id, checks, state, decided_at, settled_at)
                SELECT %(account)s, %(tag)s || '-' || g, t.type_id,
                    %(start)s::timestamptz + (g::float8 / %(n)s) * interval '29 days 23 hours',
                    true, false, 'chat', 'support.refund', 's-' || g,
                    (ARRAY['simple','simple','moderate','complex'])[1 + g %% 4], 'crm_sync',
                    'https://platform.example.com/conversations/' || g, false,
                    CASE WHEN g %% 7 = 0 THEN 'abandoned' ELSE '' END, NULL, 0.0421 + (g %% 100) / 10000.0,
                    jsonb_build_object('agent_version', 'v3.2', 'language', 'en', 'turns', g %% 17),
                    md5(g::text), %(start)s,
                    CASE WHEN g %% 7 = 0 THEN 'non_billable' ELSE 'billable' END,
                    CASE WHEN g %% 7 = 0 THEN 'abandoned' ELSE '' END,
                    %(start)s::timestamptz + interval '31 days', t.criteria_id, %(checks)s, '{}', %(start)s,
                    %(start)s
                FROM generate_series(1, %(n)s) g
                JOIN unnest(%(types)s::bigint[], %(criteria)s::bigint[]) WITH ORDINALITY
                    AS t(type_id, criteria_id, k) ON t.k = 1 + (g * 7 %% 20 >= 11)::int + (g * 7 %% 20 >= 15)::int
                        + (g * 7 %% 20 >= 18)::int
                """,
                {
                    "account": account_id,
                    "tag": tag,
                    "start": month_start,
                    "n": per_account,
                    "types": types,
                    "criteria": [criteria[t] for t in types],
                    "checks": checks,
                },
            )
            # Their charges, as ingestion and settlement leave them (rated, 0.99 as the period stands).
            benchlib.charges_from_events(
                cursor, where="e.account_id = %(account)s AND e.event_id LIKE %(pattern)s",
                params={"account": account_id, "pattern": f"{tag}-%"}, amount="0.99",
            )  # fmt: skip
        cursor.execute("ANALYZE metering_event")
        cursor.execute("ANALYZE billing_charge")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the single account-month")
    parser.add_argument("--month-events", type=int, default=10_000_000, help="events of the all-accounts month")
    parser.add_argument("--accounts", type=int, default=benchlib.N_ACCOUNTS)
    parser.add_argument("--database-url", help="a PostgreSQL server (the bench database is created there)")
    args = parser.parse_args()

    url = args.database_url
    if not url:
        url = benchlib._embedded_server().get_uri(DATABASE)
    url = benchlib.bench_database_url(url)
    benchlib.django_setup(url)
    from django.db import connection

    assert connection.settings_dict["NAME"] == DATABASE or "bench" in connection.settings_dict["NAME"]
    benchlib.migrate()
    with connection.cursor() as cursor:
        benchlib.truncate(
            cursor,
            "TRUNCATE billing_invoiceline, billing_invoice, billing_contractversion, billing_creditnote, "
            "metering_event, metering_dailyrollup, metering_monthlyrollup, metering_sessionclaim, metering_signal, "
            "billing_charge, billing_chargemonthrollup, "
            "billing_chargerollup RESTART IDENTITY CASCADE",
        )
        cursor.execute("UPDATE billing_numberseries SET next_value = 1")
    benchlib.world_setup()

    from accounts.models import Account
    from billing.invoices.models import Invoice
    from billing.services import (
        contract_version_create,
        invoice_draft_refresh,
        invoice_events_link,
        invoice_finalize,
        invoices_build,
    )

    accounts = list(Account.objects.filter(external_id__startswith=benchlib.ACCOUNT_PREFIX).order_by("external_id"))
    accounts = accounts[: args.accounts]
    for account in accounts:
        Account.objects.filter(pk=account.pk).update(currency="USD", timezone="UTC")
        contract_version_create(account=account, document=CONTRACT, created_by="bench")
    print(f"Machine: {benchlib.machine()} · PostgreSQL {benchlib.server_version()}")

    # 1. One account-month (June), priced and finalized.
    june, july = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    single = accounts[0]
    gen = generate(account_ids=[single.pk], per_account=args.events, month_start=june, tag="one")
    print(f"Generated {args.events:,} events for one account-month in {gen:.1f}s")
    started = time.perf_counter()
    draft = invoice_draft_refresh(account=single, period="2026-06", now=july)
    priced = time.perf_counter() - started
    print(f"One account-month, pricing only (SQL aggregate + pure pricing + lines; the draft): {priced:.2f}s, "
          f"total {draft.total}")  # fmt: skip
    started = time.perf_counter()
    done = invoice_finalize(account=single, period="2026-06", now=july, link_events=False)
    one = time.perf_counter() - started
    inv = done.invoice
    print(
        f"One account-month: {args.events:,} events → invoice {inv.number} ({inv.status}) total {inv.total} "
        f"({inv.lines.count()} lines, {done.events_billed:,} events frozen on them) in {one:.2f}s "
        f"(target ≤ 2 s: {'OK' if one <= 2 else 'OVER'})"
    )
    check = "OK" if inv.total == draft.total and inv.status == "finalized" else "MISMATCH"
    print(f"  final total equals the draft's: {check}")
    started = time.perf_counter()
    stamped = invoice_events_link(invoice=inv)
    print(f"  then stamping every event with its line (second step, the invoice is already final): "
          f"{stamped:,} events in {time.perf_counter() - started:.2f}s "
          f"({'OK' if stamped == done.events_billed else 'MISMATCH'})")  # fmt: skip

    # 2. All accounts of a month (May) with M events.
    may = datetime(2026, 5, 1, tzinfo=UTC)
    per = args.month_events // len(accounts)
    gen = generate(account_ids=[a.pk for a in accounts], per_account=per, month_start=may, tag="all")
    print(f"Generated {per * len(accounts):,} events over {len(accounts)} accounts in {gen:.1f}s")
    started = time.perf_counter()
    for account in accounts:
        invoice_draft_refresh(account=account, period="2026-05", now=june)
    print(f"All accounts, pricing only (drafts): {time.perf_counter() - started:.2f}s")
    started = time.perf_counter()
    result = invoices_build(period="2026-05", now=june, accounts=accounts)
    many = result.final_after_s
    total = sum(Invoice.objects.filter(period="2026-05").values_list("total", flat=True))
    print(
        f"All accounts of a month: {per * len(accounts):,} events, {result.finalized} invoices final "
        f"({result.events_billed:,} events frozen on their lines, sum of totals {total}) in {many:.2f}s "
        f"(target ≤ 30 s: {'OK' if many <= 30 else 'OVER'})"
    )
    print(f"  then stamping every event (second pass): {result.events_stamped:,} events, done "
          f"{result.stamped_after_s:.2f}s after the start ({time.perf_counter() - started:.2f}s in all; "
          f"{'OK' if result.events_stamped == result.events_billed else 'MISMATCH'})")  # fmt: skip
    started = time.perf_counter()
    again = invoices_build(period="2026-05", now=june, accounts=accounts)
    print(f"Rerun (idempotent): {again.finalized} finalized, {again.already_final} already final in "
          f"{time.perf_counter() - started:.2f}s")  # fmt: skip


if __name__ == "__main__":
    main()
