"""Benchmark of the finance endpoints: server time per request over the whole book.

    python bench/finance.py                                  # 10,000,000 events, 50 accounts, 24 months
    python bench/finance.py --events 200000                  # a quick run
    python bench/finance.py --skip-fill                      # measure again on the data already there
    python bench/finance.py --database-url postgresql://…/my_bench   # a server (the name must hold 'bench')

The world is bench/portal.py's (its fill: 50 accounts, one of them with 20 % of the events, here
over ``--days`` days, default 730 — the issue's 24 months —, plain SQL, the rollups rebuilt as the
triggers keep them), in the database ``outcomeportal_bench_portal`` unless ``--database-url`` names
another. Delivery costs are set
in the catalogue for two of its types, so margin prices events without a reported cost.

Then, in-process through Django's test client with a vendor key, it times each finance endpoint
(attainment by one and two dimensions over 12 and 24 months, margin by outcome type, account and
tier, revenue over 24 months) and the finance pages. Figures are p50/p95 per case against the
issue's 200 ms.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import portal  # noqa: E402 - bench/portal.py: its database, fill and timing helpers

TARGET_MS = 200.0
CHURN_BODY = {
    "scope": {"tier": "enterprise"},
    "scenario": "churn",
    "months": 12,
    "params": {"threshold": "0.6000", "points_per_month": "2"},
}


def catalogue_costs() -> None:
    from metering.models import OutcomeCost, OutcomeType
    from metering.services import outcome_cost_create

    for code, tier, amount in (("resolved_conversation", "", "0.03"), ("qualified_lead", "", "0.60")):
        outcome_type = OutcomeType.objects.get(code=code)
        if not OutcomeCost.objects.filter(outcome_type=outcome_type, complexity=tier).exists():
            outcome_cost_create(
                outcome_type=outcome_type, complexity=tier, amount=Decimal(amount), effective_from=portal_start()
            )


def portal_start():
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() - timedelta(days=portal.SPAN_DAYS + 31)).date()


class _Post:
    """A test client whose get() posts a JSON body (portal._timed times get())."""

    def __init__(self, client, body: dict):
        self.client, self.body = client, body

    def get(self, url, headers=None):
        return self.client.post(url, self.body, content_type="application/json", headers=headers)


def measure(requests: int) -> None:
    from django.db import connection
    from django.test import Client

    from accounts.models import Role, User
    from accounts.services import api_key_create
    from finance.selectors import current_period

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_event")
        total = cursor.fetchone()[0]
    print(f"\nmeasure: {total:,} events in the database", flush=True)
    key = api_key_create(name="bench finance").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    user = User.objects.filter(username="bench-finance").first() or User.objects.create_user(
        "bench-finance", password="bench-Secret-1", role=Role.VENDOR_FINANCE
    )
    page = Client()
    page.force_login(user)
    period = current_period()
    cases = [
        ("API attainment by tier, 12 months", api, f"/api/v1/finance/attainment?period={period}&group_by=tier"),
        (
            "API attainment tier × type, 24 months",
            api,
            f"/api/v1/finance/attainment?period={period}&months=24&group_by=tier,outcome_type",
        ),
        ("API attainment by account, 12 months", api, f"/api/v1/finance/attainment?period={period}&group_by=account"),
        ("API margin by outcome type, 1 month", api, f"/api/v1/finance/margin?period={period}"),
        ("API margin by account, 6 months", api, f"/api/v1/finance/margin?period={period}&months=6&group_by=account"),
        ("API margin by tier, 1 month", api, f"/api/v1/finance/margin?period={period}&group_by=tier"),
        ("API revenue, 24 months", api, "/api/v1/finance/revenue?months=24"),
        ("page attainment by tier", page, f"/finance/attainment/?period={period}&group_by=tier"),
        ("page margin by outcome type (6 months)", page, f"/finance/margin/?period={period}"),
        ("page revenue", page, "/finance/revenue/"),
        (
            "API scenarios, whole book, 6 months",
            _Post(api, {"scenario": "baseline", "months": 6}),
            "/api/v1/finance/scenarios",
        ),
        (
            "API scenarios, churn of one tier, 12 months",
            _Post(api, CHURN_BODY),
            "/api/v1/finance/scenarios",
        ),
        ("page scenarios, whole book", page, "/finance/scenarios/?months=6"),
        ("page loss outcomes of the big account", page, f"/finance/margin/losses/?account=bench-00&period={period}"),
    ]
    results = [portal._report(name, portal._timed(client, [url] * requests), TARGET_MS) for name, client, url in cases]
    # Loss counts are kept per account-month (finance.models.LossCount): the first request after the
    # months' charges moved counts them again — timed apart, with none kept.
    from finance.models import LossCount

    cold = []
    for _ in range(3):
        LossCount.objects.all().delete()
        cold += portal._timed(api, [f"/api/v1/finance/margin?period={period}&months=6&group_by=account"], warmup=0)
    portal._report("API margin by account, 6 months, nothing kept", cold)
    over = [r["case"] for r in results if r["p95"] > TARGET_MS]
    print(f"\n{len(results) - len(over)} of {len(results)} cases within {TARGET_MS:.0f} ms at p95", flush=True)
    for name in over:
        print(f"  over: {name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in all (default 10,000,000)")
    parser.add_argument("--days", type=int, default=730, help="days the events span (default 730: 24 months)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel connections for the fill (default 2)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per case (default 20)")
    parser.add_argument("--skip-fill", action="store_true", help="measure the data already in the database")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: the embedded one in .data/pg)")
    args = parser.parse_args()
    portal.SPAN_DAYS = args.days  # the fill and the catalogue costs' start read it
    portal.django_setup(portal.database_url(args.database_url))
    if not args.skip_fill:
        portal.fill(args.events, None, args.jobs)
    catalogue_costs()
    measure(args.requests)


if __name__ == "__main__":
    main()
