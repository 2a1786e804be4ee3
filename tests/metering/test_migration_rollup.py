"""Migration metering 0012 carries existing data over: on a database seeded before it, the rollup
is rebuilt with complexity and capped from the events, invoiced events keep their invoice, and the
period's charges then equal the draft invoice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Sum

from billing.charges import period_charges
from billing.invoices.models import Invoice
from billing.services import invoice_draft_refresh, invoice_finalize
from metering.models import DailyRollup, Event
from metering.services import outcomes_settle
from tests import factories
from tests.billing.helpers import JUNE_12, contract, post

BEFORE = [("metering", "0011_outcome_type_price_not_negative")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "metering"]


@pytest.mark.django_db(transaction=True)
def test_the_rollup_is_rebuilt_with_complexity_and_invoiced_events_keep_their_invoice():
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    tiers = {"simple": "0.50", "moderate": "1.50", "complex": "3.00"}
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "complexity", "tiers": tiers}])
    _migrate(BEFORE)
    try:
        post(acme, 4, at=JUNE_12 - timedelta(days=20), prefix="may", complexity="complex")
        outcomes_settle(now=JUNE_12 - timedelta(days=10))
        may = invoice_finalize(account=acme, period="2026-05", now=JUNE_12 - timedelta(days=10)).invoice
        post(acme, 3, at=JUNE_12, complexity="simple")
        post(acme, 2, at=JUNE_12, prefix="m", complexity="moderate")
        post(acme, 2, at=JUNE_12, prefix="x", failure_reason="abandoned")
        outcomes_settle(now=JUNE_12 + timedelta(days=4))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'metering_dailyrollup' "
                           "AND column_name = 'complexity'")  # fmt: skip
            assert cursor.fetchone()[0] == 0  # the old schema
    finally:
        _migrate(_latest())

    expected = {
        (r["day"], r["outcome_type_id"], r["complexity"], r["status"], r["non_billable_reason"]): (r["n"], r["a"])
        for r in Event.objects.extra(select={"day": "(occurred_at AT TIME ZONE 'UTC')::date"})
        .values("day", "outcome_type_id", "complexity", "status", "non_billable_reason")
        .annotate(n=Count("id"), a=Sum("amount"))
    }
    rolled = {
        (r.day, r.outcome_type_id, r.complexity, r.status, r.non_billable_reason): (r.events, r.amount)
        for r in DailyRollup.objects.all()
    }
    assert {k: (n, a or 0) for k, (n, a) in expected.items()} == rolled
    assert Event.objects.filter(invoice_line_id__isnull=False).count() == 4
    assert Invoice.objects.get(pk=may.pk).total == D("12.00")  # 4 × complex at 3.00, untouched
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=JUNE_12 + timedelta(days=4))
    assert draft.total == D("4.50") == period_charges(account=acme, period="2026-06").total  # 3 × 0.50 + 2 × 1.50
