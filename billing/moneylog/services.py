"""Recording money acts: one entry per act, written in the act's own transaction.

:func:`money_act_record` is the one door. It writes the entry's fields and body into
``billing_moneylogpending`` — no lock, no read of the chain — and the database chains it when the
transaction commits (a deferred trigger, migration ``0013_money_log``): the advisory lock that
keeps the chain from forking is taken then, after every other statement of the transaction, and
released by the commit itself. A transaction that rolls back leaves nothing.

The chain is extended by READ COMMITTED transactions only (the trigger refuses others: a
REPEATABLE READ snapshot would read a stale last entry and fork the chain). Finalizing an
invoice prices it in REPEATABLE READ, so its entry is recorded right after, in a transaction of
its own (:func:`invoice_finalized_record`, idempotent; every rerun of the finalization records it
if a crash came in between).

The hot paths record one entry per batch, never per charge (:func:`charges_written_record`,
:func:`charges_chunk_record`): the count, the sums per currency and per account, and the digest of
the batch's charges (:func:`billing.moneylog.canonical.charges_digest`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps

from django.db import connection, transaction
from django.utils import timezone

from billing.credits.models import CreditLedgerEntry
from billing.invoices.models import Invoice, InvoiceStatus
from billing.moneylog import kinds
from billing.moneylog.actor import Actor, actor_current
from billing.moneylog.canonical import (
    AMOUNT_QUANTUM,
    canonical_dumps,
    charges_digest_sql,
    credits_text,
    decimal_text,
    digest_of,
    entry_body,
    plain,
)
from billing.moneylog.models import MoneyLogEntry, MoneyLogPending
from billing.moneylog.tracked import tracked_digests, tracked_row

ZERO = Decimal(0)

_PENDING_INSERT = (
    "INSERT INTO billing_moneylogpending (at, kind, account_id, ref, actor_type, actor_id, actor_label, data, body, "
    "ready) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, false)"
)


def money_act_record(
    *, kind: str, account_id: int | None, data: dict, ref: str = "", actor: Actor | None = None
) -> None:
    """Record a money act in the log, in the transaction that does it (chained at its commit)."""
    if not connection.in_atomic_block:
        raise RuntimeError("A money act is recorded inside the transaction that does it (transaction.atomic()).")
    if kind not in kinds.ALL:
        raise ValueError(f"Unknown money act {kind!r}.")
    who = (actor or actor_current()).as_dict()
    at = timezone.now()
    data = plain(data)
    body = entry_body(account=account_id, actor=who, at=at, data=data, kind=kind, ref=ref)
    with connection.cursor() as cursor:
        cursor.execute(
            _PENDING_INSERT,
            [at, kind, account_id, ref, who["type"], who["id"], who["label"], canonical_dumps(data), body],
        )


def moneylog_flush() -> None:
    """Chain the acts this transaction recorded now rather than at its commit (tests, and the
    verification when it runs inside a caller's transaction). Holds the chain's lock until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS billing_moneylog_ready, billing_moneylog_chain IMMEDIATE")
        cursor.execute("SET CONSTRAINTS billing_moneylog_ready, billing_moneylog_chain DEFERRED")


# --- Rows the log vouches for ---------------------------------------------------------------


def row_act_record(*, kind: str, view: str, pk: int, account_id: int | None, actor: Actor | None = None) -> None:
    """An act that created or settled one tracked row: the row as it now stands, and its digest."""
    row = tracked_row(view, pk)
    if row is None:
        raise RuntimeError(f"{view} {pk} does not meet its view's condition: nothing to vouch for.")
    data = {"row": row, "tracked": {view: [[pk, digest_of(row)]]}}
    money_act_record(kind=kind, account_id=account_id, data=data, ref=f"{view}:{pk}", actor=actor)


def invoice_finalized_record(*, invoice_id: int) -> bool:
    """Record a finalized invoice — its totals, its lines and the credit-ledger entries it posted —
    once. Its own READ COMMITTED transaction, under the invoice's row lock; True if it recorded it
    now, False if it was recorded already (or the invoice is still a draft)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
        if invoice is None or invoice.status == InvoiceStatus.DRAFT:
            return False
        ref = f"invoice:{invoice_id}"
        if (
            MoneyLogEntry.objects.filter(ref=ref, kind=kinds.INVOICE_FINALIZED).exists()
            or MoneyLogPending.objects.filter(ref=ref, kind=kinds.INVOICE_FINALIZED).exists()  # this transaction's
        ):
            return False
        row = tracked_row("invoice", invoice_id)
        entries = _credit_entries_of(invoice_id)
        data = {
            "number": invoice.number,
            "period": invoice.period,
            "currency": invoice.currency,
            "subtotal": invoice.subtotal,
            "credits_applied": invoice.credits_applied,
            "total": invoice.total,
            "lines": len(row["lines"]),
            "credit_entries": [[pk, digest] for pk, digest in entries],
            "tracked": {"invoice": [[invoice_id, digest_of(row)]], "credit_entry": entries},
        }
        money_act_record(kind=kinds.INVOICE_FINALIZED, account_id=invoice.account_id, data=data, ref=ref)
    return True


def _credit_entries_of(invoice_id: int) -> list[list]:
    pks = CreditLedgerEntry.objects.filter(reference=f"invoice:{invoice_id}").values_list("pk", flat=True)
    return tracked_digests("credit_entry", sorted(pks))


def credits_reversed_record(*, invoice_id: int, account_id: int, entry_pks: Sequence[int]) -> None:
    """A voided invoice's credit-ledger entries were reversed: one entry vouching for the reversals."""
    if not entry_pks:
        return
    entries = tracked_digests("credit_entry", sorted(entry_pks))
    data = {"invoice_id": invoice_id, "credit_entries": entries, "tracked": {"credit_entry": entries}}
    money_act_record(kind=kinds.CREDITS_REVERSED, account_id=account_id, data=data, ref=f"invoice:{invoice_id}")


def accounts_removed_record(account_ids: Sequence[int]) -> None:
    """Accounts were deleted with everything they owned (the demo's reset): one entry naming them."""
    money_act_record(
        kind=kinds.ACCOUNTS_REMOVED,
        account_id=None,
        data={"accounts": sorted(account_ids), "note": "deleted with their money: earlier entries stay as they were"},
    )


# --- Charges, a batch at a time -------------------------------------------------------------


def _charges_data(groups: Iterable[tuple[int, str, int, Decimal, Decimal]], digest: str, **extra) -> tuple[int, dict]:
    """An entry's data for a set of charges: count, sums per currency and per account, digest.
    ``groups``: ``(account id, currency, count, Σ amount, Σ credits)``. Returns (account, data):
    the account when the charges are all one account's, else None."""
    accounts, currencies, count = {}, {}, 0
    for account_id, currency, n, amount, credits in sorted(groups):
        accounts[str(account_id)] = {"currency": currency, "count": n, "amount": amount, "credits": credits}
        cur = currencies.setdefault(currency, {"count": 0, "amount": ZERO, "credits": ZERO})
        cur["count"] += n
        cur["amount"] += amount
        cur["credits"] += credits
        count += n
    account = int(next(iter(accounts))) if len(accounts) == 1 else None
    return account, {"count": count, "sums": currencies, "accounts": accounts, "digest": digest, **extra}


def charges_written_record(charges: Sequence) -> None:
    """Ingestion wrote these new charges (:class:`billing.ledger.services.NewCharge`): one entry.

    On the hot path: a batch has a handful of distinct amounts, so each is rounded and written
    once (as the ledger stores it: numeric(18, 6) and (18, 4), half away from zero — the digest is
    then the one SQL computes over the rows, canonical.charge_line_sql), and the sums add up the
    charges of each distinct (account, amount, credits) at once.
    """
    if not charges:
        return
    texts: dict = {None: ""}  # a Decimal → its text at the ledger's places, per batch
    lines: list[str] = []
    groups: dict = {}  # (account, currency, amount, credits) → charges
    line, group = lines.append, groups.get
    for c in sorted(charges, key=_pk):
        amount, credits = c.amount, c.credits
        a, cr = texts.get(amount), texts.get((credits,))
        if a is None:
            a = texts[amount] = decimal_text(amount.quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_UP))
        if cr is None:
            cr = texts[(credits,)] = "" if credits is None else credits_text(credits)
        line(f"{c.pk}|{a}|{cr}|{c.state}\n")
        key = (c.account_id, c.currency, a, cr)
        groups[key] = group(key, 0) + 1
    digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    per_account: dict = {}
    for (account_id, currency, a, cr), n in groups.items():
        g = per_account.setdefault(account_id, [account_id, currency, 0, ZERO, ZERO])
        g[2] += n
        g[3] += (Decimal(a) if a else ZERO) * n
        g[4] += (Decimal(cr) if cr else ZERO) * n
    account, data = _charges_data(map(tuple, per_account.values()), digest)
    money_act_record(kind=kinds.CHARGES_RATED, account_id=account, data=data)


def _pk(charge) -> int:
    return charge.pk


def charges_summary_sql(cte: str) -> str:
    """Two columns summing up the charges a statement's CTE ``cte`` returned (``event_id,
    account_id, currency, amount, credits, state``): their groups per account (JSON) and their
    digest — what :func:`charges_chunk_record` takes. For set-based statements (settlement)."""
    return (
        "(SELECT coalesce(json_agg(json_build_array(g.account_id, g.currency, g.n, g.amount::text, g.credits::text) "
        "ORDER BY g.account_id), '[]') FROM (SELECT account_id, currency, count(*) AS n, coalesce(sum(amount), 0) "
        f"AS amount, coalesce(sum(credits), 0) AS credits FROM {cte} GROUP BY account_id, currency) g), "
        f"(SELECT {charges_digest_sql(cte)} FROM {cte})"
    )


def charges_chunk_record(*, kind: str, groups_json: str | list, digest: str, **extra) -> None:
    """A set-based statement moved charges (columns of :func:`charges_summary_sql`): one entry;
    none if it moved nothing."""
    groups = json.loads(groups_json) if isinstance(groups_json, str) else groups_json
    if not groups:
        return
    rows = [(int(a), cur, int(n), Decimal(amount), Decimal(credits)) for a, cur, n, amount, credits in groups]
    account, data = _charges_data(rows, digest, **extra)
    money_act_record(kind=kind, account_id=account, data=data)


def _charges_moved(kind: str, event_ids: list[int]) -> None:
    """Charges moved by one of the ledger's conditional updates: the ids, their new values."""
    if not event_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(json_agg(json_build_array(g.account_id, g.currency, g.n, g.amount::text, "
            "g.credits::text) ORDER BY g.account_id), '[]') FROM (SELECT account_id, currency, count(*) AS n, "
            "coalesce(sum(amount), 0) AS amount, coalesce(sum(credits), 0) AS credits FROM billing_charge "
            "WHERE event_id = ANY(%(ids)s) GROUP BY account_id, currency) g), "
            f"(SELECT {charges_digest_sql('c')} FROM billing_charge c WHERE c.event_id = ANY(%(ids)s))",
            {"ids": sorted(event_ids)},
        )
        groups_json, digest = cursor.fetchone()
    charges_chunk_record(kind=kind, groups_json=groups_json, digest=digest, event_ids=sorted(event_ids))


def charges_moved(kind: str):
    """Decorate one of the ledger's moves (a function returning the event ids it moved): each call
    that moves charges records one entry of ``kind`` with their ids and new values."""

    def decorate(move):
        @wraps(move)
        def recorded(*args, **kwargs):
            moved = move(*args, **kwargs)
            _charges_moved(kind, list(moved))
            return moved

        return recorded

    return decorate


def charges_invoiced_record(*, invoice_id: int, summary: tuple) -> None:
    """Charges stamped with the lines of a final invoice (``billing.invoices.selection``'s
    summary row: count, groups, digest, amount and credits before): one entry."""
    count, groups_json, digest, amount_before, credits_before = summary
    if not count:
        return
    charges_chunk_record(
        kind=kinds.CHARGES_INVOICED,
        groups_json=groups_json,
        digest=digest,
        invoice_id=invoice_id,
        before={"amount": decimal_text(amount_before or ZERO), "credits": decimal_text(credits_before or ZERO)},
    )


def charges_released_record(*, invoice_id: int, summary: tuple) -> None:
    """A voided invoice's charges left its lines (``billing.ledger.services.charges_release_voided``'s
    summary row: count, groups, digest): one entry; none if it had none."""
    count, groups_json, digest = summary
    if not count:
        return
    charges_chunk_record(kind=kinds.CHARGES_RELEASED, groups_json=groups_json, digest=digest, invoice_id=invoice_id)


__all__ = [
    "accounts_removed_record",
    "charges_chunk_record",
    "charges_invoiced_record",
    "charges_moved",
    "charges_released_record",
    "charges_summary_sql",
    "charges_written_record",
    "credits_reversed_record",
    "invoice_finalized_record",
    "money_act_record",
    "moneylog_flush",
    "row_act_record",
]
