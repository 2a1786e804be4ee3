"""Benchmark: what-if repricing of one large account (issue "Vendor finance": ≤ 2 s for 12 months of
a 2M-event account).

One account gets N events (default 2,000,000) spread over 12 months, generated in SQL as
bench/invoices.py does (with their charges); each month's invoice is finalized and its events
stamped, as the monthly run leaves them. Then ``contract_preview`` reprices the 12 closed months —
under the contract in force (its difference must be 0.00: the check that both sides are priced
alike) and under a candidate with other prices and a platform fee — and the API answers the same
request; each timed ``--reps`` times, p50 and max printed against the target.

    python bench/whatif.py --events 200000          # a quick run
    python bench/whatif.py                          # full size
    python bench/whatif.py --skip-fill              # measure again on the data already there

Database ``outcomeportal_bench_whatif`` (never the dev database).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # before bench/: its finance.py is not the finance app

import benchlib  # noqa: E402
import invoices as invoices_bench  # noqa: E402

sys.path.remove(str(ROOT))  # (bench/invoices.py put bench/ first again)
sys.path.insert(0, str(ROOT))

DATABASE = "outcomeportal_bench_whatif"
TARGET_S = 2.0
MONTHS = ["2025-12", *(f"2026-{m:02d}" for m in range(1, 12))]
CANDIDATE = {
    "prices": [
        {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.85"},
        {"outcome_type": "qualified_lead", "model": "unit", "price": "18.00"},
        {
            "outcome_type": "completed_screening",
            "model": "volume",
            "bands": [{"up_to": 5000, "price": "4.00"}, {"up_to": None, "price": "3.25"}],
        },
        {"outcome_type": "saved_cancellation", "model": "unit", "price": "12.00"},
    ],
    "platform_fee": {"amount": "2500.00", "included_outcomes": 5000},
}


def _start(period: str) -> datetime:
    return datetime(int(period[:4]), int(period[5:]), 1, tzinfo=UTC)


def fill(account, events: int) -> None:
    from billing.services import contract_version_create, invoice_finalize

    contract_version_create(account=account, document={**invoices_bench.CONTRACT, "effective_from": "2025-12-01"})
    per = events // len(MONTHS)
    started = time.perf_counter()
    for period in MONTHS:
        invoices_bench.generate(account_ids=[account.pk], per_account=per, month_start=_start(period), tag=period)
    print(f"Generated {per * len(MONTHS):,} events over {len(MONTHS)} months in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    for i, period in enumerate(MONTHS):
        close = _start(MONTHS[i + 1]) if i + 1 < len(MONTHS) else datetime(2026, 12, 1, tzinfo=UTC)
        invoice_finalize(account=account, period=period, now=close)
    print(f"Finalized and stamped {len(MONTHS)} invoices in {time.perf_counter() - started:.1f}s")
    # The statistics autovacuum would gather soon after such a load (the stamped charges' lines).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_charge, billing_invoiceline, billing_invoice")


def _timed(fn, reps: int) -> tuple[list[float], object]:
    result, times = None, []
    for _ in range(reps):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def _line(name: str, times: list[float]) -> None:
    p50, worst = statistics.median(times), max(times)
    verdict = "OK" if worst <= TARGET_S else "OVER"
    print(f"  {name}: p50 {p50:.2f}s, max {worst:.2f}s over {len(times)} runs (target ≤ {TARGET_S:.0f} s: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000, help="the account's events over the 12 months")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--skip-fill", action="store_true", help="measure on the data already there")
    parser.add_argument("--database-url", help="a PostgreSQL server (the bench database is created there)")
    args = parser.parse_args()

    url = args.database_url or benchlib._embedded_server().get_uri(DATABASE)
    url = benchlib.bench_database_url(url)
    benchlib.django_setup(url)
    from django.db import connection

    assert "bench" in connection.settings_dict["NAME"]
    benchlib.migrate()
    from accounts.models import Account

    if not args.skip_fill:
        with connection.cursor() as cursor:
            benchlib.truncate(
                cursor,
                "TRUNCATE billing_invoiceline, billing_invoice, billing_contractversion, billing_creditnote, "
                "billing_invoiceeventspending, metering_event, metering_dailyrollup, metering_monthlyrollup, "
                "metering_sessionclaim, metering_signal, billing_charge, billing_chargerollup, "
                "billing_chargemonthrollup RESTART IDENTITY CASCADE",
            )
            cursor.execute("UPDATE billing_numberseries SET next_value = 1")
        benchlib.world_setup()
    account = Account.objects.filter(external_id__startswith=benchlib.ACCOUNT_PREFIX).order_by("external_id").first()
    Account.objects.filter(pk=account.pk).update(currency="USD", timezone="UTC")
    account.refresh_from_db()
    print(f"Machine: {benchlib.machine()} · PostgreSQL {benchlib.server_version()}")
    if not args.skip_fill:
        fill(account, args.events)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_charge WHERE account_id = %s", [account.pk])
        print(f"{account.external_id}: {cursor.fetchone()[0]:,} charges", flush=True)

    from django.test import Client

    from accounts.services import api_key_create
    from billing.contracts import terms_load
    from billing.invoices.models import ContractVersion
    from billing.whatif.preview import candidate_parse, contract_preview

    now = datetime(2026, 12, 5, tzinfo=UTC)
    in_force = terms_load(ContractVersion.objects.get(account=account).terms)
    candidate = candidate_parse(CANDIDATE, account=account, now=now)
    print(f"\nWhat-if over the {len(MONTHS)} closed months ({MONTHS[0]} to {MONTHS[-1]}):")
    times, same = _timed(lambda: contract_preview(account=account, terms=in_force, months=12, now=now), args.reps)
    check = "OK" if same.difference == 0 and len(same.months) == 12 else "MISMATCH"
    _line(f"the contract in force (invoiced {same.actual_total}, difference {same.difference}: {check})", times)
    times, other = _timed(lambda: contract_preview(account=account, terms=candidate, months=12, now=now), args.reps)
    _line(f"a candidate (total {other.candidate_total}, difference {other.difference})", times)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='bench whatif').secret}")
    url = f"/api/v1/accounts/{account.external_id}/contract/preview"

    def call():
        response = api.post(url, {"contract": CANDIDATE, "months": 12}, content_type="application/json")
        assert response.status_code == 200, response.content
        return response

    times, _ = _timed(call, args.reps)
    _line("the API, the same candidate (12 months of the current date's closed months)", times)


if __name__ == "__main__":
    main()
