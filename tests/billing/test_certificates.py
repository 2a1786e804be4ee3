"""Signed decision certificates (billing.certificates) and their stand-alone verifier (outcomeportal.verify).

A world with every kind of decision and every state and reason a charge can have; every certificate
of it verifies and replays. The verifier, run as its own process, accepts a certificate, refuses one
with a single byte changed, keeps verifying what a retired key signed while the key is listed, and
reports a stored decision that no longer follows from its facts. The endpoint answers only for the
caller's own account; the public keys are public.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import Client

from accounts.access import Principal
from accounts.models import Role
from accounts.services import account_lifecycle_set
from billing import certificate_schema as docs
from billing.audit.detail import BILLING_CHECKS
from billing.certificates import certificate_payload
from billing.ingestion import events_ingest, outcomes_settle, signal_record
from billing.invoices.corrections import outcome_deduct
from billing.ledger.models import ChargeReason, ChargeState
from billing.ledger.shown import BILLING_REASONS, charged_amount, shown
from billing.services import invoice_draft_refresh, invoice_finalize
from billing.spend.services import spend_controls_set
from disputes.services import credits_issue, dispute_file, dispute_resolve
from metering import engine
from metering.evidence import decision_evidence
from metering.models import Event
from metering.services import WindowClosed
from outcomeportal import verify
from tests import factories
from tests.billing.helpers import contract
from tests.conftest import key_client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
JUNE_10 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
JULY_3 = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)
JULY_5 = datetime(2026, 7, 5, tzinfo=UTC)
JULY_8 = datetime(2026, 7, 8, 9, 0, tzinfo=UTC)
JULY_12 = datetime(2026, 7, 12, 12, 0, tzinfo=UTC)
JULY_13 = datetime(2026, 7, 13, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _own_key(signing_key):
    """Each test signs with a key of its own (tests/conftest.py ``signing_key``)."""


def post(account, at: datetime, *events: tuple[str, dict]) -> None:
    payloads = [
        factories.event_payload(account, event_id, occurred_at=at + timedelta(minutes=i), cost_amount="0.031", **f)
        for i, (event_id, f) in enumerate(events)
    ]
    result = events_ingest(raw_events=payloads, now=at + timedelta(hours=1))
    assert (result.accepted, result.rejected) == (len(events), 0), result.results


def admin_of(account) -> Principal:
    return Principal(role=Role.CUSTOMER_ADMIN, account_id=account.pk, label="admin")


SUPPORT = Principal(role=Role.VENDOR_SUPPORT, account_id=None, label="support")
VENDOR = Principal(role="vendor", account_id=None, label="vendor key")


@pytest.fixture
def world():
    """acme: every decision metering makes, an invoiced June (one credited, one disputed) and a July
    draft (one credited off it); globex: a contract with a free training window and a pilot; initech:
    a spend cap its second outcome would cross; umbrella: an outcome while suspended, one after it churned."""
    rc = factories.make_outcome_type("resolved_conversation", "0.99", measurement_window_hours=72)
    factories.make_outcome_type(
        "qualified_lead",
        "5.00",
        measurement_window_hours=0,
        required_verification_methods=["crm_accepted"],
        excluded_channels=["sms"],
        one_per_session=False,
    )
    factories.make_outcome_type("saved_cancellation", "2.00", measurement_window_hours=48, confirm_closes_window=True)
    acme = factories.make_account("acme", name="Acme Support")
    globex = factories.make_account("globex", name="Globex")
    initech = factories.make_account("initech", name="Initech")
    umbrella = factories.make_account("umbrella", name="Umbrella")

    attributes = {"lang": "français", "confidence": 0.93, "tags": ["vip", None], "nested": {"b": 1, "a": [1.5e-7]}}
    post(acme, JUNE_10, *((f"jun-{i}", {"value_amount": "12.5", "attributes": {**attributes, "turns": i}})
                          for i in range(3)))  # fmt: skip
    outcomes_settle(now=JULY_5)
    invoice_finalize(account=acme, period="2026-06", now=JULY_5)

    lead = {"outcome_type": "qualified_lead"}
    post(
        acme,
        JULY_8,
        ("ok", {"channel": "chat", "workflow": "support.refund", "complexity": "moderate"}),
        ("sandbox", {"sandbox": True}),
        *((f"failed-{r}", {"failure_reason": r}) for r in engine.FAILURE_REASONS),
        ("handoff", {"human_handoff": True}),
        ("not-met", {"success_criteria_met": False}),
        ("s1-first", {"session_id": "s1"}),
        ("s1-second", {"session_id": "s1"}),
        ("reopened", {}),
        ("reversed", {}),
        ("escalated", {}),
        ("late-reversal", {}),
        ("lead-ok", {**lead, "verification_method": "crm_accepted"}),
        ("lead-llm", {**lead, "verification_method": "llm_verified"}),
        ("lead-sms", {**lead, "verification_method": "crm_accepted", "channel": "sms"}),
        ("save", {"outcome_type": "saved_cancellation"}),
        ("jul-credited", {}),
        ("jul-deducted", {}),
    )
    for event_id, kind in (("reopened", "reopened"), ("reversed", "reversed"), ("escalated", "escalated")):
        signal_record(event=Event.objects.get(event_id=event_id), type=kind, occurred_at=JULY_8 + timedelta(hours=5),
                      now=JULY_8 + timedelta(hours=6))  # fmt: skip
    signal_record(event=Event.objects.get(event_id="escalated"), type="reopened",
                  occurred_at=JULY_8 + timedelta(hours=7), now=JULY_8 + timedelta(hours=7))  # fmt: skip
    signal_record(event=Event.objects.get(event_id="save"), type="confirmed", occurred_at=JULY_8 + timedelta(hours=10),
                  now=JULY_8 + timedelta(hours=11))  # fmt: skip
    post(acme, JULY_12 - timedelta(hours=2), ("pending", {"session_id": "s2"}))
    outcomes_settle(now=JULY_12)
    with pytest.raises(WindowClosed):  # after the window: recorded, decides nothing
        signal_record(event=Event.objects.get(event_id="late-reversal"), type="reversed",
                      occurred_at=JULY_8 + timedelta(hours=80), now=JULY_12)  # fmt: skip
    outcome_deduct(event=Event.objects.get(event_id="jul-deducted"), reason="The customer came back",
                   reported_at=JULY_12, by="test", now=JULY_12)  # fmt: skip
    invoice_draft_refresh(account=acme, period="2026-07", now=JULY_12)
    for event_id, decision in (("jun-0", "approved"), ("jun-1", None), ("jul-credited", "approved")):
        dispute = dispute_file(principal=admin_of(acme), account=acme, reason_code="other", message="x",
                               event_ids=[event_id], now=JULY_12)  # fmt: skip
        if decision:
            dispute_resolve(principal=SUPPORT, dispute=dispute, decision=decision, now=JULY_12)
    credits_issue(now=JULY_13)

    contract(globex, effective_from="2026-07-01",
             prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
             onboarding={"starts": "2026-07-01", "training_days": 5, "pilot_free_outcomes": 1})  # fmt: skip
    post(globex, JULY_3, ("g-training", {}))
    post(globex, JULY_8, ("g-pilot", {}), ("g-charged", {}))

    spend_controls_set(account=initech, monthly_cap=Decimal("1.00"), monthly_cap_outcomes=None, alert_thresholds=[],
                       at_cap="pause", changed_by="test", now=JULY_8)  # fmt: skip
    post(initech, JULY_8, ("i-first", {}), ("i-capped", {}))

    for status, at, event_id in (("suspended", JULY_8, "u-suspended"), ("churned", JULY_12, "u-churned")):
        account_lifecycle_set(account=umbrella, status=status, effective_at=at, changed_by="test")
        post(umbrella, at + timedelta(minutes=1), (event_id, {}))
    return rc


def payload_of(event_id: str, principal: Principal = VENDOR) -> dict:
    event = Event.objects.select_related("account", "outcome_type", "criteria__outcome_type", "criteria__account").get(
        event_id=event_id
    )
    return certificate_payload(event=event, principal=principal, now=JULY_13)


def all_problems(certificate: dict, keys: list[dict]) -> list[str]:
    """What the stand-alone verifier finds wrong, called in-process."""
    problems = [p for p in [verify.signature_problem(certificate, keys)] if p]
    hash_problem, _ = verify.raw_event_problem(certificate["payload"])
    return problems + ([hash_problem] if hash_problem else []) + verify.replay_problems(certificate["payload"])


def certificate(client: Client, account: str, event_id: str) -> dict:
    response = client.get(f"/api/v1/events/{account}/{event_id}/certificate")
    assert response.status_code == 200, response.content
    return response.json()


def public_keys() -> list[dict]:
    return Client().get("/.well-known/outcomeportal-keys.json").json()["keys"]


def test_the_world_has_every_decision_and_every_charge_state_and_reason(world):
    seen = {e.event_id: (e.status, e.non_billable_reason) for e in Event.objects.all()}
    assert {reason for _, reason in seen.values()} == {"", *engine.REASONS}
    charges = {
        (p["charge"]["state"], p["charge"]["reason"]) for p in (payload_of(e) for e in seen) if p["charge"] is not None
    }
    assert {state for state, _ in charges} == set(ChargeState.values)
    assert {reason for _, reason in charges} >= {*BILLING_REASONS, None}
    assert {payload_of(e)["shown"]["status"] for e in seen} == {
        "pending", "billable", "non_billable", "invoiced", "disputed", "credited",
    }  # fmt: skip


def test_every_certificate_of_the_world_verifies_and_replays(world, vendor_client):
    keys = public_keys()
    for event in Event.objects.select_related("account"):
        cert = certificate(vendor_client, event.account.external_id, event.event_id)
        assert all_problems(cert, keys) == [], event.event_id
        assert verify.raw_event_problem(cert["payload"]) == (None, "matches the event in the certificate")


def test_a_certificate_records_the_decision_its_checks_and_facts_the_charge_and_what_is_shown(
    world, vendor_client, signing_key
):
    cert = certificate(vendor_client, "acme", "jun-2")
    payload = cert["payload"]

    assert (cert["kid"], cert["alg"], set(cert)) == (signing_key[1], "Ed25519", {"payload", "kid", "alg", "signature"})
    assert payload["event"] == {
        "event_id": "jun-2",
        "account": "acme",
        "outcome_type": "resolved_conversation",
        "occurred_at": "2026-06-10T09:02:00Z",
        "success_criteria_met": True,
        "human_handoff": False,
        "channel": "",
        "workflow": "",
        "session_id": "",
        "complexity": "",
        "verification_method": "",
        "source_url": "",
        "sandbox": False,
        "failure_reason": "",
        "value_amount": "12.500000",
        "cost_amount": "0.031000",
        "attributes": {
            "lang": "français",
            "confidence": 0.93,
            "tags": ["vip", None],
            "nested": {"b": 1, "a": [1.5e-7]},
            "turns": 2,
        },
    }
    assert payload["raw_event_sha256"] == verify.sha256_hex(payload["event"])
    decision = payload["decision"]
    assert decision["rule_version"] == "resolved_conversation v1"
    assert decision["engine_version"] == engine.ENGINE_VERSION
    assert decision["rules"] == {
        "measurement_window_hours": 72,
        "one_per_session": True,
        "required_verification_methods": [],
        "excluded_workflows": [],
        "excluded_channels": [],
        "handoff_is_billable": False,
        "confirm_closes_window": False,
        "reopen_after_window": "continuation",
    }
    assert decision["window"] == {
        "occurred_at": "2026-06-10T09:02:00Z",
        "measurement_window_hours": 72,
        "confirm_closes_window": False,
        "confirmations": [],
        "ends_at": "2026-06-13T09:02:00Z",
    }
    assert [(c["code"], c["outcome"]) for c in decision["checks"]] == [
        *((code, "n/a" if code in ("verified", "first_in_session") else "passed") for code in engine.CHECK_ORDER),
        *((code, "passed") for code, _, _ in BILLING_CHECKS),
    ]
    first_in_session = decision["checks"][6]
    assert first_in_session == {
        "code": "first_in_session",
        "description": "First counted outcome of its session",
        "outcome": "n/a",
        "facts": {"event_id": "jun-2", "session_id": "", "one_per_session": True, "session_taken_by": None},
    }
    assert decision["checks"][7]["facts"] == {
        "occurred_at": "2026-06-10T09:02:00Z",
        "window_ends_at": "2026-06-13T09:02:00Z",
        "signals": [],
    }
    assert decision["checks"][-1]["facts"] == {"charge_reason": None}
    assert (decision["status"], decision["reason"], decision["decided_at"], decision["settled_at"]) == (
        "billable",
        None,
        "2026-06-10T10:00:00Z",
        "2026-07-05T00:00:00Z",
    )
    assert payload["charge"] == {
        "state": "invoiced",
        "reason": None,
        "amount": "0.990000",
        "credits": None,
        "currency": "USD",
        "contract_version": None,
        "attempt": False,
    }
    assert payload["shown"] == {
        "status": "invoiced",
        "reason": None,
        "amount": "0.990000",
        "credits": None,
        "currency": "USD",
    }
    issued = datetime.fromisoformat(payload["issued_at"])
    assert abs(issued - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_contract_version_and_billings_reason_are_recorded(world):
    payload = payload_of("g-pilot")
    assert payload["charge"]["contract_version"] == 1
    assert payload["charge"]["reason"] == "pilot_free"
    assert payload["shown"] == {"status": "non_billable", "reason": "pilot_free", "amount": None, "credits": None,
                                "currency": "USD"}  # fmt: skip
    assert [c["outcome"] for c in payload["decision"]["checks"] if c["code"] == "beyond_pilot_allowance"] == ["failed"]


def test_a_signal_that_decided_nothing_is_recorded_but_not_counted(world):
    decision = payload_of("late-reversal")["decision"]
    assert [(s["type"], s["effect"]) for s in decision["signals"]] == [("reversed", "window_closed")]
    assert decision["checks"][8]["facts"]["signals"] == []
    assert decision["status"] == "billable"


def test_a_customer_certificate_leaves_the_vendors_cost_out_and_still_verifies(world):
    acme = Event.objects.get(event_id="ok").account
    cert = certificate(key_client(acme, Role.VIEWER), "acme", "ok")

    assert "cost_amount" not in cert["payload"]["event"]
    assert cert["payload"]["raw_event_sha256"] == payload_of("ok")["raw_event_sha256"]  # the whole stored event
    assert all_problems(cert, public_keys()) == []
    assert verify.raw_event_problem(cert["payload"])[1].startswith("not recomputed")


# --- The verifier as its own process ---------------------------------------------------------------


def run_verifier(tmp_path: Path, cert: dict | bytes, keys: list[dict] | None = None, *extra: str):
    cert_file = tmp_path / "certificate.json"
    cert_file.write_bytes(cert if isinstance(cert, bytes) else json.dumps(cert).encode())
    args = [str(cert_file)]
    if keys is not None:
        (tmp_path / "keys.json").write_text(json.dumps({"keys": keys}))
        args += ["--keys", str(tmp_path / "keys.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    return subprocess.run(  # noqa: S603 (this interpreter, the verifier module, files of the test)
        [sys.executable, "-m", "outcomeportal.verify", *args, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_standalone_verifier_accepts_a_certificate(world, vendor_client, tmp_path, signing_key):
    done = run_verifier(tmp_path, certificate(vendor_client, "acme", "jul-credited"), public_keys())

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"signature: valid, Ed25519 key {signing_key[1]}",
        "raw event hash: matches the event in the certificate",
        "replay: 17 checks, the window's end, the decision and what is shown all match",
        "VALID: acme/jul-credited is non_billable (dispute_credited), decided under resolved_conversation v1",
    ]


def test_the_verifier_fetches_the_keys_from_the_portal(world, vendor_client, tmp_path):
    keys_body = Client().get("/.well-known/outcomeportal-keys.json").content

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(keys_body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/.well-known/outcomeportal-keys.json"
        done = run_verifier(tmp_path, certificate(vendor_client, "globex", "g-charged"), None, "--key-url", url)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "VALID: globex/g-charged is pending, amount 0.990000 USD, decided under resolved_conversation v1"
    )


def _flip_one_byte_of_the_payload(body: bytes) -> bytes:
    at = body.index(b'"event_id":"ok"') + len(b'"event_id":"')
    changed = bytearray(body)
    changed[at] = ord("p")  # the event's id "ok" becomes "pk"
    return bytes(changed)


def _flip_one_byte_of_the_signature(body: bytes) -> bytes:
    cert = json.loads(body)
    signature = bytearray(base64.b64decode(cert["signature"]))
    signature[10] ^= 0x01
    cert["signature"] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(cert).encode()


@pytest.mark.parametrize("change", [_flip_one_byte_of_the_payload, _flip_one_byte_of_the_signature])
def test_one_changed_byte_is_refused(world, vendor_client, tmp_path, change, signing_key):
    body = vendor_client.get("/api/v1/events/acme/ok/certificate").content
    assert run_verifier(tmp_path, body, public_keys()).returncode == 0

    done = run_verifier(tmp_path, change(body), public_keys())

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"INVALID: signature: does not verify with key '{signing_key[1]}' — the payload or the signature was changed\n"
    )


def test_a_certificate_signed_by_an_unlisted_key_is_refused(world, vendor_client, tmp_path, settings):
    cert = certificate(vendor_client, "acme", "ok")
    _, other_kid, other_public = factories.signing_key_new()

    done = run_verifier(tmp_path, cert, [{"kid": other_kid, "alg": "Ed25519", "public_key": other_public}])

    assert done.returncode == 1
    assert done.stderr == (
        f"INVALID: signature: no public key with kid '{cert['kid']}' in the key list (it lists: {other_kid})\n"
    )


def test_a_retired_key_still_verifies_while_it_is_listed(world, vendor_client, tmp_path, settings, signing_key):
    old_cert = certificate(vendor_client, "acme", "ok")
    _, old_kid, old_public = signing_key
    new_private, new_kid, _ = factories.signing_key_new()
    settings.DECISION_SIGNING_KEY = new_private
    settings.DECISION_SIGNING_RETIRED_KEYS = [f"{old_kid}:{old_public}"]

    keys = public_keys()
    assert [(k["kid"], k["active"]) for k in keys] == [(new_kid, True), (old_kid, False)]
    assert certificate(vendor_client, "acme", "ok")["kid"] == new_kid  # new certificates: the new key
    done = run_verifier(tmp_path, old_cert, keys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"signature: valid, Ed25519 key {old_kid} (retired)"

    settings.DECISION_SIGNING_RETIRED_KEYS = []  # no longer listed: no longer verifiable
    done = run_verifier(tmp_path, old_cert, public_keys())
    assert done.returncode == 1
    assert done.stderr.startswith(f"INVALID: signature: no public key with kid '{old_kid}'")


def test_a_stored_decision_that_does_not_follow_from_its_facts_is_reported(world, vendor_client, tmp_path):
    # The signature only says the portal said it; the replay says whether it follows from the facts.
    Event.objects.filter(event_id="ok").update(status="non_billable", non_billable_reason="criteria_not_met")
    Event.objects.filter(event_id="handoff").update(human_handoff=False)

    tampered = run_verifier(tmp_path, certificate(vendor_client, "acme", "ok"), public_keys())
    assert tampered.returncode == 1
    assert tampered.stderr.splitlines() == [
        "INVALID: replay: metering's decision is non_billable/criteria_not_met, the checks give billable/None",
        "INVALID: replay: shown as non_billable/criteria_not_met, the decision and the charge give billable/None",
    ]
    raw = run_verifier(tmp_path, certificate(vendor_client, "acme", "handoff"), public_keys())
    assert raw.returncode == 1
    assert raw.stderr.splitlines() == [
        "INVALID: replay: check no_human_handoff says 'failed', its facts give 'passed'",
        "INVALID: replay: metering's decision is non_billable/human_handoff, the checks give pending/None",
        "INVALID: replay: shown as non_billable/human_handoff, the decision and the charge give pending/None",
    ]


def test_facts_that_disagree_with_the_event_are_reported():
    payload = _minimal_payload()
    payload["decision"]["checks"][0]["facts"]["sandbox"] = True
    payload["decision"]["checks"][0]["outcome"] = "failed"
    payload["decision"]["status"], payload["decision"]["reason"] = "non_billable", "sandbox"
    payload["shown"].update(status="non_billable", reason="sandbox")

    assert verify.replay_problems(payload) == [
        "facts: check not_sandbox records sandbox=True, the certificate elsewhere False"
    ]


def test_a_check_judged_on_other_signals_than_the_decisions_is_reported():
    payload = _minimal_payload()
    payload["decision"]["signals"] = [
        {"type": "reversed", "occurred_at": "2026-07-08T09:30:00Z", "received_at": "2026-07-08T09:30:00Z",
         "effect": "applied"},
    ]  # fmt: skip

    assert verify.replay_problems(payload) == [
        "facts: check not_reversed was judged on [], the decision's signals: ['2026-07-08T09:30:00Z']"
    ]


def _minimal_payload() -> dict:
    facts = engine.EventFacts(event_id="e", occurred_at=JULY_8, success_criteria_met=True)
    rules = engine.Rules(version="t v1", measurement_window_hours=1)
    decision = engine.decide(facts, (), rules, engine.AccountState(), JULY_12)
    evidence = decision_evidence(
        event=facts,
        rules=rules,
        state=engine.AccountState(),
        signals=(),
        checks=decision.checks,
        status=decision.status,
        reason=decision.reason,
        window_ends_at=decision.window_ends_at,
        decided_at=JULY_12,
        settled_at=JULY_12,
    )
    event = {"event_id": "e", "sandbox": False, "occurred_at": "2026-07-08T09:00:00Z"}
    shown_ = {"status": "billable", "reason": None, "amount": None, "credits": None, "currency": "USD"}
    return json.loads(json.dumps({"event": event, "decision": evidence, "charge": None, "shown": shown_}))


def test_the_verifier_imports_nothing_but_the_standard_library_and_cryptography():
    imported = set()
    for node in ast.walk(ast.parse((ROOT / "outcomeportal" / "verify.py").read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative import: the file must run on its own"
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


def test_unreadable_input_exits_2(tmp_path):
    done = run_verifier(tmp_path, b"not json", [])
    assert done.returncode == 2
    assert done.stderr.startswith("cannot read the input:")


# --- The endpoints ---------------------------------------------------------------------------------


def test_an_account_key_sees_only_its_own_accounts_certificates(world):
    acme, globex = Event.objects.get(event_id="ok").account, Event.objects.get(event_id="g-pilot").account
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER):
        assert key_client(acme, role).get("/api/v1/events/acme/ok/certificate").status_code == 200
    other = key_client(globex, Role.CUSTOMER_ADMIN)

    foreign = other.get("/api/v1/events/acme/ok/certificate")
    missing = other.get("/api/v1/events/globex/no-such-event/certificate")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"error": {"code": "not_found", "message": "No such event."}}


def test_an_event_id_with_a_slash_has_its_certificate(world, vendor_client):
    post(Event.objects.get(event_id="ok").account, JULY_8, ("ticket/4711", {}))

    cert = certificate(vendor_client, "acme", "ticket%2F4711")

    assert cert["payload"]["event"]["event_id"] == "ticket/4711"
    assert all_problems(cert, public_keys()) == []


def test_no_key_is_401_in_the_contracts_shape(world):
    response = Client().get("/api/v1/events/acme/ok/certificate")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_the_schema_documents_both_endpoints_exactly(vendor_client):
    schema = vendor_client.get("/api/schema/", {"format": "json"}).json()
    cert = schema["paths"]["/api/v1/events/{account}/{event_id}/certificate"]
    keys = schema["paths"]["/.well-known/outcomeportal-keys.json"]

    assert {"200", "401", "403", "404"} <= set(cert["get"]["responses"])  # and the errors every operation has
    ok = cert["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok == "#/components/schemas/CertificateDoc"
    assert {"401", "403"}.isdisjoint(keys["get"]["responses"])  # public: no key asked for
    assert "security" not in keys["get"] and "security" not in schema  # no key asked for
    payload = schema["components"]["schemas"]["CertificatePayloadDoc"]
    assert set(payload["properties"]) == {
        "certificate_version", "issued_at", "event", "raw_event_sha256", "received_at", "decision", "charge", "shown",
    }  # fmt: skip


def test_the_documented_fields_are_the_certificates_fields(world):
    payload = payload_of("jun-2")
    assert set(docs.CertificatePayloadDoc().fields) == set(payload)
    assert set(docs.CertificateEventDoc().fields) == set(payload["event"])
    assert set(docs.CertificateDecisionDoc().fields) == set(payload["decision"])
    assert set(docs.CertificateRulesDoc().fields) == set(payload["decision"]["rules"])
    assert set(docs.CertificateWindowDoc().fields) == set(payload["decision"]["window"])
    assert set(docs.CertificateCheckDoc().fields) == set(payload["decision"]["checks"][0])
    assert set(docs.CertificateChargeDoc().fields) == set(payload["charge"])
    assert set(docs.CertificateShownDoc().fields) == set(payload["shown"])
    assert set(docs.CertificateSignalDoc().fields) == set(payload_of("reversed")["decision"]["signals"][0])


# --- billing.ledger.shown and the verifier's rules say the same ------------------------------------

_DECISIONS = [("pending", ""), ("billable", ""), *(("non_billable", reason) for reason in engine.REASONS)]
_CHARGES = [None] + [(state, reason) for state in ChargeState.values for reason in ChargeReason.values]


@pytest.mark.parametrize("status, reason", _DECISIONS)
def test_the_verifiers_shown_is_billings_for_every_decision_and_charge(status, reason):
    for charge in _CHARGES:
        state, charge_reason = charge or (None, None)
        as_json = None if charge is None else {"state": state, "reason": charge_reason or None, "amount": "0.990000"}
        expected_status, expected_reason = shown(status, reason, state, charge_reason)
        assert verify.shown(status, reason or None, as_json) == (expected_status, expected_reason or None), charge
        assert verify.charged(as_json, "amount") == charged_amount(state, charge_reason, "0.990000"), charge


def test_the_verifier_knows_billings_checks_and_free_reasons():
    assert {code: reason for code, reason, _ in BILLING_CHECKS} == verify.BILLING_CHECKS
    assert tuple(verify.BILLING_CHECKS.values()) == BILLING_REASONS
