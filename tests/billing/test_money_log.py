"""The money log: every money act appends one chained entry; triggers refuse tampering in SQL; what a
superuser does with the triggers off, verify_ledger names — the exact entry.

Most tests run in one transaction: acts are chained at commit, so they call ``moneylog_flush()``
to chain them now. Tampering as a superuser is ``SET LOCAL session_replication_role = replica``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import JobRun
from billing.ingestion import outcomes_settle
from billing.invoices.corrections import invoice_void
from billing.ledger.models import Charge
from billing.moneylog import kinds, verify
from billing.moneylog.canonical import (
    GENESIS_PREV,
    canonical_json,
    charges_digest,
    charges_digest_sql,
    entry_body,
    entry_hash,
)
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.services import money_act_record, moneylog_flush
from billing.moneylog.verify import ledger_verify
from billing.receivables.services import invoice_payment_record
from billing.services import credit_note_issue, invoice_events_link, invoice_finalize
from billing.spend.models import SpendControlChange
from billing.spend.services import spend_controls_set
from billing.tasks import LedgerBroken, verify_ledger
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize

UNIT = [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}]


def _entries(*kinds_: str) -> list[MoneyLogEntry]:
    """The log's entries (of these kinds), the acts of the test's transaction chained first."""
    moneylog_flush()
    qs = MoneyLogEntry.objects.order_by("id")
    return list(qs.filter(kind__in=kinds_) if kinds_ else qs)


def _sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _as_superuser_without_triggers(*statements: str) -> None:
    """What a superuser can always do: switch the triggers off, then change rows."""
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending checks and chaining, so that TRUNCATE may run
    _sql("SET LOCAL session_replication_role = replica")
    for statement in statements:
        _sql(statement)
    _sql("SET LOCAL session_replication_role = origin")


@pytest.fixture
def june(db):
    """Acme's June invoice, final and stamped (6 outcomes at 0.99), a July outcome not invoiced yet,
    and a cap change."""
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 6)
    invoice = settle_and_finalize(account)
    post(account, 1, at=datetime(2026, 7, 2, tzinfo=UTC), prefix="july")
    spend_controls_set(account=account, monthly_cap=D("500"), monthly_cap_outcomes=None, alert_thresholds=[50],
                       at_cap="pause", changed_by="fin", now=AFTER_JUNE)  # fmt: skip
    return invoice


# --- The format ---------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_has_no_spaces_and_writes_decimals_and_times_as_strings():
    value = {"b": D("1.50"), "a": [1, None, True], "t": datetime(2026, 6, 1, 12, tzinfo=UTC), "é": "ü"}
    assert canonical_json(value) == '{"a":[1,null,true],"b":"1.50","t":"2026-06-01T12:00:00.000000Z","é":"ü"}'
    with pytest.raises(TypeError):
        canonical_json({"amount": 0.99})  # money never passes through float
    with pytest.raises(TypeError):
        canonical_json({1: "an int key sorts apart from its text"})


def test_an_entry_hash_is_sha256_of_the_previous_hash_and_the_entrys_canonical_json(june):
    first, second = _entries()[:2]
    for entry, prev in ((first, GENESIS_PREV), (second, first.hash)):
        body = json.dumps(
            {"account": entry.account_id, "actor": entry.actor, "at": entry.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
             "data": entry.data, "kind": entry.kind, "ref": entry.ref},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        )  # fmt: skip
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256((prev + body).encode()).hexdigest()
        assert entry_hash(prev, entry_body(account=entry.account_id, actor=entry.actor, at=entry.at, data=entry.data,
                                           kind=entry.kind, ref=entry.ref)) == entry.hash  # fmt: skip


def test_the_charges_digest_in_python_and_in_sql_agree(db):
    rows = [(7, D("0.99"), None, "rated"), (3, D("1.5"), D("50"), "estimated"), (5, None, None, "rated")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {charges_digest_sql('c')} FROM (SELECT v.event_id, v.amount::numeric(18, 6) AS amount, "
            "v.credits::numeric(18, 4) AS credits, v.state FROM (VALUES (7, 0.99, NULL, 'rated'), "
            "(3, 1.5, 50, 'estimated'), (5, NULL, NULL, 'rated')) AS v(event_id, amount, credits, state)) c"
        )
        assert cursor.fetchone()[0] == charges_digest(rows)
    lines = "3|1.500000|50.0000|estimated\n5|||rated\n7|0.990000||rated\n"
    assert charges_digest(rows) == hashlib.sha256(lines.encode()).hexdigest()


# --- Every money act appends one entry -----------------------------------------------------------


def test_an_ingestion_batch_is_one_entry_with_count_sums_and_the_digest_of_its_charges(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 7)
    (entry,) = _entries(kinds.CHARGES_RATED)
    assert (entry.account_id, entry.actor_type, entry.actor_label) == (account.pk, "system", entry.actor_label)
    assert entry.data["count"] == 7
    assert entry.data["sums"] == {"USD": {"count": 7, "amount": "6.930000", "credits": "0"}}
    charges = Charge.objects.filter(account=account).values_list("event_id", "amount", "credits", "state")
    assert entry.data["digest"] == charges_digest(charges)


def test_settlement_writes_one_entry_per_chunk(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 5)
    outcomes_settle(now=AFTER_JUNE, chunk=2)
    entries = _entries(kinds.CHARGES_SETTLED)
    assert [e.data["count"] for e in entries] == [2, 2, 1]
    assert all(e.data["sums"]["USD"]["amount"] in ("1.980000", "0.990000") for e in entries)


def test_finalizing_records_the_invoice_and_stamping_records_its_charges(june):
    (final,) = _entries(kinds.INVOICE_FINALIZED)
    assert (final.ref, final.data["number"], final.data["total"]) == (f"invoice:{june.pk}", june.number, "5.9400")
    (stamped,) = _entries(kinds.CHARGES_INVOICED)
    assert (stamped.data["invoice_id"], stamped.data["count"]) == (june.pk, 6)
    assert stamped.data["before"] == {"amount": "5.940000", "credits": "0"}


def test_a_final_invoice_whose_charges_wait_to_be_stamped_verifies(db):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, prices=UNIT)
    post(account, 4)
    outcomes_settle(now=AFTER_JUNE)
    invoice = invoice_finalize(account=account, period="2026-06", now=AFTER_JUNE, link_events=False).invoice
    assert ledger_verify().ok  # final, its events frozen on its lines, not stamped yet
    assert invoice_events_link(invoice=invoice) == 4
    assert ledger_verify().ok
    assert len(_entries(kinds.CHARGES_INVOICED)) == 1


def test_every_money_act_is_in_the_log_once(june):
    account = june.account
    note = credit_note_issue(account=account, amount=D("1.00"), reason="goodwill")  # (a note on June: no void)
    invoice_void(invoice=june, reason="issued by mistake")
    seen = [(e.kind, e.ref) for e in _entries() if e.kind != kinds.GENESIS]  # the test database's, if not flushed
    change = SpendControlChange.objects.get()
    assert [kind for kind, _ in seen] == [
        "contract_version_created",
        "charges_rated",
        "charges_settled",
        "invoice_finalized",
        "charges_invoiced",
        "charges_rated",  # the July outcome
        "spend_controls_changed",
        "credit_note_issued",
        "invoice_voided",
        "invoice_payment_status",  # open → void
        "charges_released",  # June's outcomes left its lines, to be billed by its replacement
    ]
    assert (kinds.CREDIT_NOTE_ISSUED, f"credit_note:{note.pk}") in seen
    assert (kinds.SPEND_CONTROLS_CHANGED, f"spend_control_change:{change.pk}") in seen
    assert ledger_verify().ok


def test_a_rolled_back_act_leaves_no_entry(db):
    account = factories.make_account("acme")
    with pytest.raises(RuntimeError), transaction.atomic():
        money_act_record(kind=kinds.CREDITS_GRANTED, account_id=account.pk, data={"credits": D("5")})
        raise RuntimeError("the act fails")
    assert _entries() == _entries(kinds.GENESIS)


@pytest.mark.django_db(transaction=True)
def test_an_act_outside_a_transaction_is_refused():
    # Outside a transaction the act and its entry could commit apart.
    with pytest.raises(RuntimeError, match="inside the transaction"):
        money_act_record(kind=kinds.GENESIS, account_id=None, data={})


def test_an_api_request_names_its_key_as_the_actor(db, vendor_client):
    factories.make_outcome_type()
    account = factories.make_account("acme")
    response = vendor_client.post(
        "/api/v1/events", {"events": [factories.event_payload(account, "e-1")]}, content_type="application/json"
    )
    assert response.status_code == 200
    (entry,) = _entries(kinds.CHARGES_RATED)
    assert (entry.actor_type, entry.actor_label) == ("api_key", "key:test vendor")
    assert entry.actor_id is not None


# --- Triggers refuse tampering in SQL ----------------------------------------------------------------

REFUSED = {
    "update a log entry": "UPDATE billing_moneylogentry SET kind = 'genesis'",
    "delete a log entry": "DELETE FROM billing_moneylogentry",
    "truncate the log": "TRUNCATE billing_moneylogentry",
    "insert an entry by hand": "INSERT INTO billing_moneylogentry (id, prev_hash, hash, at, kind, ref, actor_type, "
    "actor_label, data) VALUES (999, '', '', now(), 'genesis', '', 'system', 'me', '{}')",
    "update an invoiced charge's amount": "UPDATE billing_charge SET amount = amount + 1 "
    "WHERE invoice_line_id IS NOT NULL",
    "delete an invoiced charge": "DELETE FROM billing_charge WHERE invoice_line_id IS NOT NULL",
    "move an invoiced charge off its line": "UPDATE billing_charge SET invoice_line_id = NULL "
    "WHERE invoice_line_id IS NOT NULL",
    "take an invoiced charge back to rated": "UPDATE billing_charge SET state = 'rated' "
    "WHERE invoice_line_id IS NOT NULL",
    "delete a charge not invoiced": "DELETE FROM billing_charge WHERE invoice_line_id IS NULL",
    "change a rated charge's amount": "UPDATE billing_charge SET amount = 0 WHERE invoice_line_id IS NULL",
    "truncate the charges": "TRUNCATE billing_charge",
    "delete the cap-change log": "DELETE FROM billing_spendcontrolchange",
    "update the cap-change log": "UPDATE billing_spendcontrolchange SET changed_by = 'someone else'",
    "truncate the cap-change log": "TRUNCATE billing_spendcontrolchange",
    "truncate invoices, cascading": "TRUNCATE billing_invoice CASCADE",
    "truncate invoice lines": "TRUNCATE billing_invoiceline",
    "truncate credit notes": "TRUNCATE billing_creditnote CASCADE",
    "truncate contract versions": "TRUNCATE billing_contractversion CASCADE",
    "truncate the credit ledger": "TRUNCATE billing_creditledgerentry",
    "truncate payments": "TRUNCATE billing_payment CASCADE",
    "truncate the payment status history": "TRUNCATE billing_paymentstatuschange",
    "truncate accounts, cascading into money": "TRUNCATE accounts_account CASCADE",
    "update a final invoice's total": "UPDATE billing_invoice SET subtotal = subtotal + 1, total = total + 1",
    "delete a final invoice": "DELETE FROM billing_invoice",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_database_refuses_tampering(june, statement):
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending checks and chaining, so that TRUNCATE may run
    before = ledger_verify()
    with pytest.raises(DatabaseError), transaction.atomic():
        _sql(statement)
    after = ledger_verify()
    assert after.ok and (after.entries, after.head_hash) == (before.entries, before.head_hash)


ALLOWED_MOVES = [("invoiced", "disputed"), ("disputed", "invoiced"), ("invoiced", "credited"), ("disputed", "credited")]


@pytest.mark.parametrize(("old", "new"), ALLOWED_MOVES)
def test_the_disputes_moves_of_an_invoiced_charge_stay_allowed(june, old, new):
    charge = Charge.objects.filter(invoice_line__isnull=False).first()
    with transaction.atomic():
        _as_superuser_without_triggers(f"UPDATE billing_charge SET state = '{old}' WHERE event_id = {charge.pk}")
    _sql(f"UPDATE billing_charge SET state = '{new}' WHERE event_id = %s", [charge.pk])
    assert Charge.objects.get(pk=charge.pk).state == new


def test_a_credited_charge_never_moves_again(june):
    charge = Charge.objects.filter(invoice_line__isnull=False).first()
    _sql("UPDATE billing_charge SET state = 'credited' WHERE event_id = %s", [charge.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        _sql("UPDATE billing_charge SET state = 'invoiced' WHERE event_id = %s", [charge.pk])


def test_the_maintenance_switch_lets_a_superuser_truncate_and_nobody_else(june):
    _sql("CREATE ROLE op_ledger_app_test NOLOGIN")
    _sql("GRANT TRUNCATE, SELECT ON billing_spendcontrolchange TO op_ledger_app_test")
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="TRUNCATE is refused"), transaction.atomic():
        _sql("SET LOCAL ROLE op_ledger_app_test")
        _sql("SET LOCAL outcomeportal.maintenance = on")  # any role may set it; only a superuser's counts
        _sql("TRUNCATE billing_spendcontrolchange")
    with transaction.atomic():
        _sql("SET LOCAL outcomeportal.maintenance = on")
        _sql("TRUNCATE billing_spendcontrolchange")  # the test suite's flush, as a superuser
        assert not SpendControlChange.objects.exists()
        transaction.set_rollback(True)


# --- verify_ledger names what a superuser did with the triggers off ---------------------------------


def _first(result=None):
    result = result or ledger_verify()
    assert not result.ok
    return result.first


def test_verify_passes_on_an_untouched_log(june):
    result = ledger_verify()
    assert result.ok and result.problems == []
    assert (result.invoices, result.charges, result.accounts) == (1, 7, 1)


@pytest.mark.parametrize("how", ["session_replication_role", "ALTER TABLE … DISABLE TRIGGER"])
def test_an_invoiced_charge_whose_amount_changed_names_the_stamping_entry(june, how):
    (stamped,) = _entries(kinds.CHARGES_INVOICED)
    charge = Charge.objects.filter(invoice_line__invoice=june).order_by("pk").first()
    update = f"UPDATE billing_charge SET amount = 0.01 WHERE event_id = {charge.pk}"
    if how == "session_replication_role":
        _as_superuser_without_triggers(update)
    else:
        _sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses a table with pending trigger events
        _sql("ALTER TABLE billing_charge DISABLE TRIGGER billing_charge_invoiced_guard")
        _sql(update)
        _sql("ALTER TABLE billing_charge ENABLE TRIGGER billing_charge_invoiced_guard")
    first = _first()
    assert (first.code, first.entry_id, first.entry_hash) == ("invoiced_charges_changed", stamped.id, stamped.hash)


def test_a_deleted_invoiced_charge_names_the_stamping_entry(june):
    (stamped,) = _entries(kinds.CHARGES_INVOICED)
    charge = Charge.objects.filter(invoice_line__invoice=june).order_by("pk").last()
    _as_superuser_without_triggers(f"DELETE FROM billing_charge WHERE event_id = {charge.pk}")
    result = ledger_verify()
    assert (result.first.code, result.first.entry_id) == ("invoiced_charges_changed", stamped.id)
    assert "charges_total" in {p.code for p in result.problems}


def test_a_deleted_entry_names_the_entry_after_the_gap(june):
    entries = _entries()
    gone, after = entries[3], entries[4]
    _as_superuser_without_triggers(f"DELETE FROM billing_moneylogentry WHERE id = {gone.id}")
    first = _first()
    assert (first.code, first.entry_id, first.entry_hash) == ("entry_missing", after.id, after.hash)
    assert f"Entry {gone.id} is missing" in first.message


def test_an_edited_entry_names_itself(june):
    entry = _entries(kinds.CHARGES_RATED)[0]
    _as_superuser_without_triggers(
        f"UPDATE billing_moneylogentry SET data = jsonb_set(data, '{{count}}', '5') WHERE id = {entry.id}"
    )
    first = _first()
    assert (first.code, first.entry_id, first.entry_hash) == ("entry_altered", entry.id, entry.hash)


def test_reordered_entries_name_the_first_entry_out_of_place(june):
    entries = _entries()
    a, b = entries[2], entries[3]
    _as_superuser_without_triggers(
        f"UPDATE billing_moneylogentry SET id = -1 WHERE id = {a.id}",
        f"UPDATE billing_moneylogentry SET id = {a.id} WHERE id = {b.id}",
        f"UPDATE billing_moneylogentry SET id = {b.id} WHERE id = -1",
    )
    first = _first()
    assert (first.code, first.entry_id, first.entry_hash) == ("chain_broken", a.id, b.hash)


def test_a_chain_rewritten_after_an_edit_still_fails_its_anchor(june):
    head = _entries()[-1]
    entry = _entries(kinds.CHARGES_RATED)[0]
    _as_superuser_without_triggers(
        f"UPDATE billing_moneylogentry SET actor_label = 'someone else' WHERE id = {entry.id}"
    )
    _rehash_from(entry.id)
    assert ledger_verify().ok  # consistent again: only a hash kept elsewhere tells
    first = _first(ledger_verify(anchors=[(head.id, head.hash)]))
    assert (first.code, first.entry_id) == ("anchor_mismatch", head.id)


def _rehash_from(first_id: int) -> None:
    """What a determined superuser does next: recompute every hash from the edited entry on."""
    _sql("SET LOCAL session_replication_role = replica")
    prev = MoneyLogEntry.objects.get(id=first_id - 1).hash
    for e in MoneyLogEntry.objects.filter(id__gte=first_id).order_by("id"):
        h = entry_hash(prev, entry_body(account=e.account_id, actor=e.actor, at=e.at, data=e.data, kind=e.kind,
                                        ref=e.ref))  # fmt: skip
        _sql("UPDATE billing_moneylogentry SET prev_hash = %s, hash = %s WHERE id = %s", [prev, h, e.id])
        prev = h
    _sql("SET LOCAL session_replication_role = origin")


def test_a_deleted_cap_change_names_its_entry(june):
    (entry,) = _entries(kinds.SPEND_CONTROLS_CHANGED)
    _as_superuser_without_triggers("DELETE FROM billing_spendcontrolchange")
    first = _first()
    assert (first.code, first.entry_id, first.entry_hash) == ("row_missing", entry.id, entry.hash)


def test_a_final_invoice_changed_consistently_names_its_finalization(june):
    (entry,) = _entries(kinds.INVOICE_FINALIZED)
    (stamped,) = _entries(kinds.CHARGES_INVOICED)
    _as_superuser_without_triggers(
        f"UPDATE billing_invoiceline SET amount = amount - 1 WHERE invoice_id = {june.pk} AND kind = 'outcome'",
        f"UPDATE billing_invoice SET subtotal = subtotal - 1, total = total - 1 WHERE id = {june.pk}",
    )
    result = ledger_verify()
    assert (result.first.entry_id, result.first.entry_hash) == (entry.id, entry.hash)
    # …and its lines no longer add up to the charges its stamping recorded.
    seen = [(p.code, p.entry_id) for p in result.problems]
    assert seen == [("row_changed", entry.id), ("invoice_charges", stamped.id)]


def test_a_truncated_invoice_table_names_the_entries_of_what_it_held(june):
    (entry,) = _entries(kinds.INVOICE_FINALIZED)
    _as_superuser_without_triggers("TRUNCATE billing_invoice CASCADE")
    first = _first()
    assert (first.code, first.entry_id) == ("row_missing", entry.id)


def test_a_credit_note_added_behind_the_services_back_is_reported(june):
    note = credit_note_issue(account=june.account, amount=D("1.00"), reason="goodwill")
    _as_superuser_without_triggers(
        "INSERT INTO billing_creditnote (account_id, number, amount, currency, reason, event_ids, created_at, "
        f"created_by) SELECT account_id, 'CN-999999', 100, currency, 'x', '{{}}', created_at, '' "
        f"FROM billing_creditnote WHERE id = {note.pk}"
    )
    result = ledger_verify()
    assert [(p.code, p.entry_id) for p in result.problems] == [("row_unrecorded", None)]
    assert "CN-999999" in result.first.message


def test_a_charge_changed_before_invoicing_shows_in_its_accounts_totals(june):
    charge = Charge.objects.get(invoice_line__isnull=True)
    _as_superuser_without_triggers(f"UPDATE billing_charge SET amount = 99 WHERE event_id = {charge.pk}")
    first = _first()
    assert (first.code, first.entry_id) == ("charges_total", None)
    assert f"Account {june.account_id}" in first.message


def test_the_command_exits_1_naming_the_first_broken_entry(june, capsys):
    call_command("verify_ledger")
    assert "The money log is whole" in capsys.readouterr().out
    entry = _entries(kinds.CHARGES_RATED)[0]
    _as_superuser_without_triggers(f"UPDATE billing_moneylogentry SET ref = 'x' WHERE id = {entry.id}")
    with pytest.raises(CommandError) as raised:
        call_command("verify_ledger")
    assert raised.value.returncode == 1
    assert f"entry #{entry.id} ({entry.hash})" in str(raised.value)


def test_the_command_checks_anchors(june):
    head = _entries()[-1]
    call_command("verify_ledger", anchor=[f"{head.id}:{head.hash}"])
    with pytest.raises(CommandError) as raised:
        call_command("verify_ledger", anchor=[f"{head.id}:{'0' * 64}"])
    assert raised.value.returncode == 1
    with pytest.raises(CommandError, match="ID:HASH"):
        call_command("verify_ledger", anchor=["nonsense"])


def test_a_credit_note_shrunk_below_what_was_applied_is_reported(june):
    note = credit_note_issue(account=june.account, amount=D("1.00"), reason="goodwill")
    post(june.account, 2, at=datetime(2026, 7, 3, tzinfo=UTC), prefix="july")
    july = settle_and_finalize(june.account, period="2026-07", now=datetime(2026, 8, 5, tzinfo=UTC))
    assert july.credits_applied == D("1.00")
    (issued,) = _entries(kinds.CREDIT_NOTE_ISSUED)
    assert ledger_verify().ok
    _as_superuser_without_triggers(f"UPDATE billing_creditnote SET amount = 0.50 WHERE id = {note.pk}")
    result = ledger_verify()
    assert (result.first.code, result.first.entry_id) == ("row_changed", issued.id)
    assert {p.code for p in result.problems} == {"row_changed", "credit_note_overapplied"}


def test_the_daily_job_keeps_the_head_and_fails_on_a_broken_log(june):
    whole = verify_ledger()
    run = JobRun.objects.get(name="verify_ledger")
    assert (run.status, run.result["head"], run.result["ok"]) == ("succeeded", whole["head"], True)
    entry = _entries(kinds.CHARGES_RATED)[0]
    _as_superuser_without_triggers(f"UPDATE billing_moneylogentry SET actor_label = 'x' WHERE id = {entry.id}")
    with pytest.raises(LedgerBroken, match=f"the first at entry #{entry.id}"):
        verify_ledger()
    assert JobRun.objects.filter(name="verify_ledger").order_by("-pk").first().status == "failed"


def test_verify_streams_the_log_in_chunks(june, monkeypatch):
    monkeypatch.setattr(verify, "CHUNK", 2)  # the log arrives two entries at a time
    result = ledger_verify()
    assert result.ok and result.entries == len(_entries()) > 2


def test_a_payment_is_recorded_and_a_superuser_changing_it_is_named(june):
    invoice_payment_record(invoice=june, amount=D("5.94"), paid_at=AFTER_JUNE, reference="wire-1", now=AFTER_JUNE)
    (paid,) = _entries(kinds.INVOICE_PAID)
    (status,) = _entries(kinds.INVOICE_PAYMENT_STATUS)
    assert (paid.ref, paid.data["row"]["amount"], status.data["row"]["to_status"]) == (
        f"payment:{paid.data['row']['id']}",
        "5.9400",
        "paid",
    )
    assert ledger_verify().ok
    _as_superuser_without_triggers(f"UPDATE billing_payment SET amount = 59.40 WHERE id = {paid.data['row']['id']}")
    result = ledger_verify()
    assert (result.first.code, result.first.entry_id, result.first.entry_hash) == ("row_changed", paid.id, paid.hash)


def test_an_amount_paid_that_is_not_the_payments_is_reported(june):
    (final,) = _entries(kinds.INVOICE_FINALIZED)
    _as_superuser_without_triggers(f"UPDATE billing_invoice SET amount_paid = 5.94 WHERE id = {june.pk}")
    first = _first()
    assert (first.code, first.entry_id) == ("invoice_paid", final.id)
