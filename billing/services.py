"""Operations that change invoicing state: contracts, drafts, finalization, credit notes.

Services load and lock, call the pure core (:func:`billing.pricing.price_period`), save.

Building an invoice is idempotent and crash-safe: :func:`invoice_finalize` does all its
work — recompute the lines, freeze the charges each line bills (one event-id array per line, from
one query in billing.invoices.selection), take the next number from the locked counter row, mark the invoice
finalized — in **one** transaction. A worker killed at any point leaves the draft as it was
(PostgreSQL rolls the transaction back) and a rerun completes it; a second worker waits on the
invoice row lock and then finds it finalized. The unique (account, period) constraint makes "two
invoices for one month" impossible.

Stamping each charge with its line and exact amount is a second step, :func:`invoice_events_link`,
run right after (or, by :func:`invoices_build`, after every invoice of the month is final): it
rewrites every charge row, seconds per million, so the invoice does not wait for it. It is
idempotent and driven by the frozen arrays, so what it stamps is exactly what was priced. Until
it has run, :func:`invoice_events_link_pending` is called by whatever reads a charge's line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Account
from billing.charges import Assembly, period_assemble
from billing.contract_changes import contract_change
from billing.contracts import COMPLEXITIES, DEFAULT_PAYMENT_TERMS_DAYS, TermsInvalid
from billing.credits.models import CreditLedgerEntry
from billing.invoices.credit_notes import CreditNoteRefused, credit_note_issue  # the facade's callers
from billing.invoices.document import due_at, tax_apply
from billing.invoices.models import (
    ContractVersion,
    Invoice,
    InvoiceEventsPending,
    InvoiceLine,
    InvoiceStatus,
    PaymentStatus,
)
from billing.invoices.numbers import number_series_lock, number_take
from billing.invoices.parties import buyer_party, seller_party, tax_rule_for
from billing.invoices.selection import LineLink, Selection, charges_freeze_sql, charges_invoice_listed
from billing.models import SpendPeriod
from billing.moneylog.services import charges_invoiced_record, invoice_finalized_record
from billing.pricing import (
    Alloc,
    Group,
    Line,
    credit_postings,
)
from metering.models import OutcomeType
from outcomeportal.core.periods import period_add, period_at, period_bounds


class InvoiceImmutable(Exception):
    """A finalized or void invoice never changes; corrections are credit notes."""


# --- Contracts ------------------------------------------------------------------------------


def contract_version_create(*, account: Account, document: dict, created_by: str = "") -> ContractVersion:
    """A new version of the account's contract (validated); earlier versions stay as they were. A
    change inside a month can take effect at once, prorated: see :mod:`billing.contract_changes`.

    Raises :class:`billing.contracts.TermsInvalid` with field → messages.
    """
    return contract_change(account=account, document=document, created_by=created_by)


def _alloc_json(alloc: Alloc | None) -> dict | None:
    if alloc is None:
        return None
    return {
        "segment": alloc.segment,
        "outcome_type": alloc.outcome_type,
        "tier": alloc.tier or "",
        "classes": alloc.classes,
        "show": alloc.show or alloc.classes,
        "rank_from": alloc.rank_from,
        "rank_to": alloc.rank_to,
        "event_amount": None if alloc.event_amount is None else str(alloc.event_amount),
        "event_credits": None if alloc.event_credits is None else str(alloc.event_credits),
        "gain_share": None if alloc.gain_share is None else [str(v) for v in alloc.gain_share],
    }


def _save_lines(invoice: Invoice, lines: tuple[Line, ...], type_ids: dict[str, int]) -> None:
    """Upsert the draft's lines by key (ids stay stable across refreshes); drop vanished ones."""
    existing = {ln.key: ln for ln in invoice.lines.all()}
    keep = set()
    for position, line in enumerate(lines, start=1):
        values = {
            "position": position,
            "kind": line.kind,
            "description": line.description[:300],
            "outcome_type_id": type_ids.get(line.outcome_type) if line.outcome_type else None,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "credits": line.credits,
            "unit_credits": line.unit_credits,
            "alloc": _alloc_json(line.alloc),
            "credit_note_id": line.ref if line.kind == "credit_note" else None,
        }
        keep.add(line.key)
        current = existing.get(line.key)
        if current is None:
            InvoiceLine.objects.create(invoice=invoice, account_id=invoice.account_id, key=line.key, **values)
        elif any(getattr(current, k) != v for k, v in values.items()):
            InvoiceLine.objects.filter(pk=current.pk).update(**values)
    stale = [ln.pk for key, ln in existing.items() if key not in keep]
    if stale:
        InvoiceLine.objects.filter(pk__in=stale).delete()


def _invoice_row(account: Account, period: str, now: datetime) -> Invoice:
    """The period's live invoice (a voided and reissued one is not), created as a draft if none."""
    start, end = period_bounds(period, account.timezone)
    invoice, _ = Invoice.objects.live().get_or_create(
        account=account,
        period=period,
        defaults={"period_start": start, "period_end": end, "currency": account.currency, "refreshed_at": now},
    )
    return invoice


def _refresh_locked(invoice: Invoice, *, now: datetime, closing: bool = False) -> Assembly:
    """Price the draft again and store it; ``closing``: for finalization (the period's guarantee is checked)."""
    account = invoice.account
    asm = period_assemble(account=account, period=invoice.period, exclude_invoice_id=invoice.pk, closing=closing)
    type_ids = dict(OutcomeType.objects.values_list("code", "id"))
    _save_lines(invoice, asm.priced.lines, type_ids)
    carry_out = asm.priced.carry_out.as_dict()
    if carry_out != invoice.carry_out:
        # What the next period starts with changed (credits rolled over, commitment used): the cap's
        # bound of that period (billing.spend) was computed with the old carry and is priced again.
        SpendPeriod.objects.filter(account_id=invoice.account_id, period=period_add(invoice.period, 1)).update(
            bound_stamp=None
        )
    terms = asm.terms_by_segment.get(invoice.period)
    tax = tax_apply(net=asm.priced.total, currency=account.currency, rule=tax_rule_for(account=account))
    Invoice.objects.filter(pk=invoice.pk).update(
        contract_version=asm.version,
        currency=account.currency,
        subtotal=asm.priced.subtotal,
        credits_applied=asm.priced.credits_applied,
        total=asm.priced.total,
        carry_in=asm.carry_in.as_dict(),
        carry_out=carry_out,
        attainment=None if asm.inp.attainment is None else [a.as_dict() for a in asm.inp.attainment],
        notes=list(asm.priced.notes),
        refreshed_at=now,
        # The document: what it would say if issued now (fixed when it is finalized).
        payment_terms_days=terms.payment_terms_days if terms else DEFAULT_PAYMENT_TERMS_DAYS,
        seller=seller_party(vendor_id=account.vendor_id).as_dict(),
        buyer=buyer_party(account=account).as_dict(),
        tax_rate=tax.rate,
        tax_amount=tax.amount,
        tax_note=tax.note,
    )
    return asm


def invoice_draft_refresh(*, account: Account, period: str, now: datetime | None = None) -> Invoice:
    """Recompute the draft (upcoming) invoice of a period from the events as they stand.

    A finalized or void invoice is returned untouched.
    """
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _invoice_row(account, period, now)
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
        if invoice.status == InvoiceStatus.DRAFT:
            _refresh_locked(invoice, now=now)
    return Invoice.objects.select_related("account").get(pk=invoice.pk)


DRAFT_TTL_SECONDS = 30  # a draft older than this is recomputed when read (settings.BILLING_DRAFT_TTL_SECONDS)


def invoice_draft_current(*, account: Account, invoice: Invoice | None = None, now: datetime | None = None) -> Invoice:
    """The upcoming invoice: the current period's draft, recomputed when older than the TTL.

    With ``invoice``: that invoice, refreshed if it is a stale draft.
    """
    now = now or timezone.now()
    ttl = getattr(settings, "BILLING_DRAFT_TTL_SECONDS", DRAFT_TTL_SECONDS)
    if invoice is None:
        period = period_at(now, account.timezone)
        invoice = Invoice.objects.live().filter(account=account, period=period).select_related("account").first()
        if invoice is None:
            return invoice_draft_refresh(account=account, period=period, now=now)
    if invoice.status == InvoiceStatus.DRAFT and now - invoice.refreshed_at >= timedelta(seconds=ttl):
        return invoice_draft_refresh(account=invoice.account, period=invoice.period, now=now)
    return invoice


def _links(invoice: Invoice, type_ids: dict[str, int]) -> list[LineLink]:
    lines = [ln for ln in invoice.lines.all() if ln.alloc]
    by_group: dict[tuple[str, str], list[InvoiceLine]] = {}
    for ln in lines:
        by_group.setdefault((ln.alloc["segment"], ln.alloc["outcome_type"]), []).append(ln)
    links = []
    for ln in lines:
        a = ln.alloc
        # Ranks matter only where lines share events (included + overage, graduated bands).
        ranked = any(
            _overlap(a, other.alloc) for other in by_group[(a["segment"], a["outcome_type"])] if other is not ln
        )
        links.append(
            LineLink(
                line_id=ln.pk,
                segment=a["segment"],
                outcome_type_id=type_ids[a["outcome_type"]],
                tier=a["tier"],
                classes=a["classes"],
                rank_from=a["rank_from"] if ranked else None,
                rank_to=(a["rank_to"] or 2**62) if ranked else None,
                amount=None if a["event_amount"] is None else Decimal(a["event_amount"]),
                credits=None if a["event_credits"] is None else Decimal(a["event_credits"]),
                gain_share=None if a["gain_share"] is None else tuple(Decimal(v) for v in a["gain_share"]),
                included=ln.kind == "included",
            )
        )
    return links


def _overlap(a: dict, b: dict) -> bool:
    tiers = a["tier"] == "" or b["tier"] == "" or a["tier"] == b["tier"]
    return tiers and bool(set(a["classes"]) & set(b["classes"]))


@dataclass(frozen=True)
class Finalized:
    invoice: Invoice
    created: bool  # False: it was already final (a rerun or a second worker)
    events_billed: int = 0  # events on the invoice's lines (frozen at finalization)
    events_stamped: int = 0  # of them, stamped with their line by this call


def _partition_sizes(selection: Selection, unbilled: dict[str, tuple[Group, ...]], type_ids: dict[str, int]):
    """Events per (segment, type id, tier) — the partitions line ranks count in — from the priced groups."""
    sizes: dict[tuple[str, int, str], int] = {}
    for segment, groups in unbilled.items():
        for g in groups:
            type_id = type_ids[g.outcome_type]
            tier = ""
            if type_id in selection.complexity_types:
                tier = g.tier if g.tier in COMPLEXITIES else selection.complexity_types[type_id]
            sizes[segment, type_id, tier] = sizes.get((segment, type_id, tier), 0) + g.resolved + g.unresolved
    return sizes


def _events_freeze(invoice: Invoice, selection: Selection, links: list[LineLink], sizes) -> int:
    """Store, per line, the ids of the events whose charges it bills (one row per line). Returns their number."""
    if not links:
        return 0
    sql, params = charges_freeze_sql(selection=selection, links=links, sizes=sizes)
    with connection.cursor() as cursor:
        # CREATE TABLE AS may scan with parallel workers, INSERT … SELECT may not (1.2 s against
        # 1.9 s for a million events); the arrays then move in one step.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"CREATE TEMP TABLE billing_frozen ON COMMIT DROP AS {sql}", params)
        cursor.execute(
            f"INSERT INTO {InvoiceEventsPending._meta.db_table} (invoice_id, line_id, account_id, event_ids) "
            "SELECT %s, f.line_id, %s, f.ids FROM billing_frozen AS f(line_id, ids) RETURNING cardinality(event_ids)",
            [invoice.pk, invoice.account_id],
        )
        frozen = sum(n for (n,) in cursor.fetchall())
        cursor.execute("DROP TABLE billing_frozen")
        return frozen


def invoice_events_link(*, invoice: Invoice) -> int:
    """Stamp the charges of a finalized invoice with their line and exact amount, from the arrays
    frozen when it was finalized; then forget the arrays. Idempotent; a second caller waits on the
    invoice row lock and finds nothing left to do. Returns the number of charges stamped."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        pending = InvoiceEventsPending.objects.filter(invoice_id=locked.pk)
        line_ids = set(pending.values_list("line_id", flat=True))
        if not line_ids:
            return 0
        type_ids = dict(OutcomeType.objects.values_list("code", "id"))
        stamped = charges_invoice_listed(
            links=[link for link in _links(locked, type_ids) if link.line_id in line_ids],
            pairs_sql=(
                f"SELECT line_id, unnest(event_ids) AS event_id FROM {InvoiceEventsPending._meta.db_table} "
                "WHERE invoice_id = %(pending_invoice)s"
            ),
            pairs_params={"pending_invoice": locked.pk},
        )
        pending.delete()
        charges_invoiced_record(invoice_id=locked.pk, summary=stamped)
    return stamped[0]


def invoice_events_link_pending(*, account: Account) -> int:
    """Stamp the charges of every finalized invoice of ``account`` still waiting for it — called
    before anything reads which invoice line a charge is on (late outcomes, disputes, credits)."""
    invoice_ids = InvoiceEventsPending.objects.filter(account=account).values_list("invoice_id", flat=True).distinct()
    return sum(invoice_events_link(invoice=Invoice(pk=pk)) for pk in sorted(invoice_ids))


def invoice_finalize(
    *, account: Account, period: str, now: datetime | None = None, link_events: bool = True
) -> Finalized:
    """Finalize one account's invoice for a closed period — all or nothing, once.

    Then, with ``link_events`` (the default), stamp its events with their lines; ``invoices_build``
    leaves that to a second pass, after every invoice of the month is final.
    """
    now = now or timezone.now()
    _, end = period_bounds(period, account.timezone)
    if now < end:
        raise ValueError(f"Period {period} of {account.external_id} has not ended yet ({end.isoformat()}).")
    # An earlier month's events must be on their lines before this month looks for late outcomes.
    invoice_events_link_pending(account=account)
    done = _finalize(account=account, period=period, now=now)
    if link_events:
        done = Finalized(done.invoice, done.created, done.events_billed, invoice_events_link(invoice=done.invoice))
    return done


_RETRYABLE = ("40001", "40P01")  # serialization failure, deadlock victim: the whole transaction again


def _finalize(*, account: Account, period: str, now: datetime) -> Finalized:
    """One finalizing transaction, retried if a concurrent write to the invoice row conflicts;
    then the money log's entry for it (a READ COMMITTED transaction of its own, recorded once: a
    rerun records it if a crash came in between)."""
    invoice = _invoice_row(account, period, now)  # before the snapshot: it sees a row just created
    for attempt in range(1, 6):
        try:
            done = _finalize_once(invoice=invoice, now=now)
            break
        except OperationalError as exc:
            if attempt == 5 or getattr(exc.__cause__, "sqlstate", None) not in _RETRYABLE:
                raise
    invoice_finalized_record(invoice_id=done.invoice.pk)
    return done


def _finalize_once(*, invoice: Invoice, now: datetime) -> Finalized:
    # REPEATABLE READ: the aggregate that prices the lines and the query that freezes their events
    # read one snapshot, so an outcome settling in between is in neither (it is a late one), and
    # the arrays hold exactly the events counted. The number series is locked before that
    # snapshot is taken (LOCK TABLE takes none), so finalizations queue for it instead of
    # failing on its counter row; the gapless number serialises them from that point anyway.
    # (Inside an enclosing transaction — tests — the caller's isolation stands.)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            number_series_lock()
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.DRAFT:
            return Finalized(invoice, created=False)
        asm = _refresh_locked(invoice, now=now, closing=True)
        type_ids = dict(OutcomeType.objects.values_list("code", "id"))
        # The selection the lines were priced from: every line's segment is one of its segments.
        sizes = _partition_sizes(asm.selection, asm.unbilled, type_ids)
        billed = _events_freeze(invoice, asm.selection, _links(invoice, type_ids), sizes)
        number = number_take("invoice")
        _credits_post(invoice, asm, number=number, now=now)
        terms_days = Invoice.objects.values_list("payment_terms_days", flat=True).get(pk=invoice.pk)
        Invoice.objects.filter(pk=invoice.pk).update(
            status=InvoiceStatus.FINALIZED,
            number=number,
            finalized_at=now,
            issued_at=now,
            due_at=due_at(issued_at=now, payment_terms_days=terms_days),
            payment_status=PaymentStatus.OPEN,
        )
        # Emailed and announced by the worker once the invoice is committed (never inside this transaction).
        invoice_id = invoice.pk
        transaction.on_commit(lambda: async_task("billing.tasks.invoice_deliver", invoice_id))
    return Finalized(Invoice.objects.select_related("account").get(pk=invoice.pk), created=True, events_billed=billed)


def _credits_post(invoice: Invoice, asm: Assembly, *, number: str, now: datetime) -> None:
    """Post the period's credit-ledger entries (grant, usage, expiry or rollover note) from the very
    figures the invoice was priced with — in the finalizing transaction, so exactly once: a rollback
    takes them back with everything else, and (account, kind, "invoice:<id>") is unique."""
    use = asm.priced.credit_use
    if use is None:
        return
    terms = asm.terms_by_segment.get(invoice.period)
    plan = terms.platform_fee.name if terms and terms.platform_fee else "your plan"
    CreditLedgerEntry.objects.bulk_create(
        [
            CreditLedgerEntry(
                account_id=invoice.account_id,
                created_at=now,
                kind=posting.kind,
                credits=posting.credits,
                period=invoice.period,
                invoice_id=invoice.pk,
                reference=f"invoice:{invoice.pk}",
                note=f"{posting.note} (invoice {number})",
                created_by=f"invoice {number}",
            )
            for posting in credit_postings(use, period=invoice.period, plan_name=plan)
        ],
        ignore_conflicts=True,
    )


def invoice_open_locked(*, account: Account, now: datetime) -> Invoice:
    """The draft invoice a charge or credit made at ``now`` belongs on, row-locked until commit.

    The current period's draft — or, when that period is already final (a clock at a period's
    edge), the next one. Call inside a transaction: holding the row lock orders the caller
    against a finalization of that period, which then sees the caller's rows (or, if it won the
    lock, the caller moves on to the next period). Never an entry on a final invoice's period.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_open_locked holds a row lock: call it inside transaction.atomic().")
    period = period_at(now, account.timezone)
    while True:
        invoice = _invoice_row(account, period, now)
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
        if invoice.status == InvoiceStatus.DRAFT:
            return invoice
        period = period_add(period, 1)


@dataclass
class BuildResult:
    period: str
    finalized: int = 0
    already_final: int = 0
    events_billed: int = 0
    events_stamped: int = 0
    failed: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)  # catch-up: "account:YYYY-MM" finalized, in order
    final_after_s: float = 0.0  # every invoice final (first pass)
    stamped_after_s: float = 0.0  # every event on its line (second pass)

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "finalized": self.finalized,
            "already_final": self.already_final,
            "events_billed": self.events_billed,
            "events_stamped": self.events_stamped,
            "failed": self.failed,
            "periods": self.periods,
            "final_after_s": round(self.final_after_s, 3),
            "stamped_after_s": round(self.stamped_after_s, 3),
        }


def invoices_build(*, period: str, now: datetime | None = None, accounts=None) -> BuildResult:
    """Finalize every account's invoice of a closed period (each account in its own transaction).

    Two passes: every invoice is finalized first (priced, numbered, its events frozen on its
    lines), then the events of each are stamped with their lines — the slow part, which no
    invoice waits for. The second pass also finishes the stamping of a run that was killed.

    Safe to run twice or in two workers at once. An account whose period has not ended yet in
    its own time zone is skipped (it will be built by a later run).
    """
    now = now or timezone.now()
    started = time.perf_counter()
    result = BuildResult(period=period)
    qs = accounts if accounts is not None else Account.objects.order_by("pk")
    built = []
    for account in qs:
        if now < period_bounds(period, account.timezone)[1]:
            continue
        done = invoice_finalize(account=account, period=period, now=now, link_events=False)
        built.append(account)
        if done.created:
            result.finalized += 1
            result.events_billed += done.events_billed
            result.numbers.append(done.invoice.number)
        else:
            result.already_final += 1
    result.final_after_s = time.perf_counter() - started
    for account in built:
        result.events_stamped += invoice_events_link_pending(account=account)
    result.stamped_after_s = time.perf_counter() - started
    return result


def invoice_line_update(*, line: InvoiceLine, **changes) -> None:
    """Edit a draft's line (drafts are recomputed; this exists to refuse edits of final invoices)."""
    invoice = Invoice.objects.get(pk=line.invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceImmutable(f"Invoice {invoice.number} is {invoice.status}: it never changes; issue a credit note.")
    InvoiceLine.objects.filter(pk=line.pk).update(**changes)


__all__ = [
    "CreditNoteRefused",
    "Finalized",
    "InvoiceImmutable",
    "TermsInvalid",
    "contract_version_create",
    "credit_note_issue",
    "invoice_draft_refresh",
    "invoice_events_link",
    "invoice_events_link_pending",
    "invoice_finalize",
    "invoice_open_locked",
    "invoices_build",
    "number_series_lock",
]
