"""`GET /api/v1/ledger/verify`: vendor operators and vendor keys only; the body says whole or the first break."""

from __future__ import annotations

import pytest
import yaml
from django.db import connection
from django.test import Client

from accounts.models import Role
from billing.moneylog import kinds
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.services import moneylog_flush
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize
from tests.conftest import key_client

URL = "/api/v1/ledger/verify"


@pytest.fixture
def invoiced(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(account, 3)
    invoice = settle_and_finalize(account)
    moneylog_flush()
    return invoice


def _user_client(role: str, account=None) -> Client:
    client = Client()
    client.force_login(factories.make_user(role, account))
    return client


def test_a_vendor_key_reads_a_whole_log(invoiced, vendor_client):
    response = vendor_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    head = MoneyLogEntry.objects.order_by("-id").first()
    assert body["ok"] is True
    assert (body["head"], body["entries"]) == ({"id": head.id, "hash": head.hash}, MoneyLogEntry.objects.count())
    assert body["checked"] == {"invoices": 1, "credit_notes": 0, "rows": 2, "charges": 3, "accounts": 1}
    assert (body["first_broken"], body["problem_count"], body["problems"]) == (None, 0, [])
    assert set(body) == {"ok", "checked_at", "entries", "head", "checked", "first_broken", "problem_count", "problems"}


def test_a_vendor_operator_reads_it_too(invoiced):
    response = _user_client(Role.VENDOR_OPERATOR).get(URL)
    assert (response.status_code, response.json()["ok"]) == (200, True)


@pytest.mark.parametrize(
    ("who", "status"),
    [("vendor_support", 403), ("customer_admin", 403), ("finance_admin", 403), ("viewer", 403), ("nobody", 401)],
)
def test_nobody_else_may(invoiced, who, status):
    if who == "nobody":
        client = Client()
    elif who == "vendor_support":
        client = _user_client(Role.VENDOR_SUPPORT)
    else:
        client = key_client(invoiced.account, who)
    response = client.get(URL)
    assert response.status_code == status
    assert response.json()["error"]["code"] == ("permission_denied" if status == 403 else "not_authenticated")


def test_a_broken_log_answers_200_with_the_first_broken_entry(invoiced, vendor_client):
    (entry,) = MoneyLogEntry.objects.filter(kind=kinds.CHARGES_INVOICED)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE billing_charge SET amount = 5 WHERE invoice_line_id IS NOT NULL")
        cursor.execute("SET LOCAL session_replication_role = origin")
    body = vendor_client.get(URL).json()
    assert body["ok"] is False
    assert body["first_broken"]["entry_id"] == entry.id
    assert body["first_broken"]["entry_hash"] == entry.hash
    assert body["first_broken"]["code"] == "invoiced_charges_changed"
    assert body["problem_count"] == len(body["problems"])


def test_anchors_are_checked_and_malformed_ones_refused(invoiced, vendor_client):
    head = MoneyLogEntry.objects.order_by("-id").first()
    assert vendor_client.get(URL, {"anchor": f"{head.id}:{head.hash}"}).json()["ok"] is True
    body = vendor_client.get(URL, {"anchor": f"{head.id}:{'a' * 64}"}).json()
    assert (body["ok"], body["first_broken"]["code"]) == (False, "anchor_mismatch")
    response = vendor_client.get(URL, {"anchor": "12:nothex"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"anchor": ["ID:HASH, the hash as 64 lower-case hex digits."]}


def test_the_openapi_schema_documents_the_endpoint_and_its_exact_answers(db, vendor_client):
    schema = yaml.safe_load(vendor_client.get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/ledger/verify"]["get"]
    assert operation["operationId"] == "ledger_verify"
    assert set(operation["responses"]) == {"200", "400", "401", "403", "406", "429"}  # 406, 429: every operation's
    body = schema["components"]["schemas"]["VerificationDoc"]
    assert set(body["properties"]) == {
        "ok", "checked_at", "entries", "head", "checked", "first_broken", "problem_count", "problems",
    }  # fmt: skip
    assert "invoiced_charges_changed" in schema["components"]["schemas"]["LedgerProblemCodeEnum"]["enum"]
