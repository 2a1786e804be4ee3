"""What-if repricing: an account's closed months priced again under a candidate contract, beside
what was invoiced. Nothing is stored.

Each closed month's invoice is rebuilt from what it billed, and priced by the code that priced it
(:func:`billing.pricing.price_period`) with the candidate's terms in place of the contract's:

* the charges on its lines — its own month's outcomes and attempts, and the late outcomes of
  earlier months it carried (each batch beside what that month's invoices had billed before);
* the credit notes it applied (each for the amount it applied: a smaller candidate invoice applies
  less of them, never more), the month's prepaid credits as they stood when it was finalized, and
  whether the account was active at the month's end;
* the carry it started from: the first month's as invoiced, each next month's the candidate's own
  carry out (credits rolled over, commitment drawn) — so the months chain as invoices do.

Priced under the contract actually in force, every month comes back as invoiced, to the cent, for
every pricing model (tests/billing/test_whatif.py).

What a candidate changes is what pricing reads: prices, models, tiers and bands, platform fees and
their allowances, commitments, credits, minimums, price lock, the basis. It does not change which
outcomes were billable (metering's decision), nor those the plan or the cap made free when they
happened (training window, pilot allowance, cap reached, an inactive account), nor disputes'
credits: those were decided at ingestion and stay as they were. Attempts follow the candidate: a
candidate that charges a type's unsuccessful attempts (per-conversation basis, ticket fees)
counts that month's attempts of the type, one that does not leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, LifecycleStatus
from accounts.selectors import account_status_at
from billing.audit.counts import period_attainment
from billing.contracts import ATTEMPT_REASONS, Terms, terms_parse
from billing.credits.models import PREPAID_KINDS, CreditKind, CreditLedgerEntry
from billing.invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus
from billing.pricing import (
    Attainment,
    Carry,
    CreditNoteIn,
    Group,
    LateBatch,
    Line,
    PeriodInput,
    PrepaidIn,
    PricedInvoice,
    price_period,
)
from billing.selectors import attempt_type_ids, catalogue, contract_for_period, gain_sql
from metering.models import OutcomeType
from outcomeportal.core.money import money_str
from outcomeportal.core.periods import period_at, period_bounds, period_days, period_first_day

MAX_MONTHS = 24
DEFAULT_MONTHS = 12


def candidate_parse(document: object, *, account: Account, now: datetime | None = None) -> Terms:
    """A candidate contract document, validated as a contract version is (raises
    :class:`billing.contracts.TermsInvalid`). Its ``effective_from`` may be left out: the contract in
    force today's, else the first day of the account's first closed month (onboarding and price lock
    count their days from it)."""
    if isinstance(document, dict) and not document.get("effective_from"):
        current = period_at(now or timezone.now(), account.timezone)
        version, _ = contract_for_period(account_id=account.pk, period=current)
        if version is not None:
            start = version.effective_from
        else:
            first = Invoice.objects.filter(account=account).order_by("period").values_list("period", flat=True).first()
            start = period_first_day(first or current)
        document = {**document, "effective_from": start.isoformat()}
    return terms_parse(document, known_types=set(OutcomeType.objects.values_list("code", flat=True)))


def current_document(*, account: Account, now: datetime | None = None) -> dict | None:
    """The contract document in force in the account's current month (a candidate's starting point)."""
    version, _ = contract_for_period(account_id=account.pk, period=period_at(now or timezone.now(), account.timezone))
    return version.terms if version is not None else None


@dataclass(frozen=True, slots=True)
class PreviewMonth:
    """One closed month: its invoice as issued, and the candidate's invoice for the same month."""

    period: str
    invoice: str  # the invoice's number
    actual_total: Decimal
    candidate: PricedInvoice

    @property
    def candidate_total(self) -> Decimal:
        return self.candidate.total

    @property
    def difference(self) -> Decimal:
        """What the candidate would have charged more (negative: less)."""
        return self.candidate.total - self.actual_total


@dataclass(frozen=True, slots=True)
class Preview:
    account: Account
    currency: str
    months: tuple[PreviewMonth, ...]  # oldest first

    @property
    def actual_total(self) -> Decimal:
        return sum((m.actual_total for m in self.months), Decimal(0))

    @property
    def candidate_total(self) -> Decimal:
        return sum((m.candidate_total for m in self.months), Decimal(0))

    @property
    def difference(self) -> Decimal:
        return self.candidate_total - self.actual_total

    def as_api(self) -> dict:
        """The API's body (and the page's and CSV's figures): money as strings with the currency's places."""
        cur = self.currency
        return {
            "account": self.account.external_id,
            "currency": cur,
            "months": len(self.months),
            "periods": [
                {
                    "period": m.period,
                    "invoice": m.invoice,
                    "actual_total": money_str(m.actual_total, cur),
                    "candidate_total": money_str(m.candidate_total, cur),
                    "difference": money_str(m.difference, cur),
                    "candidate_lines": [_line_api(ln, cur) for ln in m.candidate.lines],
                }
                for m in self.months
            ],
            "actual_total": money_str(self.actual_total, cur),
            "candidate_total": money_str(self.candidate_total, cur),
            "difference": money_str(self.difference, cur),
        }


def _line_api(line: Line, currency: str) -> dict:
    return {
        "kind": line.kind,
        "description": line.description,
        "quantity": f"{line.quantity.normalize():f}",
        "unit_price": None if line.unit_price is None else f"{line.unit_price.normalize():f}",
        "amount": money_str(line.amount, currency),
    }


def closed_invoices(*, account: Account, months: int, now: datetime | None = None) -> list[Invoice]:
    """The finalized invoices of the account's last ``months`` closed months that have one, oldest
    first (a void invoice is no month's invoice)."""
    current = period_at(now or timezone.now(), account.timezone)
    rows = Invoice.objects.filter(account=account, status=InvoiceStatus.FINALIZED, period__lt=current)
    return sorted(rows.order_by("-period")[:months], key=lambda inv: inv.period)


def contract_preview(*, account: Account, terms: Terms | None, months: int, now: datetime | None = None) -> Preview:
    """Reprice ``account``'s last ``months`` closed months under ``terms`` (see the module's text)."""
    invoices = closed_invoices(account=account, months=months, now=now)
    if not invoices:
        return Preview(account, account.currency, ())
    billed = _billed_groups(account=account, invoices=invoices, terms=terms)
    extra = _attempts_not_billed(account=account, invoices=invoices, terms=terms)
    applied = _notes_applied(invoices)
    prepaid = _prepaid(account=account, invoices=invoices)
    history = {inv.period: inv for inv in Invoice.objects.live().filter(account=account, period__in=billed.segments())}
    types = list(catalogue().values())
    defaults = tuple((code, price) for code, _, price in types)
    names = tuple((code, name) for code, name, _ in types)

    out: list[PreviewMonth] = []
    carry_in: dict[str, Carry] = {}  # the candidate's carry into each month of the window
    carry = Carry.from_dict(invoices[0].carry_in)
    for invoice in invoices:
        period = invoice.period
        carry_in[period] = carry
        late = tuple(
            LateBatch(
                period=seg,
                terms=terms,
                carry_in=carry_in[seg] if seg in carry_in else _carry_in(history.get(seg)),
                billed=billed.before(seg, period),
                late=groups,
            )
            for seg, groups in billed.late_on(period)
        )
        _, end = period_bounds(period, account.timezone)
        inp = PeriodInput(
            period=period,
            currency=account.currency,
            terms=terms,
            groups=_merge(billed.on(period, period), extra.get(period, ())),
            default_prices=defaults,
            type_names=names,
            carry_in=carry,
            late=late,
            credit_notes=applied.get(invoice.pk, ()),
            prepaid=prepaid.get(invoice.pk, ()),
            active=account_status_at(account_id=account.pk, at=end - timedelta(microseconds=1))
            == LifecycleStatus.ACTIVE,
            attainment=_attainment(account, invoice) if terms is not None and terms.guarantee is not None else None,
        )
        priced = price_period(inp)
        out.append(PreviewMonth(period, invoice.number or "", invoice.total, priced))
        carry = priced.carry_out
    return Preview(account, account.currency, tuple(out))


# --- What each invoice billed ---------------------------------------------------------------


@dataclass(frozen=True)
class _Billed:
    """Charges billed per (invoice period, segment): groups of outcomes as pricing reads them."""

    rows: dict[tuple[str, str], tuple[Group, ...]]

    def segments(self) -> set[str]:
        return {seg for _, seg in self.rows}

    def on(self, invoice_period: str, segment: str) -> tuple[Group, ...]:
        return self.rows.get((invoice_period, segment), ())

    def late_on(self, invoice_period: str) -> list[tuple[str, tuple[Group, ...]]]:
        """The earlier months whose outcomes the invoice of ``invoice_period`` billed late, oldest first."""
        return sorted((seg, g) for (p, seg), g in self.rows.items() if p == invoice_period and seg < p)

    def before(self, segment: str, invoice_period: str) -> tuple[Group, ...]:
        """What the invoices before ``invoice_period`` had billed of ``segment``'s outcomes."""
        groups: tuple[Group, ...] = ()
        for (p, seg), g in self.rows.items():
            if seg == segment and p < invoice_period:
                groups = _merge(groups, g)
        return groups


GROUPING_WORK_MEM = "64MB"  # for the grouping statement below only (SET LOCAL, in its own transaction)


def _billed_groups(*, account: Account, invoices: list[Invoice], terms: Terms | None) -> _Billed:
    """The charges on the lines of ``invoices`` — and, for the months they billed late outcomes of,
    on those months' earlier invoices — grouped by invoice, segment, type and complexity. Charges
    of a line still waiting to be stamped are read from its frozen event ids. One statement."""
    window = [inv.pk for inv in invoices]
    segments = set(
        InvoiceLine.objects.filter(invoice_id__in=window, alloc__isnull=False).values_list("alloc__segment", flat=True)
    )
    first = min([*segments, invoices[0].period])
    last = invoices[-1].period
    ids = list(
        Invoice.objects.filter(
            account=account,
            period__gte=first,
            period__lte=last,
            status__in=(InvoiceStatus.FINALIZED, InvoiceStatus.VOID),
        ).values_list("pk", flat=True)
    )
    since = period_bounds(first, account.timezone)[0]
    until = period_bounds(last, account.timezone)[1]
    codes = {code: pk for pk, (code, _, _) in catalogue().items()}
    attempts = attempt_type_ids(terms_by_segment={"": terms}, code_to_id=codes)
    params = {"account": account.pk, "ids": ids, "since": since, "until": until, "attempts": list(attempts)}
    gain = gain_sql({"": terms}, params)
    # Lines are stamped on their charges once final; until then their event ids wait in an array.
    sql = (
        "WITH billed AS ("
        "SELECT l.invoice_id, l.alloc->>'segment' AS seg, e.* FROM billing_charge e "
        "JOIN billing_invoiceline l ON l.id = e.invoice_line_id WHERE e.account_id = %(account)s "
        "AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s AND l.invoice_id = ANY(%(ids)s) "
        "UNION ALL SELECT p.invoice_id, l.alloc->>'segment', e.* FROM billing_invoiceeventspending p "
        "JOIN billing_invoiceline l ON l.id = p.line_id CROSS JOIN LATERAL unnest(p.event_ids) AS x(id) "
        "JOIN billing_charge e ON e.event_id = x.id AND e.invoice_line_id IS NULL WHERE p.invoice_id = ANY(%(ids)s)) "
        "SELECT i.period, e.seg, e.outcome_type_id, e.complexity, "
        "count(*) FILTER (WHERE NOT e.attempt), "
        "count(*) FILTER (WHERE e.attempt AND e.outcome_type_id = ANY(%(attempts)s)), "
        f"coalesce(sum({gain}) FILTER (WHERE NOT e.attempt), 0) "
        "FROM billed e JOIN billing_invoice i ON i.id = e.invoice_id GROUP BY 1, 2, 3, 4"
    )
    names = {pk: code for code, pk in codes.items()}
    acc: dict[tuple[str, str], list[Group]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # A year of a big account's charges is sorted or hashed by group: with the default work_mem
        # (4 MB) that sort spills to disk (~1 s of the ~2 s on 2M charges).
        cursor.execute(f"SET LOCAL work_mem = '{GROUPING_WORK_MEM}'")
        cursor.execute(sql, params)
        for period, seg, type_id, complexity, resolved, unresolved, amount in cursor.fetchall():
            if resolved or unresolved:
                group = Group(names[type_id], complexity or "", resolved, unresolved, Decimal(amount))
                acc.setdefault((period, seg), []).append(group)
    return _Billed({key: _merge((), tuple(groups)) for key, groups in acc.items()})


def _attempts_not_billed(
    *, account: Account, invoices: list[Invoice], terms: Terms | None
) -> dict[str, tuple[Group, ...]]:
    """Per month: the unsuccessful attempts of the types whose attempts the candidate charges and
    its invoice did not bill (no charge was made for them: their contract charged nothing) — counted
    from metering's daily rollup, at the type's default tier; one statement."""
    codes = {code: pk for pk, (code, _, _) in catalogue().items()}
    attempts = attempt_type_ids(terms_by_segment={"": terms}, code_to_id=codes)
    if not attempts:
        return {}
    names = {pk: code for code, pk in codes.items()}
    bounds = [period_days(inv.period) for inv in invoices]
    out: dict[str, list[Group]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.p, r.outcome_type_id, sum(r.events) FROM unnest(%(periods)s::text[], %(ids)s::bigint[], "
            "%(starts)s::date[], %(ends)s::date[]) AS k(p, i, s, e) JOIN metering_dailyrollup r "
            "ON r.account_id = %(account)s AND r.day >= k.s AND r.day < k.e "
            "WHERE r.status = 'non_billable' AND r.non_billable_reason = ANY(%(reasons)s) "
            "AND r.outcome_type_id = ANY(%(types)s) AND NOT EXISTS (SELECT 1 FROM billing_invoiceline l "
            "WHERE l.invoice_id = k.i AND l.outcome_type_id = r.outcome_type_id AND l.alloc->>'classes' LIKE '%%A%%') "
            "GROUP BY 1, 2",
            {
                "periods": [inv.period for inv in invoices],
                "ids": [inv.pk for inv in invoices],
                "starts": [b[0] for b in bounds],
                "ends": [b[1] for b in bounds],
                "account": account.pk,
                "reasons": list(ATTEMPT_REASONS),
                "types": list(attempts),
            },
        )
        for period, type_id, n in cursor.fetchall():
            if n:
                out.setdefault(period, []).append(Group(names[type_id], "", 0, int(n), Decimal(0)))
    return {period: _merge((), tuple(groups)) for period, groups in out.items()}


def _notes_applied(invoices: list[Invoice]) -> dict[int, tuple[CreditNoteIn, ...]]:
    """Per invoice: the credit notes it applied, each for the amount it applied, in number order."""
    lines = InvoiceLine.objects.filter(invoice__in=invoices, kind="credit_note", credit_note__isnull=False)
    numbers = dict(CreditNote.objects.filter(pk__in=lines.values("credit_note_id")).values_list("pk", "number"))
    out: dict[int, list[CreditNoteIn]] = {}
    for line in lines:
        note = line.credit_note_id
        out.setdefault(line.invoice_id, []).append(CreditNoteIn(note, numbers[note], -line.amount))
    return {pk: tuple(sorted(notes, key=lambda n: n.number)) for pk, notes in out.items()}


def _prepaid(*, account: Account, invoices: list[Invoice]) -> dict[int, tuple[PrepaidIn, ...]]:
    """Per invoice: its month's prepaid credit entries as they stood when it was finalized."""
    entries = CreditLedgerEntry.objects.filter(
        account=account, period__in=[inv.period for inv in invoices], kind__in=PREPAID_KINDS
    ).order_by("pk")
    out: dict[int, list[PrepaidIn]] = {}
    for invoice in invoices:
        for e in entries:
            if e.period == invoice.period and (invoice.finalized_at is None or e.created_at <= invoice.finalized_at):
                amount = e.amount if e.kind == CreditKind.TOPUP else None
                out.setdefault(invoice.pk, []).append(PrepaidIn(e.pk, e.kind, e.credits, amount, e.note))
    return {pk: tuple(v) for pk, v in out.items()}


def _attainment(account: Account, invoice: Invoice) -> tuple[Attainment, ...]:
    """The closed month's attainment a candidate's guarantee is checked with: the one the invoice
    recorded when it was finalized (its contract had a guarantee), else the month's as it stands."""
    if invoice.attainment is not None:
        return tuple(Attainment.from_dict(a) for a in invoice.attainment)
    return period_attainment(account_id=account.pk, period=invoice.period)


def _carry_in(invoice: Invoice | None) -> Carry:
    return Carry.from_dict(invoice.carry_in) if invoice is not None else Carry()


def _merge(a: tuple[Group, ...], b: tuple[Group, ...]) -> tuple[Group, ...]:
    """Two sets of groups as one, by (type, complexity), sorted as pricing expects."""
    acc: dict[tuple[str, str], list] = {}
    for g in (*a, *b):
        r, u, gain = acc.get((g.outcome_type, g.tier), (0, 0, Decimal(0)))
        acc[(g.outcome_type, g.tier)] = [r + g.resolved, u + g.unresolved, gain + g.gain]
    return tuple(Group(code, tier, r, u, gain) for (code, tier), (r, u, gain) in sorted(acc.items()))
