"""Ingestion, metering's part: store each posted outcome event exactly once, decided.

The hot path of the product. One request carries up to 1,000 events; the work is done
per batch, not per row. The use case that spans the apps — validate, store, decide, rate,
cap — is billing's (:func:`billing.ingestion.events_ingest`); it calls these steps, in one
transaction, and nothing here calls back:

1. :func:`events_prepare` — validate every event in plain Python (:mod:`metering.validation`);
   resolve accounts, outcome types and criteria versions with one query each, or none (what
   earlier batches resolved is kept until any of them changes: :mod:`accounts.refcache`); decide
   each event with the pure engine;
2. :func:`events_store` — ``COPY`` the rows into a per-connection staging table, then one
   ``INSERT … SELECT … ON CONFLICT (account_id, event_id) DO NOTHING RETURNING``: the unique
   constraint, not a read-then-write check, makes ingestion idempotent under any number of
   concurrent clients; tell duplicates from conflicts by the stored payload hash; claim sessions
   for one-per-session outcome types (the claims' primary key, again) and re-decide the few events
   that lost their session to an earlier one;
Billing then charges the stored events that can cost money (:meth:`Batch.stored`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import orjson
from django.conf import settings
from django.db import connection

from accounts import refcache
from accounts.models import Account
from metering import engine
from metering.fields import checks_encode
from metering.models import OutcomeType
from metering.selectors import criteria_current, criteria_for, rules_from_criteria
from metering.validation import EventError, ParsedEvent, event_parse
from outcomeportal.core.copy_text import flag, number, text

MAX_BATCH = 1000

# The columns each row sends through the COPY. The batch's constants (received_at, decided_at,
# state, settled_at) are bound once in the INSERT instead of being copied and parsed per row, and
# so is each distinct ``checks`` string (a batch has a handful): rows copy its index.
_COLUMNS = (
    "account_id",
    "event_id",
    "outcome_type_id",
    "occurred_at",
    "success_criteria_met",
    "human_handoff",
    "channel",
    "workflow",
    "session_id",
    "complexity",
    "verification_method",
    "source_url",
    "sandbox",
    "failure_reason",
    "value_amount",
    "cost_amount",
    "attributes",
    "payload_hash",
    "status",
    "non_billable_reason",
    "window_ends_at",
    "criteria_id",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_STAGE = "metering_event_batch"  # per connection: the batch's rows, each with its index in the request


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    results: list[dict] = field(default_factory=list)
    accepted_ids: list[int] = field(default_factory=list)  # primary keys of the stored events

    def as_response(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
            "results": self.results,
        }


@dataclass(frozen=True, slots=True)
class _Target:
    """What an event's account and outcome type resolve to (shared by the batch's events naming them)."""

    account_id: int
    outcome_type: OutcomeType
    outcome_type_id: int
    criteria_id: int
    rules: engine.Rules


@dataclass(slots=True)
class _Row:
    index: int
    parsed: ParsedEvent  # also the engine's event facts (it has their attributes)
    target: _Target
    decision: engine.Decision
    pk: int | None = None  # set once stored
    state: engine.AccountState | None = None


class Candidate(NamedTuple):
    """A freshly stored event that can cost money, as billing charges it: billable now or once its
    window closes (``status`` pending or billable), or an attempt that did not succeed
    (``non_billable``, with the engine's ``reason``) — some contracts charge a fee for those too.
    Named tuples, not dataclasses: a batch has up to 1,000 of them."""

    pk: int
    account_id: int
    outcome_type_id: int
    event_id: str
    occurred_at: datetime
    status: str
    complexity: str = ""
    reason: str = ""
    value_amount: Decimal | None = None
    occurred_at_iso: str = ""  # occurred_at as stored (ISO 8601): a COPY takes it as is


@dataclass(slots=True)
class Batch:
    """One request's events, parsed, resolved and decided: what :func:`events_store` stores."""

    now: datetime
    raw_events: Sequence[object]
    parsed: list
    result: IngestResult
    rows: list[_Row]
    repeats: list[tuple[int, tuple[int, str]]]

    def stored(self) -> list[Candidate]:
        """The events this batch stored that can cost money — outcomes billable now or once their
        window closes, and attempts that did not succeed — in occurrence order, as billing charges them."""
        attempts = engine.ATTEMPT_REASONS
        rows = [r for r in self.rows if r.pk is not None and (r.decision.candidate or r.decision.reason in attempts)]
        rows.sort(key=lambda r: (r.parsed.occurred_at, r.pk))
        return [
            Candidate(r.pk, r.target.account_id, r.target.outcome_type_id, r.parsed.event_id, r.parsed.occurred_at,
                      r.decision.status, r.parsed.complexity, r.decision.reason, r.parsed.value_amount,
                      r.parsed.occurred_at_iso)
            for r in rows
        ]  # fmt: skip


def _reject(code: str, message: str, fields: dict) -> dict:
    return {"code": code, "message": message, "fields": fields}


@contextmanager
def batch_scope() -> Iterator[None]:
    """Around one batch's steps: no cyclic garbage collection (:func:`collection_paused`), and
    reference data read under one stamp."""
    with refcache.pinned(), collection_paused():
        yield


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (a batch's steps, whoever runs them: under the
    web process the whole request already holds the collector back, outcomeportal.collector).

    A batch allocates tens of thousands of short-lived containers (the decoded events, their
    parsed rows, the results), freed by reference counting. With the collector on, those
    allocations set off a collection every few hundred objects: about 8 ms of CPU per 1,000
    events (bench/README.md). Collection resumes when the block is done, and then takes whatever
    cycle the batch left (an exception's traceback, say). Nested blocks leave it to the outermost.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def events_prepare(*, raw_events: Sequence[object], now: datetime) -> Batch:
    """Validate, resolve and decide a batch of posted events (no write): one result slot per event."""
    late = timedelta(days=settings.LATE_EVENT_WINDOW_DAYS)
    future = timedelta(seconds=settings.FUTURE_EVENT_TOLERANCE_SECONDS)
    parsed = [event_parse(raw, now=now, late_window=late, future_tolerance=future) for raw in raw_events]
    valid = [p for p in parsed if not isinstance(p, EventError)]
    targets = _targets({(p.account, p.outcome_type) for p in valid})

    result = IngestResult(results=[{} for _ in parsed])
    rows: list[_Row] = []
    first_of: dict[tuple[int, str], int] = {}  # (account_id, event_id) -> index of its first occurrence
    repeats: list[tuple[int, tuple[int, str]]] = []
    no_state = engine.AccountState()
    decide = engine.decide
    for index, item in enumerate(parsed):
        if isinstance(item, EventError):
            result.results[index] = {
                "event_id": _event_id_of(raw_events[index]),
                "status": "rejected",
                "error": item.as_dict(),
            }
            continue
        target = targets[item.account, item.outcome_type]
        if type(target) is str:
            error = _unresolved_error(target, item)
            result.results[index] = {"event_id": item.event_id, "status": "rejected", "error": error}
            continue
        key = (target.account_id, item.event_id)
        if key in first_of:
            repeats.append((index, key))
            continue
        first_of[key] = index
        rows.append(_Row(index, item, target, decide(item, (), target.rules, no_state, now)))
    return Batch(now, raw_events, parsed, result, rows, repeats)


def events_store(batch: Batch) -> IngestResult:
    """Store a prepared batch, inside the caller's transaction. Returns the batch's result, one
    entry per posted event."""
    result = batch.result
    stored_hash = _insert(batch.rows, now=batch.now, result=result)
    _classify_repeats(batch.repeats, batch.parsed, stored_hash, result)
    _claim_sessions([r for r in batch.rows if r.pk is not None], now=batch.now)
    result.rejected = sum(1 for r in result.results if r["status"] == "rejected")
    return result


def _targets(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], _Target | str]:
    """What each (account, outcome type) pair as posted resolves to: a target, or why it does not.

    A batch names few pairs, and the next batches name the same ones: resolved pairs are kept in
    the process until any account, outcome type or criteria version changes (accounts.refcache).
    """
    return refcache.kept("metering.ingest.targets", pairs, _targets_read)


def _targets_read(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], _Target | str]:
    """Resolve the pairs with one query each for accounts, outcome types and criteria."""
    accounts = dict(Account.objects.filter(external_id__in={p[0] for p in pairs}).values_list("external_id", "id"))
    types = {t.code: t for t in OutcomeType.objects.filter(code__in={p[1] for p in pairs}, active=True)}
    current = criteria_current(account_ids=set(accounts.values()), outcome_type_ids={t.pk for t in types.values()})
    rules_by_version: dict[int, engine.Rules] = {}
    resolved: dict[tuple[str, str], _Target | str] = {}
    for pair in pairs:
        account, outcome_type = accounts.get(pair[0]), types.get(pair[1])
        if account is None:
            resolved[pair] = "account"
            continue
        if outcome_type is None:
            resolved[pair] = "outcome_type"
            continue
        criteria = criteria_for(current, account_id=account, outcome_type_id=outcome_type.pk)
        if criteria is None:
            resolved[pair] = "criteria"
            continue
        rules = rules_by_version.get(criteria.pk)
        if rules is None:
            rules = rules_by_version[criteria.pk] = rules_from_criteria(criteria)
        resolved[pair] = _Target(account, outcome_type, outcome_type.pk, criteria.pk, rules)
    return resolved


def _unresolved_error(missing: str, item: ParsedEvent) -> dict:
    """The rejection of an event whose account, outcome type or criteria (``missing``) is not found."""
    if missing == "account":
        return _reject(
            "unknown_account", f"No account with external_id {item.account!r}.", {"account": ["Unknown account."]}
        )
    if missing == "outcome_type":
        return _reject(
            "unknown_outcome_type",
            f"No active outcome type {item.outcome_type!r}.",
            {"outcome_type": ["Unknown outcome type."]},
        )
    return _reject(
        "no_success_criteria",
        f"Outcome type {item.outcome_type!r} has no success criteria.",
        {"outcome_type": ["No success criteria defined."]},
    )


def _event_id_of(raw: object) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _insert(rows: list[_Row], *, now: datetime, result: IngestResult) -> dict[tuple[int, str], str]:
    """COPY + INSERT … ON CONFLICT DO NOTHING. Returns the payload hash now stored for each key."""
    if not rows:
        return {}
    with connection.cursor() as cursor:
        # Empty already unless an earlier batch ran in the same transaction: its rows must not
        # mix with this batch's (one round trip for both statements).
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS "
            f"SELECT 0 AS batch_index, 0 AS checks_index, {_COLUMN_LIST} FROM metering_event WITH NO DATA; "
            f"DELETE FROM {_STAGE}"
        )
        checks_index: dict[tuple, int] = {}  # distinct checks -> 1-based index into the INSERT's array
        raw = cursor.cursor  # the psycopg cursor, for COPY
        lines = []
        for r in rows:
            p, d, t = r.parsed, r.decision, r.target
            checks = checks_index.get(d.checks) or checks_index.setdefault(d.checks, len(checks_index) + 1)
            lines.append(
                f"{r.index}\t{checks}\t{t.account_id}\t{text(p.event_id)}\t{t.outcome_type_id}\t{p.occurred_at_iso}\t"
                f"{flag(p.success_criteria_met)}\t{flag(p.human_handoff)}\t{text(p.channel)}\t{text(p.workflow)}\t"
                f"{text(p.session_id)}\t{text(p.complexity)}\t{text(p.verification_method)}\t{text(p.source_url)}\t"
                f"{flag(p.sandbox)}\t{text(p.failure_reason)}\t{number(p.value_amount)}\t{number(p.cost_amount)}\t"
                f"{text(p.attributes_json.decode())}\t{p.payload_hash}\t{d.status}\t{d.reason}\t"
                f"{d.window_ends_at.isoformat()}\t{number(t.criteria_id)}\n"
            )
        with raw.copy(f"COPY {_STAGE} (batch_index, checks_index, {_COLUMN_LIST}) FROM STDIN") as copy:
            copy.write("".join(lines).encode())
        cursor.execute(
            f"INSERT INTO metering_event ({_COLUMN_LIST}, checks, received_at, decided_at, state, settled_at) "
            f"SELECT {_COLUMN_LIST}, (%s::text[])[checks_index], %s::timestamptz, %s::timestamptz, '{{}}'::jsonb, "
            "CASE WHEN status = 'billable' THEN %s::timestamptz END "
            # Sorted: concurrent batches take index locks in the same order (no deadlocks).
            f"FROM {_STAGE} ORDER BY account_id, event_id ON CONFLICT (account_id, event_id) DO NOTHING "
            "RETURNING id, account_id, event_id",
            [[checks_encode(checks) for checks in checks_index], now, now, now],
        )
        inserted = {(account_id, event_id): pk for pk, account_id, event_id in cursor.fetchall()}
        missing = [r for r in rows if (r.target.account_id, r.parsed.event_id) not in inserted]
        stored: dict[tuple[int, str], str] = {}
        if missing:
            cursor.execute(
                f"SELECT e.account_id, e.event_id, e.payload_hash FROM {_STAGE} s JOIN metering_event e "
                "ON e.account_id = s.account_id AND e.event_id = s.event_id WHERE s.batch_index = ANY(%s::int[])",
                [[r.index for r in missing]],
            )
            stored = {(a, e): h for a, e, h in cursor.fetchall()}
    _classify_stored(rows, inserted, stored, result)
    return stored


def _classify_stored(rows: list[_Row], inserted: dict, stored: dict, result: IngestResult) -> None:
    """Each row's result: accepted (stored now), duplicate (the same payload was there), or conflict."""
    for r in rows:
        key = (r.target.account_id, r.parsed.event_id)
        pk = inserted.get(key)
        entry = result.results[r.index]
        entry["event_id"] = r.parsed.event_id
        if pk is not None:
            r.pk = pk
            entry["status"] = "accepted"
            result.accepted += 1
            result.accepted_ids.append(pk)
            stored[key] = r.parsed.payload_hash
        elif stored.get(key) == r.parsed.payload_hash:
            entry["status"] = "duplicate"
            result.duplicates += 1
        else:
            entry["status"] = "conflict"
            entry["error"] = _conflict_error(r.parsed.event_id)
            result.conflicts += 1


def _conflict_error(event_id: str) -> dict:
    return _reject(
        "event_id_conflict",
        f"An event with event_id {event_id!r} was already stored with a different payload; "
        "the stored event is kept unchanged.",
        {"event_id": ["Already used with a different payload."]},
    )


def _classify_repeats(repeats, parsed, stored_hash, result: IngestResult) -> None:
    """The same event_id twice in one batch: the first occurrence decides, repeats compare to it."""
    for index, key in repeats:
        item = parsed[index]
        entry = result.results[index]
        entry["event_id"] = item.event_id
        if stored_hash.get(key) == item.payload_hash:
            entry["status"] = "duplicate"
            result.duplicates += 1
        else:
            entry["status"] = "conflict"
            entry["error"] = _conflict_error(item.event_id)
            result.conflicts += 1


def _claim_sessions(rows: list[_Row], *, now: datetime) -> None:
    """One billable outcome per session: the earliest candidate claims it; the rest are duplicates.

    Events of a session within the batch try in occurrence order, one per round, exactly as
    if each had been posted alone: where a reopen after the window is a new outcome, a later
    event takes the claim over once the holder's window had closed when it occurred; else
    the first attempt settles the session and the others are duplicates at once. Each
    round's claims are inserted in key order, so concurrent batches lock keys in one order.
    """
    claiming = [r for r in rows if r.decision.candidate and r.target.rules.one_per_session and r.parsed.session_id]
    claiming.sort(key=lambda r: (r.parsed.occurred_at, r.parsed.event_id))
    queues: dict[tuple[int, int, str], list[_Row]] = {}
    for r in claiming:
        queues.setdefault((r.target.account_id, r.target.outcome_type_id, r.parsed.session_id), []).append(r)
    if not queues:
        return
    attempts = {key: queue.pop(0) for key, queue in queues.items()}
    with connection.cursor() as cursor:
        while attempts:
            ordered = [attempts[key] for key in sorted(attempts)]
            won = _claim_insert(cursor, ordered)
            losers = [r for r in ordered if r.pk not in won]
            attempts = {}
            for key, queue in queues.items():
                if queue and queue[0].target.rules.reopen_is_new_outcome:
                    attempts[key] = queue.pop(0)
                elif queue:
                    losers.extend(queue)
                    queue.clear()
            if losers:
                holders = _claim_holders(cursor, losers)
                for r in losers:
                    holder = holders.get((r.target.account_id, r.target.outcome_type_id, r.parsed.session_id), "?")
                    r.state = engine.AccountState(session_taken_by=holder)
                _redecide(losers, now=now)


def _claim_insert(cursor, attempts: list[_Row]) -> set[int]:
    """Try the claims; returns the pks of the events that now hold their session.

    The claim's columns come from the batch's staging table (the rows just copied, found by their
    index in the request), so only the events' keys travel: no arrays of timestamps and texts.
    """
    cursor.execute(
        "INSERT INTO metering_sessionclaim AS c "
        "(account_id, outcome_type_id, session_id, event_id, event_key, occurred_at, renewable_after) "
        "SELECT s.account_id, s.outcome_type_id, s.session_id, k.id, s.event_id, s.occurred_at, "
        "CASE WHEN k.renewable THEN s.window_ends_at END "
        "FROM unnest(%s::bigint[], %s::int[], %s::boolean[]) WITH ORDINALITY AS k(id, batch_index, renewable, n) "
        f"JOIN {_STAGE} s ON s.batch_index = k.batch_index ORDER BY k.n "
        "ON CONFLICT (account_id, outcome_type_id, session_id) DO UPDATE SET event_id = EXCLUDED.event_id, "
        "event_key = EXCLUDED.event_key, occurred_at = EXCLUDED.occurred_at, "
        "renewable_after = EXCLUDED.renewable_after "
        "WHERE c.renewable_after <= EXCLUDED.occurred_at RETURNING event_id",
        [
            [r.pk for r in attempts],
            [r.index for r in attempts],
            [r.target.rules.reopen_is_new_outcome for r in attempts],
        ],
    )
    return {pk for (pk,) in cursor.fetchall()}


def _claim_holders(cursor, rows: list[_Row]) -> dict[tuple[int, int, str], str]:
    cursor.execute(
        "SELECT c.account_id, c.outcome_type_id, c.session_id, c.event_key FROM metering_sessionclaim c "
        "JOIN unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k(a, t, s) "
        "ON c.account_id = k.a AND c.outcome_type_id = k.t AND c.session_id = k.s",
        [
            [r.target.account_id for r in rows],
            [r.target.outcome_type_id for r in rows],
            [r.parsed.session_id for r in rows],
        ],
    )
    return {(a, t, s): k for a, t, s, k in cursor.fetchall()}


def _redecide(rows: list[_Row], *, now: datetime) -> None:
    """Decide stored rows again with their ``state`` and write the new decisions in one UPDATE."""
    if not rows:
        return
    for r in rows:
        r.decision = engine.decide(r.parsed, (), r.target.rules, r.state or engine.AccountState(), now)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE metering_event e SET status = v.status, non_billable_reason = v.reason, "
            "checks = v.checks, state = v.state::jsonb, "
            "settled_at = CASE WHEN v.status = 'billable' THEN e.settled_at END "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[]) "
            "AS v(id, status, reason, checks, state) WHERE e.id = v.id",
            [
                [r.pk for r in rows],
                [r.decision.status for r in rows],
                [r.decision.reason for r in rows],
                [checks_encode(r.decision.checks) for r in rows],
                [orjson.dumps((r.state or engine.AccountState()).as_dict()).decode() for r in rows],
            ],
        )
