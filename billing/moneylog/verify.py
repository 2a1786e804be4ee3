"""Verifying the money log and the money it vouches for: ``verify_ledger``, ``GET /api/v1/ledger/verify``.

One pass over the log, in id order and a few thousand entries at a time (a server-side cursor:
memory does not grow with the log), then a few set-based queries over the money rows — all in one
REPEATABLE READ snapshot, so that acts committing meanwhile are either wholly seen or not at all.

The chain — each entry's hash recomputed from its fields (:mod:`billing.moneylog.canonical`),
its ``prev_hash`` against the entry before it, ids without gaps, and ``anchors`` (id → hash
recorded elsewhere: a rewritten chain does not match them).

The money rows, against what the entries recorded:

* every row the log vouches for (:mod:`billing.moneylog.tracked`: final invoices and their lines,
  void invoices, credit notes, credit-ledger entries, contract versions, spend-control changes,
  resolved and credited disputes) is recorded, unchanged, and still there;
* each final invoice's amount paid against its payments (the payments themselves are rows the log
  vouches for);
* each final invoice's totals from its lines and its charges: subtotal = Σ its lines but credit
  notes, credits applied = Σ its credit-note lines, total = subtotal − credits applied, and the
  lines that bill charges in money sum to what those charges sum to (each line rounded once);
  each credit note applied no further than its amount;
* the charges on each final invoice's lines: their count, sums and digest as stamped
  (``charges_invoiced``), and the state of each as the disputes' moves left it — none on a
  voided invoice's lines once they were released (``charges_released``);
* every account's charges: their count, Σ amount and Σ credits as the batches, settlements and
  stampings recorded them — a charge changed, added or deleted behind the services' back.

The first broken link is the first problem in log order: the chain's own breaks first (an entry
edited, removed or moved names itself or the entry after the gap), then the entry whose record
a row contradicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing.moneylog import kinds
from billing.moneylog.canonical import GENESIS_PREV, charges_digest_sql, digest_of, entry_body, entry_hash
from billing.moneylog.services import moneylog_flush
from billing.moneylog.tracked import tracked_values, tracked_views
from outcomeportal.core import formatting
from outcomeportal.core.money import quantum

ZERO = Decimal(0)
CHUNK = 2000


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    entry_id: int | None = None  # the log entry the problem names (None: no entry recorded it)
    entry_hash: str | None = None

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "entry_id": self.entry_id, "entry_hash": self.entry_hash}


@dataclass
class Verification:
    checked_at: object = None
    entries: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    invoices: int = 0
    credit_notes: int = 0
    rows: int = 0  # tracked rows compared
    charges: int = 0
    accounts: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat().replace("+00:00", "Z") if self.checked_at else None,
            "entries": self.entries,
            "head": None if self.head_id is None else {"id": self.head_id, "hash": self.head_hash},
            "checked": {
                "invoices": self.invoices,
                "credit_notes": self.credit_notes,
                "rows": self.rows,
                "charges": self.charges,
                "accounts": self.accounts,
            },
            "first_broken": self.first.as_dict() if self.first else None,
            "problem_count": self.problem_count,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class _Recorded:
    """What the log recorded, gathered in one pass (memory in proportion to invoices, accounts
    and tracked rows — never to charges or batches)."""

    # view → pk → (digest, entry id, entry hash, account)
    tracked: dict[str, dict[int, tuple[str, int, str, int | None]]] = field(default_factory=dict)
    totals: dict[int, list] = field(default_factory=dict)  # account → [count, amount, credits, entry]
    # invoice → [count, amount, credits, digests, entry, account]
    invoiced: dict[int, list] = field(default_factory=dict)
    states: dict[int, tuple] = field(default_factory=dict)  # event → (state, entry id, entry hash, account)
    paid: dict[int, tuple[int, str]] = field(default_factory=dict)  # invoice → its last payment's entry

    def forget(self, accounts: set[int]) -> None:
        """Accounts deleted with their money (a recorded act): their records no longer meet rows."""
        for rows in self.tracked.values():
            for pk in [pk for pk, rec in rows.items() if rec[3] in accounts]:
                del rows[pk]
        for account_id in accounts:
            self.totals.pop(account_id, None)
        for invoice_id in [i for i, rec in self.invoiced.items() if rec[5] in accounts]:
            del self.invoiced[invoice_id]
        for event_id in [e for e, rec in self.states.items() if rec[3] in accounts]:
            del self.states[event_id]


class _Report:
    def __init__(self, result: Verification, limit: int) -> None:
        self.result, self.limit, self.found = result, limit, []

    def add(self, code: str, message: str, entry: tuple[int, str] | None = None) -> None:
        self.found.append(Problem(code, message, *(entry or (None, None))))

    def close(self) -> None:
        # Log order: problems naming an entry first, by entry; then those no entry recorded.
        ordered = sorted(enumerate(self.found), key=lambda p: (p[1].entry_id is None, p[1].entry_id or 0, p[0]))
        self.result.problem_count = len(ordered)
        self.result.problems = [p for _, p in ordered[: self.limit]]


def ledger_verify(*, anchors: Sequence[tuple[int, str]] = (), limit: int = 100) -> Verification:
    """Recompute the chain and check the money rows against it (see the module docstring)."""
    result = Verification(checked_at=timezone.now())
    report = _Report(result, limit)
    outermost = not connection.in_atomic_block
    if not outermost:
        moneylog_flush()  # a caller's transaction (tests): its own acts count
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        recorded = _chain(result, report, dict(anchors))
        late = _tracked(result, report, recorded)
        _charges(result, report, recorded)
        _invoices(result, report, recorded)
        _credit_notes(result, report)
    if late and outermost:
        _late_check(report, late)
    report.close()
    return result


# --- The chain ----------------------------------------------------------------------------------

_ENTRIES_SQL = (
    "SELECT id, prev_hash, hash, at, kind, account_id, ref, actor_type, actor_id, actor_label, data::text "
    "FROM billing_moneylogentry ORDER BY id"
)


def _entries() -> Iterable[tuple]:
    cursor = connection.chunked_cursor()  # server-side: the log streams in chunks
    try:
        cursor.execute(_ENTRIES_SQL)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows
    finally:
        cursor.close()


def _chain(result: Verification, report: _Report, anchors: dict[int, str]) -> _Recorded:
    recorded = _Recorded()
    prev_id, prev_hash = 0, GENESIS_PREV
    for row in _entries():
        entry_id, stored_prev, stored_hash, at, kind, account_id, ref, a_type, a_id, a_label, data_text = row
        data = json.loads(data_text)
        entry = (entry_id, stored_hash)
        body = entry_body(
            account=account_id, actor={"type": a_type, "id": a_id, "label": a_label}, at=at, data=data, kind=kind,
            ref=ref,
        )  # fmt: skip
        if entry_hash(stored_prev, body) != stored_hash:
            report.add("entry_altered", f"Entry {entry_id} ({kind}) does not match its hash: it was edited.", entry)
        if entry_id != prev_id + 1:
            missing = f"{prev_id + 1}" if entry_id == prev_id + 2 else f"{prev_id + 1}–{entry_id - 1}"
            if entry_id <= prev_id:
                report.add("chain_order", f"Entry {entry_id} follows entry {prev_id}: the log was reordered.", entry)
            else:
                report.add("entry_missing", f"Entry {missing} is missing before entry {entry_id}.", entry)
        elif stored_prev != prev_hash:
            report.add(
                "chain_broken",
                f"Entry {entry_id} does not follow entry {prev_id}: its previous hash is not entry {prev_id}'s "
                "(entries were replaced, reordered or removed).",
                entry,
            )
        if entry_id in anchors and anchors[entry_id] != stored_hash:
            report.add("anchor_mismatch", f"Entry {entry_id} is not the entry anchored as {anchors[entry_id]}.", entry)
        _gather(recorded, kind, account_id, data, entry)
        prev_id, prev_hash = entry_id, stored_hash
        result.entries += 1
    for anchor_id in sorted(a for a in anchors if a > prev_id):
        report.add("anchor_missing", f"Anchored entry {anchor_id} is not in the log (it ends at {prev_id}).")
    if result.entries:
        result.head_id, result.head_hash = prev_id, prev_hash
    return recorded


def _gather(recorded: _Recorded, kind: str, account_id: int | None, data: dict, entry: tuple[int, str]) -> None:
    for view, rows in data.get("tracked", {}).items():
        for pk, digest in rows:
            recorded.tracked.setdefault(view, {})[int(pk)] = (digest, *entry, account_id)
    if kind == kinds.ACCOUNTS_REMOVED:
        recorded.forget(set(data["accounts"]))
    elif kind == kinds.GENESIS and account_id is not None:
        if "charges" in data:
            c = data["charges"]
            _total_add(recorded, account_id, c["count"], Decimal(c["amount"]), Decimal(c["credits"]), entry)
        for invoice_id, s in data.get("invoices", {}).items():
            _invoiced_add(recorded, int(invoice_id), s, entry, account_id)
        for event_id, state in data.get("charge_states", []):
            recorded.states[int(event_id)] = (state, *entry, account_id)
    elif kind == kinds.CHARGES_RATED:
        for acc, s in data["accounts"].items():
            _total_add(recorded, int(acc), s["count"], Decimal(s["amount"]), Decimal(s["credits"]), entry)
    elif kind == kinds.CHARGES_INVOICED:
        ((acc, s),) = data["accounts"].items()  # one invoice: one account
        before = data["before"]
        _total_add(
            recorded, int(acc), 0, Decimal(s["amount"]) - Decimal(before["amount"]),
            Decimal(s["credits"]) - Decimal(before["credits"]), entry,
        )  # fmt: skip
        _invoiced_add(recorded, int(data["invoice_id"]), {**s, "digest": data["digest"]}, entry, int(acc))
    elif kind == kinds.CHARGES_RELEASED:
        # The invoice was voided: its charges left its lines (their money unchanged), none is on them now.
        recorded.invoiced.pop(int(data["invoice_id"]), None)
    elif kind == kinds.INVOICE_PAID:
        recorded.paid[int(data["row"]["invoice_id"])] = entry
    elif kind in kinds.INVOICED_CHARGE_STATES:
        state = kinds.INVOICED_CHARGE_STATES[kind]
        for event_id in data["event_ids"]:
            recorded.states[int(event_id)] = (state, *entry, account_id)


def _total_add(recorded: _Recorded, account_id: int, count: int, amount: Decimal, credits: Decimal, entry) -> None:
    t = recorded.totals.setdefault(account_id, [0, ZERO, ZERO, None])
    t[0] += count
    t[1] += amount
    t[2] += credits
    t[3] = entry


def _invoiced_add(recorded: _Recorded, invoice_id: int, s: dict, entry, account_id: int | None) -> None:
    t = recorded.invoiced.setdefault(invoice_id, [0, ZERO, ZERO, [], None, account_id])
    t[0] += s["count"]
    t[1] += Decimal(s["amount"])
    t[2] += Decimal(s["credits"])
    t[3].append(s["digest"])
    t[4] = entry


# --- Rows the log vouches for -------------------------------------------------------------------


def _tracked(result: Verification, report: _Report, recorded: _Recorded) -> list[tuple[str, int]]:
    """Compare every tracked row with its record. Returns the final invoices found without a
    record: their finalization may be committing its entry right now (checked again after)."""
    late = []
    for view in tracked_views():
        seen = dict(recorded.tracked.get(view.name, {}))  # what is left once the rows are seen: gone
        for pk, value in tracked_values(view):
            result.rows += 1
            digest = digest_of(value)
            rec = seen.pop(pk, None)
            if rec is None:
                if view.name == "invoice":
                    late.append((view.name, pk))
                    continue
                report.add("row_unrecorded", f"{_label(view.name, pk, value)} is not in the money log.")
            elif rec[0] != digest:
                report.add(
                    "row_changed",
                    f"{_label(view.name, pk, value)} differs from what entry {rec[1]} recorded.",
                    (rec[1], rec[2]),
                )
        for pk, (_, entry_id, entry_hash_, _account) in sorted(seen.items()):
            report.add(
                "row_missing",
                f"{_label(view.name, pk, None)}, recorded by entry {entry_id}, is gone (or no longer what it was).",
                (entry_id, entry_hash_),
            )
    return late


def _label(view: str, pk: int, value: dict | None) -> str:
    words = view.replace("_", " ")
    if value and value.get("number"):
        return f"{words.capitalize()} {value['number']} (id {pk})"
    return f"{words.capitalize()} {pk}"


def _late_check(report: _Report, late: list[tuple[str, int]]) -> None:
    """Final invoices the snapshot saw without their entry: recorded since (a finalization's entry
    follows its commit), or not at all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ref FROM billing_moneylogentry WHERE ref = ANY(%s)", [[f"invoice:{pk}" for _, pk in late]]
        )
        found = {r[0] for r in cursor.fetchall()}
    for view, pk in late:
        if f"invoice:{pk}" not in found:
            report.add("row_unrecorded", f"{_label(view, pk, None)} is final but its finalization is not in the log.")


# --- Invoices and credit notes --------------------------------------------------------------------

_INVOICE_SUMS_SQL = """
SELECT i.id, i.number, i.subtotal, i.credits_applied, i.total,
       coalesce(sum(l.amount) FILTER (WHERE l.kind <> 'credit_note'), 0),
       coalesce(-sum(l.amount) FILTER (WHERE l.kind = 'credit_note'), 0),
       i.amount_paid, (SELECT coalesce(sum(p.amount), 0) FROM billing_payment p WHERE p.invoice_id = i.id)
FROM billing_invoice i LEFT JOIN billing_invoiceline l ON l.invoice_id = i.id
WHERE i.status <> 'draft' GROUP BY i.id ORDER BY i.id
"""


# Per final invoice whose charges are stamped on its lines (until then they wait in frozen arrays),
# its lines that bill charges in money (alloc, no credits): their amounts and the charges on them.
# Each line is rounded once from its charges' amounts (6 places), so the two sums differ by at
# most half a minor unit per line, plus the 6th-place rounding of each charge.
_INVOICE_CHARGES_SQL = """
WITH c AS (SELECT invoice_line_id, count(*) AS n, coalesce(sum(amount), 0) AS s FROM billing_charge
           WHERE invoice_line_id IS NOT NULL GROUP BY invoice_line_id)
SELECT i.id, i.number, i.currency, count(l.id), coalesce(sum(l.amount), 0), coalesce(sum(c.n), 0),
       coalesce(sum(c.s), 0)
FROM billing_invoice i JOIN billing_invoiceline l ON l.invoice_id = i.id LEFT JOIN c ON c.invoice_line_id = l.id
WHERE i.status <> 'draft' AND l.alloc IS NOT NULL AND l.credits IS NULL
  AND NOT EXISTS (SELECT 1 FROM billing_invoiceeventspending p WHERE p.invoice_id = i.id)  -- stamped yet
GROUP BY i.id
HAVING bool_and(i.status = 'finalized') OR coalesce(sum(c.n), 0) > 0  -- a voided invoice's charges left it
ORDER BY i.id
"""
_CHARGE_ROUNDING = Decimal("0.0000005")


def _invoices(result: Verification, report: _Report, recorded: _Recorded) -> None:
    entry_of = {pk: (rec[1], rec[2]) for pk, rec in recorded.tracked.get("invoice", {}).items()}
    stamped_by = {pk: rec[4] for pk, rec in recorded.invoiced.items()}  # the entry that recorded its charges
    with connection.cursor() as cursor:
        cursor.execute(_INVOICE_CHARGES_SQL)
        for invoice_id, number, currency, lines, billed, charges, charged in cursor.fetchall():
            slack = lines * quantum(currency) / 2 + charges * _CHARGE_ROUNDING
            if abs(billed - charged) > slack:
                report.add(
                    "invoice_charges",
                    f"Invoice {number}: its lines bill {billed} for {formatting.plural(charges, 'charge')} whose "
                    f"amounts sum to {charged}.",
                    stamped_by.get(invoice_id) or entry_of.get(invoice_id),
                )
        cursor.execute(_INVOICE_SUMS_SQL)
        for invoice_id, number, subtotal, applied, total, lines, notes, paid, payments in cursor.fetchall():
            result.invoices += 1
            entry = entry_of.get(invoice_id)
            if subtotal != lines:
                report.add("invoice_sum", f"Invoice {number}: subtotal {subtotal} is not the sum of its lines, "
                           f"{lines}.", entry)  # fmt: skip
            if applied != notes:
                report.add("invoice_sum", f"Invoice {number}: credits applied {applied} are not its credit-note "
                           f"lines, {notes}.", entry)  # fmt: skip
            if total != subtotal - applied:
                report.add("invoice_sum", f"Invoice {number}: total {total} is not {subtotal} − {applied}.", entry)
            if paid != payments:
                report.add("invoice_paid", f"Invoice {number}: amount paid {paid} is not its payments, {payments}.",
                           recorded.paid.get(invoice_id, entry))  # fmt: skip


_CREDIT_NOTES_SQL = """
SELECT n.id, n.number, n.amount, coalesce(-sum(l.amount), 0)
FROM billing_creditnote n LEFT JOIN billing_invoiceline l ON l.credit_note_id = n.id
    AND l.invoice_id IN (SELECT id FROM billing_invoice WHERE status = 'finalized')
GROUP BY n.id ORDER BY n.id
"""


def _credit_notes(result: Verification, report: _Report) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CREDIT_NOTES_SQL)
        for _, number, amount, applied in cursor.fetchall():
            result.credit_notes += 1
            if applied > amount:
                report.add("credit_note_overapplied", f"Credit note {number} of {amount} was applied {applied}.")


# --- Charges ------------------------------------------------------------------------------------

_INVOICED_SQL = (
    "SELECT l.invoice_id, count(*), coalesce(sum(c.amount), 0), coalesce(sum(c.credits), 0), "
    f"{charges_digest_sql('c', state='invoiced')}, count(*) FILTER (WHERE l.id IS NULL) "
    "FROM billing_charge c LEFT JOIN billing_invoiceline l ON l.id = c.invoice_line_id "
    "WHERE c.invoice_line_id IS NOT NULL GROUP BY l.invoice_id ORDER BY l.invoice_id"
)
_TOTALS_SQL = (
    "SELECT account_id, count(*), coalesce(sum(amount), 0), coalesce(sum(credits), 0) "
    "FROM billing_charge GROUP BY account_id ORDER BY account_id"
)
_STATES_SQL = (
    "SELECT event_id, state FROM billing_charge WHERE invoice_line_id IS NOT NULL AND state <> 'invoiced' "
    "ORDER BY event_id"
)


def _charges(result: Verification, report: _Report, recorded: _Recorded) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_INVOICED_SQL)
        invoiced = {row[0]: row for row in cursor.fetchall()}
        cursor.execute(_TOTALS_SQL)
        totals = cursor.fetchall()
        cursor.execute(_STATES_SQL)
        states = dict(cursor.fetchall())
    for invoice_id in sorted(set(invoiced) | set(recorded.invoiced), key=lambda i: (i is None, i or 0)):
        row = invoiced.get(invoice_id)
        rec = recorded.invoiced.get(invoice_id)
        if invoice_id is None:
            report.add("charge_orphan", f"{formatting.plural(row[5], 'charge')} on invoice lines that do not exist.")
            continue
        if rec is None:
            report.add(
                "charges_unrecorded",
                f"{formatting.plural(row[1], 'charge')} on invoice {invoice_id}'s lines never recorded.",
            )
            continue
        count, amount, credits, digests, entry, _ = rec
        now = (row[1], row[2], row[3]) if row else (0, ZERO, ZERO)
        digest_ok = row is not None and (len(digests) != 1 or digests[0] == row[4])
        if now != (count, amount, credits) or not digest_ok:
            report.add(
                "invoiced_charges_changed",
                f"The charges of invoice {invoice_id} ({now[0]}, amount {now[1]}, credits {now[2]}) are not those "
                f"entry {entry[0]} recorded ({count}, amount {amount}, credits {credits}).",
                entry,
            )
    expected = {eid: rec for eid, rec in recorded.states.items() if rec[0] != "invoiced"}
    for event_id in sorted(set(states) | set(expected)):
        rec = recorded.states.get(event_id)
        want = rec[0] if rec else "invoiced"
        have = states.get(event_id, "invoiced")
        if have != want:
            report.add(
                "charge_state_changed",
                f"The charge of event {event_id} is {have}; the log says {want}.",
                (rec[1], rec[2]) if rec else None,
            )
    for account_id, count, amount, credits in totals:
        result.charges += count
        result.accounts += 1
        rec = recorded.totals.pop(account_id, None)
        want = (rec[0], rec[1], rec[2]) if rec else (0, ZERO, ZERO)
        if (count, amount, credits) != want:
            report.add(
                "charges_total",
                f"Account {account_id} has {formatting.plural(count, 'charge')}, amount {amount}, credits {credits}; "
                f"the log records {want[0]}, amount {want[1]}, credits {want[2]}.",
            )
    for account_id, rec in sorted(recorded.totals.items()):
        if rec[0] or rec[1] or rec[2]:
            report.add("charges_total", f"Account {account_id} has no charges; the log records {rec[0]}.")
