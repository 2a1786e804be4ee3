"""Read-side queries of invoicing: contracts in force, period aggregates, invoices, credit notes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Func, Q, QuerySet, Sum
from django.http import Http404

from accounts import refcache
from accounts.access import Principal
from accounts.models import Account
from billing.contracts import Terms, terms_load, version_for_period
from billing.invoices.models import (
    ContractVersion,
    CreditNote,
    Invoice,
    InvoiceEventsPending,
    InvoiceLine,
    InvoiceStatus,
)
from billing.invoices.selection import UNBILLED, LineLink, Selection, event_ids_for_links, segment_sql
from billing.ledger.models import Charge
from billing.ledger.selectors import attach_charges
from billing.pricing import Group
from billing.pricing.models import model_of
from billing.pricing.terms import ContractTerm
from metering.models import Event, OutcomeType
from outcomeportal.core.periods import period_add, period_bounds, period_first_day, period_of

LATE_LOOKBACK_MONTHS = 12  # how far back late-decided outcomes are looked for


# --- Contracts ----------------------------------------------------------------------------


def contract_versions(*, account: Account) -> list[ContractVersion]:
    return list(ContractVersion.objects.filter(account=account).order_by("-version"))


def contract_for_period(
    *, account_id: int, period: str, versions: list[ContractVersion] | None = None
) -> tuple[ContractVersion | None, Terms | None]:
    if versions is None:
        versions = list(ContractVersion.objects.filter(account_id=account_id))
    version = version_for_period([(v.effective_from, v.version, v) for v in versions], period)
    return (version, terms_load(version.terms)) if version else (None, None)


def contract_term_latest(*, account_id: int, versions: list[ContractVersion] | None = None) -> ContractTerm | None:
    """The contract's term as last agreed: the latest version's, whatever its effective date (a notice
    of non-renewal saved today counts today, though prices change only from the version's date).
    ``versions``: the account's versions, if the caller read them already."""
    if versions is not None:
        document = max(versions, key=lambda v: v.version).terms if versions else None
    else:
        latest = ContractVersion.objects.filter(account_id=account_id).order_by("-version")
        document = latest.values_list("terms", flat=True).first()
    return terms_load(document).term if document else None


# --- Aggregates (SQL GROUP BY: never a loop over events) ------------------------------------


def catalogue() -> dict[int, tuple[str, str, Decimal]]:
    """Every outcome type: id → (code, name, catalogue price). Kept in the process until the
    catalogue (or any reference data) changes (accounts.refcache)."""
    kept = refcache.cache("billing.charges.catalogue")
    if not kept:
        rows = OutcomeType.objects.values_list("pk", "code", "name", "unit_price")
        kept.update({pk: (code, name, price) for pk, code, name, price in rows})
    return kept


def _codes() -> dict[int, str]:
    return {pk: entry[0] for pk, entry in catalogue().items()}


def attempt_type_ids(*, terms_by_segment: dict[str, Terms | None], code_to_id: dict[str, int]) -> set[int]:
    """Outcome types whose unresolved attempts the contract charges for: helpdesk ticket fees, and
    every type but gain-share under a per-conversation basis."""
    attempts: set[int] = set()
    for terms in terms_by_segment.values():
        if terms is None:
            continue
        for p in terms.prices:
            type_id = code_to_id.get(p.outcome_type)
            if type_id is not None and model_of(p).counts_attempts(terms):
                attempts.add(type_id)
        if terms.basis == "per_conversation":
            listed = {code_to_id.get(p.outcome_type) for p in terms.prices}
            attempts |= {pk for pk in code_to_id.values() if pk not in listed}
    return attempts


def selection_for(
    *, account: Account, segments: list[str], until: datetime, terms_by_segment: dict[str, Terms | None]
) -> Selection:
    """Which charges an invoice of ``account`` may bill, and how they group (see billing.invoices.selection)."""
    code_to_id = {code: pk for pk, code in _codes().items()}
    complexity: dict[int, str] = {}
    for terms in terms_by_segment.values():
        for p in terms.prices if terms else ():
            type_id = code_to_id.get(p.outcome_type)
            if type_id is not None and model_of(p).tiered:
                complexity[type_id] = p.default_tier
    attempts = attempt_type_ids(terms_by_segment=terms_by_segment, code_to_id=code_to_id)
    since = min(period_bounds(s, account.timezone)[0] for s in segments)
    return Selection(
        account_id=account.pk,
        timezone=account.timezone,
        occurred_from=since,
        occurred_to=until,
        segments=tuple(sorted(segments)),
        complexity_types=complexity,
        attempt_types=tuple(sorted(attempts)),
    )


def gain_sql(terms_by_segment: dict[str, Terms | None], params: dict) -> str:
    """Each charge's gain-share amount (6 places, as it is stamped), NULL for other types."""
    code_to_id = {code: pk for pk, code in _codes().items()}
    parts = []
    for terms in terms_by_segment.values():
        for p in terms.prices if terms else ():
            if model_of(p).per_event_share and p.outcome_type in code_to_id:
                n = len(parts)
                params[f"gt{n}"], params[f"gp{n}"], params[f"gb{n}"] = code_to_id[p.outcome_type], p.percent, p.baseline
                parts.append(
                    f"WHEN %(gt{n})s THEN round(%(gp{n})s::numeric / 100 * "
                    f"greatest(coalesce(e.value_amount, 0) - %(gb{n})s::numeric, 0), 6)"
                )
    return f"CASE e.outcome_type_id {' '.join(parts)} ELSE NULL END" if parts else "NULL::numeric"


def period_groups(
    *, selection: Selection, terms_by_segment: dict[str, Terms | None], billed: bool = False
) -> dict[str, tuple[Group, ...]]:
    """Per segment (period), the counted charges grouped by outcome type and complexity.

    ``billed=False``: charges not yet on an invoice line (what an invoice may still bill);
    ``billed=True``: charges already billed (what a finalized period's invoices hold).
    """
    params: dict = {
        "account": selection.account_id,
        "tz": selection.timezone,
        "since": selection.occurred_from,
        "until": selection.occurred_to,
        "attempt_types": list(selection.attempt_types),
    }
    gain = gain_sql(terms_by_segment, params)
    where = "e.invoice_line_id IS NOT NULL" if billed else UNBILLED
    resolved = "NOT e.attempt"
    sql = (
        "SELECT seg, outcome_type_id, complexity, count(*) FILTER (WHERE res), count(*) FILTER (WHERE NOT res), "
        "coalesce(sum(gain) FILTER (WHERE res), 0) "
        f"FROM (SELECT {segment_sql(selection, params)} AS seg, e.outcome_type_id, "
        f"e.complexity, {resolved} AS res, {gain} AS gain "
        "FROM billing_charge e WHERE e.account_id = %(account)s AND e.occurred_at >= %(since)s "
        f"AND e.occurred_at < %(until)s AND {where}) x "
        "WHERE seg IS NOT NULL GROUP BY 1, 2, 3"
    )
    types = _codes()
    out: dict[str, list[Group]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of groups, hashed. PostgreSQL costs hashing and sorting a month of the account's
        # charges alike (the index scan is most of both estimates, within its 1 % fuzz) and keeps the
        # sort, whose output is ordered: a sort spilled to disk, twice the hash's time for 200,000
        # charges (bench/README.md, session 15). Only for this statement: the setting is restored.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.execute("SET LOCAL enable_sort TO DEFAULT")
        for seg, type_id, complexity, res, unres, gain in rows:
            out.setdefault(seg, []).append(Group(types[type_id], complexity or "", res, unres, Decimal(gain)))
    return {seg: tuple(sorted(groups, key=lambda g: (g.outcome_type, g.tier))) for seg, groups in out.items()}


def late_segments(*, account: Account, period: str) -> list[str]:
    """Earlier periods whose invoice is final but which still have rated outcomes not on a line.

    Read from the charge rollup (a few rows per day), not from charges: a ``rated`` charge of a
    finalized period is one whose outcome settled after its invoice was built. Until a final
    invoice's charges are stamped with their lines, its own outcomes would look late: such an
    invoice is left out. So is a voided invoice that was reissued (its period's charges belong to
    the replacement), and a period whose late outcomes an earlier open draft will bill (a voided
    invoice's replacement, a month the catch-up has not reached): the first invoice after them
    bills them. One statement (every screen's figure asks it).
    """
    first = period_first_day(period)
    floor = period_first_day(period_add(period, -LATE_LOOKBACK_MONTHS))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.period FROM billing_invoice i WHERE i.account_id = %(a)s AND i.status IN ('finalized', 'void') "
            "AND i.period >= %(floor_p)s AND i.period < %(first_p)s "
            "AND NOT EXISTS (SELECT 1 FROM billing_invoiceeventspending p WHERE p.invoice_id = i.id) "
            "AND NOT EXISTS (SELECT 1 FROM billing_invoice r WHERE r.replaces_id = i.id) "
            "AND NOT EXISTS (SELECT 1 FROM billing_invoice d WHERE d.account_id = %(a)s AND d.status = 'draft' "
            "AND d.period > i.period AND d.period < %(period)s) "
            "AND EXISTS (SELECT 1 FROM billing_chargerollup r WHERE r.account_id = %(a)s AND r.state = 'rated' "
            "AND NOT r.attempt AND r.reason IN ('', 'included') "
            "AND r.charges > 0 AND r.day >= to_date(i.period, 'YYYY-MM') "
            "AND r.day < to_date(i.period, 'YYYY-MM') + interval '1 month' "
            "AND r.day >= %(floor)s AND r.day < %(first)s) "
            "ORDER BY i.period",
            {
                "a": account.pk,
                "floor": floor,
                "first": first,
                "floor_p": period_of(floor),
                "first_p": period_of(first),
                "period": period,
            },
        )
        return [p for (p,) in cursor.fetchall()]


def credit_notes_open(*, account: Account, exclude_invoice_id: int | None = None) -> list[tuple[CreditNote, Decimal]]:
    """Credit notes with money left to apply, oldest first: (note, remaining). One statement."""
    notes = CreditNote.objects.raw(
        "SELECT n.*, n.amount + coalesce((SELECT sum(l.amount) FROM billing_invoiceline l "
        "JOIN billing_invoice i ON i.id = l.invoice_id WHERE l.credit_note_id = n.id AND i.status = 'finalized' "
        "AND i.id IS DISTINCT FROM %s), 0) AS remaining "  # applied lines are negative
        "FROM billing_creditnote n WHERE n.account_id = %s ORDER BY n.number",
        [exclude_invoice_id, account.pk],
    )
    return [(note, note.remaining) for note in notes if note.remaining > 0]


# --- Invoices and credit notes, scoped to the principal ------------------------------------


def invoices_for_principal(*, principal: Principal) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("account")
    return qs if principal.is_vendor else qs.filter(account_id=principal.account_id)


def invoice_get_for_principal(*, principal: Principal, invoice_id: int) -> Invoice:
    """One invoice, or 404 when it does not exist *or* is another account's — the same answer."""
    invoice = invoices_for_principal(principal=principal).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def invoice_line_get(*, invoice: Invoice, line_id: int) -> InvoiceLine:
    line = invoice.lines.filter(pk=line_id).select_related("outcome_type").first()
    if line is None:
        raise Http404("No such invoice line.")
    return line


def invoice_list(
    *, principal: Principal, account: Account | None = None, period: str | None = None, limit: int = 500
) -> list[Invoice]:
    qs = invoices_for_principal(principal=principal)
    if account is not None:
        qs = qs.filter(account=account)
    if period:
        qs = qs.filter(period=period)
    return list(qs.order_by("-period", "account__external_id", "-pk")[:limit])  # a reissue before the void one


def credit_notes_for_principal(*, principal: Principal) -> QuerySet[CreditNote]:
    qs = CreditNote.objects.select_related("account")
    return qs if principal.is_vendor else qs.filter(account_id=principal.account_id)


def credit_note_event_ids(*, notes: list[CreditNote]) -> dict[int, list[str]]:
    """The events each credit note credits, by the platform's ``event_id`` (the note keeps row ids,
    which mean nothing outside this database), in the note's order. One query for all the notes."""
    pks = {pk for note in notes for pk in note.event_ids}
    names = dict(Event.objects.filter(pk__in=pks).values_list("pk", "event_id")) if pks else {}
    return {note.pk: [names[pk] for pk in note.event_ids if pk in names] for note in notes}


def invoice_events_pending(*, invoice: Invoice) -> int:
    """How many events of a final invoice are frozen on its lines, waiting to be stamped (0: none)."""
    rows = InvoiceEventsPending.objects.filter(invoice=invoice)
    return rows.aggregate(n=Sum(Func(F("event_ids"), function="cardinality")))["n"] or 0


def billed_charges(*, account_id: int, line_ids: list[int]) -> QuerySet[Charge]:
    """The charges billed on lines of a final invoice: stamped with the line or, until the
    stamping step has run, named by the arrays frozen when the invoice was finalized."""
    frozen = InvoiceEventsPending.objects.filter(account_id=account_id, line_id__in=line_ids)
    if frozen.exists():
        ids = frozen.annotate(event_id=Func(F("event_ids"), function="unnest")).values("event_id")
        return Charge.objects.filter(account_id=account_id, event_id__in=ids)
    return Charge.objects.filter(account_id=account_id, invoice_line_id__in=line_ids)


def line_events(
    *, invoice: Invoice, line: InvoiceLine, before: tuple[datetime, int] | None = None, limit: int = 100
) -> list:
    """A keyset page (newest first) of the exact events behind a line.

    Final invoices: the events whose charges are billed on the line — for a ticket-fee line,
    every ticket, resolved or not. Drafts: the events the line would bill if finalized now.
    """
    alloc = line.alloc
    if not alloc:
        return []
    account = invoice.account
    seg_start, seg_end = period_bounds(alloc["segment"], account.timezone)
    related = ("account", "outcome_type", "criteria", "criteria__outcome_type", "criteria__account")
    if invoice.status != InvoiceStatus.DRAFT:
        ids = [line.pk]
        if alloc.get("show", alloc["classes"]) != alloc["classes"]:
            ids = [
                other.pk
                for other in invoice.lines.all()
                if other.alloc
                and (other.alloc["segment"], other.alloc["outcome_type"]) == (alloc["segment"], alloc["outcome_type"])
            ]
        qs = billed_charges(account_id=account.pk, line_ids=ids).filter(
            occurred_at__gte=seg_start, occurred_at__lt=seg_end
        )
        if before is not None:
            at, pk = before
            qs = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, event_id__lt=pk))
        page = list(qs.order_by("-occurred_at", "-event_id").values_list("event_id", flat=True)[:limit])
        return attach_charges(
            list(Event.objects.filter(pk__in=page).select_related(*related).order_by("-occurred_at", "-id"))
        )
    versions = list(ContractVersion.objects.filter(account=account))
    terms = {
        alloc["segment"]: contract_for_period(account_id=account.pk, period=alloc["segment"], versions=versions)[1]
    }
    selection = selection_for(account=account, segments=[alloc["segment"]], until=seg_end, terms_by_segment=terms)
    type_id = OutcomeType.objects.filter(code=alloc["outcome_type"]).values_list("pk", flat=True).first()
    siblings = [
        o.alloc for o in invoice.lines.all() if o.alloc and o.pk != line.pk
        and (o.alloc["segment"], o.alloc["outcome_type"]) == (alloc["segment"], alloc["outcome_type"])
    ]  # fmt: skip
    ranked = any(
        (s["tier"] in ("", alloc["tier"]) or alloc["tier"] == "") and set(s["classes"]) & set(alloc["classes"])
        for s in siblings
    )
    link = LineLink(
        line_id=line.pk,
        segment=alloc["segment"],
        outcome_type_id=type_id,
        tier=alloc["tier"],
        classes=alloc.get("show") or alloc["classes"],
        rank_from=alloc["rank_from"] if ranked else None,
        rank_to=(alloc["rank_to"] or 2**62) if ranked else None,
    )
    ids = event_ids_for_links(selection=selection, links=[link], before=before, limit=limit)
    return attach_charges(
        list(Event.objects.filter(pk__in=ids).select_related(*related).order_by("-occurred_at", "-id"))
    )
