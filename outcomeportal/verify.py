"""Check a signed decision certificate of OutcomePortal, without OutcomePortal.

    python -m outcomeportal.verify certificate.json --keys keys.json
    python -m outcomeportal.verify certificate.json --key-url https://billing.example.com/.well-known/outcomeportal-keys.json

A certificate (``GET /api/v1/events/{account}/{event_id}/certificate``) is
``{"payload": {...}, "kid": "...", "alg": "Ed25519", "signature": "<base64>"}``: the signature is
Ed25519 over the payload's canonical JSON (:func:`canonical`) with the key the portal lists under
``kid`` at ``/.well-known/outcomeportal-keys.json``. This file checks two things:

1. **the signature** — the payload is exactly what the portal signed, with a key it lists (a
   retired key still verifies while it is listed);
2. **the decision, replayed** — every check's outcome is worked out again from the facts the
   certificate records beside it, then the window's end, the status and reason metering decided,
   and the status, reason and amount the customer is shown, with the rules below (the rule book of
   engine version 1). Each must match what the certificate says.

It needs the Python standard library and the ``cryptography`` package only — no Django and no other
module of the project — so it can be copied next to the certificate and run anywhere. Exit status:
0 valid; 1 invalid (the message names what failed); 2 the input could not be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALG = "Ed25519"
ENGINE_VERSION = 1
PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "n/a"


# --- The signed bytes ------------------------------------------------------------------------


def canonical(payload: object) -> bytes:
    """The bytes that are signed: JSON in UTF-8, keys sorted, no spaces ("," and ":" separators),
    characters beyond ASCII written as themselves.

    The portal's amounts are decimal strings; a number in the vendor's free ``attributes`` is written
    as Python's ``json`` writes it (integers as digits, fractions in their shortest round-trip form).
    Anything JSON has no word for (a Decimal, a date) is refused.
    """

    def refuse(value: object) -> None:
        raise TypeError(f"not canonical JSON: {type(value).__name__} {value!r}")

    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=refuse).encode()


def key_id(public_key: bytes) -> str:
    """A key's ``kid``: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def sha256_hex(document: object) -> str:
    """SHA-256 (hex) of a document's canonical JSON: how ``raw_event_sha256`` is made."""
    return hashlib.sha256(canonical(document)).hexdigest()


def signature_problem(certificate: dict, keys: list[dict]) -> str | None:
    """Why the signature does not hold (None: it holds)."""
    if certificate.get("alg") != ALG:
        return f"signature: algorithm {certificate.get('alg')!r} is not {ALG}"
    kid = certificate.get("kid")
    listed = [k for k in keys if k.get("kid") == kid and k.get("alg", ALG) == ALG]
    if not listed:
        known = ", ".join(str(k.get("kid")) for k in keys) or "none"
        return f"signature: no public key with kid {kid!r} in the key list (it lists: {known})"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(listed[0]["public_key"], validate=True))
        signature = base64.b64decode(certificate.get("signature", ""), validate=True)
        public.verify(signature, canonical(certificate.get("payload")))
    except (InvalidSignature, binascii.Error, ValueError, TypeError, KeyError):
        return f"signature: does not verify with key {kid!r} — the payload or the signature was changed"
    return None


# --- The rule book, engine version 1 -----------------------------------------------------------
#
# Metering's checks, in order; the first that fails gives the reason an outcome is not billable.
METERING_CHECKS = {
    "not_sandbox": "sandbox",
    "attempt_succeeded": None,  # the platform's own failure reason (see failure_reason_word)
    "no_human_handoff": "human_handoff",
    "success_criteria_met": "criteria_not_met",
    "within_definition": "criteria_not_met",
    "verified": "verification_failed",
    "first_in_session": "duplicate_in_session",
    "not_reopened": "reopened_in_window",
    "not_reversed": "reversed_in_window",
    "not_escalated": "escalated_in_window",
}
FAILURE_REASONS = ("abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show")
WINDOW_SIGNAL = {"not_reopened": "reopened", "not_reversed": "reversed", "not_escalated": "escalated"}
# Billing's checks, after metering's, for an event with a charge that is not void: each fails when
# the charge carries its reason (billing ruled the outcome free: an allowance, the cap, a credit).
BILLING_CHECKS = {
    "outside_training_window": "training_window",
    "beyond_pilot_allowance": "pilot_free",
    "within_spend_cap": "cap_reached",
    "not_credited": "dispute_credited",
    "account_not_suspended": "account_suspended",
    "account_not_churned": "account_churned",
    "not_deducted": "deducted",
}
# The charge states an event is shown with once the charge has reached them.
LINE_STATES = ("invoiced", "disputed", "credited")


def check_outcome(code: str, facts: dict) -> str:
    """One check's outcome from the facts it was judged on."""
    f = facts
    if code == "not_sandbox":
        return FAILED if f["sandbox"] else PASSED
    if code == "attempt_succeeded":
        return FAILED if f["failure_reason"] else PASSED
    if code == "no_human_handoff":
        if f["handoff_is_billable"]:
            return NOT_APPLICABLE
        return FAILED if f["human_handoff"] else PASSED
    if code == "success_criteria_met":
        return PASSED if f["success_criteria_met"] else FAILED
    if code == "within_definition":
        excluded = f["workflow"] in f["excluded_workflows"] or f["channel"] in f["excluded_channels"]
        return FAILED if excluded else PASSED
    if code == "verified":
        if not f["required_verification_methods"]:
            return NOT_APPLICABLE
        return PASSED if f["verification_method"] in f["required_verification_methods"] else FAILED
    if code == "first_in_session":
        if not (f["one_per_session"] and f["session_id"]):
            return NOT_APPLICABLE
        taken_by_another = f["session_taken_by"] not in (None, f["event_id"])
        return FAILED if taken_by_another else PASSED
    if code in WINDOW_SIGNAL:
        # A signal counts inside the window [occurred_at, window_ends_at) only.
        start, end = _time(f["occurred_at"]), _time(f["window_ends_at"])
        return FAILED if any(start <= _time(t) < end for t in f["signals"]) else PASSED
    if code in BILLING_CHECKS:
        return FAILED if f["charge_reason"] == BILLING_CHECKS[code] else PASSED
    raise KeyError(code)


def failure_reason_word(failure_reason: str) -> str:
    """The reason a failed attempt gives: the platform's word if it is one of the contract's."""
    return failure_reason if failure_reason in FAILURE_REASONS else "workflow_failed"


def window_end(window: dict) -> datetime:
    """The measurement window's end: the outcome's time plus the window, or earlier where the
    definition lets a confirmation close it and one came inside it."""
    start = _time(window["occurred_at"])
    end = start + timedelta(hours=window["measurement_window_hours"])
    if window["confirm_closes_window"]:
        for confirmed in map(_time, window["confirmations"]):
            if start <= confirmed < end:
                end = confirmed
    return end


def metering_status(reason: str | None, window_ends_at: datetime, decided_at: str, settled_at: str | None) -> str:
    """Not billable once a check failed; otherwise pending until the window ends, billable after —
    as of the moment it was last decided (settlement, or the decision itself)."""
    if reason:
        return "non_billable"
    at = _time(settled_at or decided_at)
    return "pending" if at < window_ends_at else "billable"


def shown(status: str, reason: str | None, charge: dict | None) -> tuple[str, str | None]:
    """The one status and reason every screen shows, from metering's decision and the charge."""
    if charge is None or status == "non_billable":
        return status, reason  # metering's words (an attempt's fee changes nothing about why it failed)
    if charge["reason"] in BILLING_CHECKS.values():
        return "non_billable", charge["reason"]
    if charge["state"] in LINE_STATES:
        return charge["state"], None
    return status, None


def charged(charge: dict | None, field: str) -> str | None:
    """What the charge adds to the invoice (``amount`` or ``credits``): nothing when void or free."""
    if charge is None or charge["state"] == "void" or charge["reason"] in BILLING_CHECKS.values():
        return None
    return charge[field]


@dataclass(frozen=True)
class Replayed:
    checks: list[tuple[str, str]]  # (code, outcome) of metering's checks, in order
    window_ends_at: datetime
    reason: str | None
    status: str


def replay_decision(decision: dict) -> Replayed:
    """Metering's decision worked out again from the certificate's facts alone."""
    metering = [c for c in decision["checks"] if c["code"] in METERING_CHECKS]
    checks = [(c["code"], check_outcome(c["code"], c["facts"])) for c in metering]
    reason = None
    for check, (code, outcome) in zip(metering, checks, strict=True):
        if outcome == FAILED:  # the first failure is the reason
            if code == "attempt_succeeded":
                reason = failure_reason_word(check["facts"]["failure_reason"])
            else:
                reason = METERING_CHECKS[code]
            break
    ends_at = window_end(decision["window"])
    status = metering_status(reason, ends_at, decision["decided_at"], decision["settled_at"])
    return Replayed(checks, ends_at, reason, status)


# --- Comparing the replay with what the certificate says ---------------------------------------


def replay_problems(payload: dict) -> list[str]:
    """Every way the certificate's recorded decision differs from its replay (empty: it agrees)."""
    decision, charge, problems = payload["decision"], payload["charge"], []
    if decision.get("engine_version") != ENGINE_VERSION:
        version = decision.get("engine_version")
        return [f"replay: engine version {version!r} is not {ENGINE_VERSION}, the one this verifier knows"]
    expected = list(METERING_CHECKS)
    if charge is not None and charge["state"] != "void":
        expected += list(BILLING_CHECKS)
    listed = [c["code"] for c in decision["checks"]]
    if listed != expected:
        return [f"replay: the checks listed {listed} are not the rule book's {expected}"]
    problems += _facts_disagreements(payload)
    replayed = replay_decision(decision)
    for check in decision["checks"]:
        outcome = check_outcome(check["code"], check["facts"])
        if outcome != check["outcome"]:
            problems.append(f"replay: check {check['code']} says {check['outcome']!r}, its facts give {outcome!r}")
    window = decision["window"]
    if _time(window["ends_at"]) != replayed.window_ends_at:
        ends_at = _iso(replayed.window_ends_at)
        problems.append(f"replay: the window ends at {window['ends_at']}, its facts give {ends_at}")
    if (decision["status"], decision["reason"]) != (replayed.status, replayed.reason):
        problems.append(
            f"replay: metering's decision is {decision['status']}/{decision['reason']}, "
            f"the checks give {replayed.status}/{replayed.reason}"
        )
    shown_status, shown_reason = shown(replayed.status, replayed.reason, charge)
    said = payload["shown"]
    if (said["status"], said["reason"]) != (shown_status, shown_reason):
        problems.append(
            f"replay: shown as {said['status']}/{said['reason']}, the decision and the charge give "
            f"{shown_status}/{shown_reason}"
        )
    for field in ("amount", "credits"):
        if said[field] != charged(charge, field):
            problems.append(f"replay: shown {field} {said[field]!r}, the charge gives {charged(charge, field)!r}")
    return problems


def _facts_disagreements(payload: dict) -> list[str]:
    """Facts recorded twice must say the same: beside a check, in the event, in the rules, in the
    signals the decision was made from, in the charge."""
    decision, event, rules = payload["decision"], payload["event"], payload["decision"]["rules"]
    window = decision["window"]
    applied = [s for s in decision["signals"] if s["effect"] == "applied"]
    same_as = {
        **event,
        **rules,
        "window_ends_at": window["ends_at"],
        "charge_reason": payload["charge"]["reason"] if payload["charge"] else None,
    }
    problems = []
    recorded = [("window", window), *((f"check {c['code']}", c["facts"]) for c in decision["checks"])]
    for where, facts in recorded:
        for name, value in facts.items():
            if name in same_as and value != same_as[name]:
                problems.append(f"facts: {where} records {name}={value!r}, the certificate elsewhere {same_as[name]!r}")
    for check in decision["checks"]:
        kind = WINDOW_SIGNAL.get(check["code"])
        signals = [s["occurred_at"] for s in applied if s["type"] == kind]
        if kind and sorted(check["facts"]["signals"]) != sorted(signals):
            judged_on, code = check["facts"]["signals"], check["code"]
            problems.append(f"facts: check {code} was judged on {judged_on}, the decision's signals: {signals}")
    confirmations = [s["occurred_at"] for s in applied if s["type"] == "confirmed"]
    if sorted(window["confirmations"]) != sorted(confirmations):
        problems.append(f"facts: the window's confirmations {window['confirmations']}, the decision's: {confirmations}")
    return problems


def raw_event_problem(payload: dict) -> tuple[str | None, str]:
    """(problem or None, what was checked): the raw event's hash, where the certificate has all of it."""
    event = payload["event"]
    if "cost_amount" not in event:
        return None, "not recomputed: the vendor's cost field, which it covers, is shown to vendor keys only"
    if sha256_hex(event) != payload["raw_event_sha256"]:
        return "raw event: its SHA-256 is not the certificate's raw_event_sha256", ""
    return None, "matches the event in the certificate"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- Command line ------------------------------------------------------------------------------


def _load_keys(path: str | None, url: str | None) -> list[dict]:
    if url:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (the operator names it)
            document = json.load(answer)
    else:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError('the key list must be {"keys": [...]}')
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m outcomeportal.verify",
        description="Verify an OutcomePortal decision certificate: its signature, and its decision replayed.",
    )
    parser.add_argument("certificate", help="the certificate JSON file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--keys", help="the portal's public keys (the JSON of /.well-known/outcomeportal-keys.json)")
    source.add_argument(
        "--key-url", help="where to fetch them, e.g. https://billing.example.com/.well-known/outcomeportal-keys.json"
    )
    args = parser.parse_args(argv)
    try:
        with open(args.certificate, encoding="utf-8") as file:
            certificate = json.load(file)
        keys = _load_keys(args.keys, args.key_url)
    except (OSError, ValueError) as exc:
        print(f"cannot read the input: {exc}", file=sys.stderr)
        return 2
    if not isinstance(certificate, dict) or not isinstance(certificate.get("payload"), dict):
        print('INVALID: not a certificate: {"payload": {...}, "kid", "alg", "signature"} expected', file=sys.stderr)
        return 1
    problem = signature_problem(certificate, keys)
    if problem:
        print(f"INVALID: {problem}", file=sys.stderr)
        return 1
    key = next(k for k in keys if k.get("kid") == certificate["kid"])
    payload = certificate["payload"]
    print(f"signature: valid, {ALG} key {certificate['kid']}" + ("" if key.get("active", True) else " (retired)"))
    try:
        hash_problem, hash_note = raw_event_problem(payload)
        problems = ([hash_problem] if hash_problem else []) + replay_problems(payload)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"INVALID: replay: the payload lacks or garbles a fact the rules need ({exc!r})", file=sys.stderr)
        return 1
    if problems:
        for line in problems:
            print(f"INVALID: {line}", file=sys.stderr)
        return 1
    print(f"raw event hash: {hash_note}")
    decision, said = payload["decision"], payload["shown"]
    print(f"replay: {len(decision['checks'])} checks, the window's end, the decision and what is shown all match")
    event = payload["event"]
    amount = f", amount {said['amount']} {said['currency']}" if said["amount"] is not None else ""
    print(
        f"VALID: {event['account']}/{event['event_id']} is {said['status']}"
        + (f" ({said['reason']})" if said["reason"] else "")
        + f"{amount}, decided under {decision['rule_version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
