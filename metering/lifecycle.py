"""Lifecycle moves of events after their decision: billed on an invoice line.

Metering owns events; billing decides *which* events an invoice line bills and calls these
functions (apps stay one-way: billing → metering). Everything here is set-based SQL — one
statement for a whole invoice, whatever its number of events.

Which events a billing selection sees, per account and period ("segment"):

* *resolved* (class ``R``): decided ``billable`` and not yet on a line;
* *unresolved attempts* (class ``A``): ``non_billable`` for one of ``attempt_reasons``, for the
  outcome types that count attempts (per-conversation contracts, helpdesk ticket fees).

Within (segment, outcome type, tier) events are ranked in occurrence order — ``(occurred_at,
id)`` — so that "the first 1,000 are included" or "outcomes 1,001–5,000 of the month" name
exact events, the same ones on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection


@dataclass(frozen=True, slots=True)
class Selection:
    """The events of one account that an invoice may bill, and how they group and rank."""

    account_id: int
    timezone: str  # the account's: segments are its local months
    occurred_from: datetime
    occurred_to: datetime
    segments: tuple[str, ...]  # YYYY-MM periods whose events are eligible
    # Outcome types priced by complexity: type id -> the tier of an event that reports none.
    complexity_types: dict[int, str] = field(default_factory=dict)
    attempt_types: tuple[int, ...] = ()  # types whose unresolved attempts count
    attempt_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LineLink:
    """Events one invoice line bills, and what each of them is charged."""

    line_id: int
    segment: str
    outcome_type_id: int
    tier: str  # "" = every tier
    classes: str  # "R", "A" or "RA"
    rank_from: int | None = None  # None: no rank restriction
    rank_to: int | None = None
    amount: Decimal | None = None  # each event's amount (6 places) …
    credits: Decimal | None = None
    gain_share: tuple[Decimal, Decimal] | None = None  # … or (percent, baseline) of its value_amount


_CLASS = "CASE WHEN e.status = 'non_billable' THEN 'A' ELSE 'R' END"


def _tier_sql(sel: Selection, params: dict) -> str:
    if not sel.complexity_types:
        return "''"
    parts = []
    for n, (type_id, default) in enumerate(sorted(sel.complexity_types.items())):
        params[f"ct{n}"], params[f"cd{n}"] = type_id, default
        parts.append(
            f"WHEN %(ct{n})s THEN CASE WHEN e.complexity IN ('simple', 'moderate', 'complex') "
            f"THEN e.complexity ELSE %(cd{n})s END"
        )
    return f"CASE e.outcome_type_id {' '.join(parts)} ELSE '' END"


def _selected_sql(sel: Selection, *, ranked: bool, params: dict) -> str:
    """The eligible, not-yet-billed events with their segment, tier, class (and rank)."""
    params.update(
        account=sel.account_id,
        tz=sel.timezone,
        since=sel.occurred_from,
        until=sel.occurred_to,
        segments=list(sel.segments),
        attempt_types=list(sel.attempt_types),
        attempt_reasons=list(sel.attempt_reasons),
    )
    rank = "row_number() OVER (PARTITION BY s.seg, s.t, s.tier ORDER BY s.occurred_at, s.id)" if ranked else "0"
    return (
        "SELECT s.*, " + rank + " AS rn FROM ("
        "SELECT e.id, e.occurred_at, e.outcome_type_id AS t, e.value_amount, "
        "to_char(e.occurred_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS seg, "
        f"{_tier_sql(sel, params)} AS tier, {_CLASS} AS cls "
        "FROM metering_event e WHERE e.account_id = %(account)s "
        "AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s AND e.invoice_line_id IS NULL "
        "AND (e.status = 'billable' OR (e.status = 'non_billable' AND e.outcome_type_id = ANY(%(attempt_types)s) "
        "AND e.non_billable_reason = ANY(%(attempt_reasons)s)))"
        ") s WHERE s.seg = ANY(%(segments)s)"
    )


def _links_sql(links: Sequence[LineLink], params: dict) -> str:
    params.update(
        l_id=[lk.line_id for lk in links],
        l_seg=[lk.segment for lk in links],
        l_t=[lk.outcome_type_id for lk in links],
        l_tier=[lk.tier for lk in links],
        l_cls=[lk.classes for lk in links],
        l_from=[lk.rank_from for lk in links],
        l_to=[lk.rank_to for lk in links],
        l_amount=[lk.amount for lk in links],
        l_credits=[lk.credits for lk in links],
        l_gs_pct=[lk.gain_share[0] if lk.gain_share else None for lk in links],
        l_gs_base=[lk.gain_share[1] if lk.gain_share else None for lk in links],
    )
    return (
        "SELECT * FROM unnest(%(l_id)s::bigint[], %(l_seg)s::text[], %(l_t)s::bigint[], %(l_tier)s::text[], "
        "%(l_cls)s::text[], %(l_from)s::bigint[], %(l_to)s::bigint[], %(l_amount)s::numeric[], "
        "%(l_credits)s::numeric[], %(l_gs_pct)s::numeric[], %(l_gs_base)s::numeric[]) "
        "AS l(line_id, seg, t, tier, cls, rank_from, rank_to, amount, credits, gs_pct, gs_base)"
    )


_MATCH = (
    "s.seg = l.seg AND s.t = l.t AND (l.tier = '' OR s.tier = l.tier) AND strpos(l.cls, s.cls) > 0 "
    "AND (l.rank_from IS NULL OR s.rn BETWEEN l.rank_from AND l.rank_to)"
)


def events_invoice(*, selection: Selection, links: Sequence[LineLink]) -> int:
    """Bill events on their lines in one UPDATE: set ``invoice_line_id`` and the event's amount
    (and credits); resolved outcomes move ``billable`` → ``invoiced``. Unresolved attempts billed
    per conversation keep their ``non_billable`` decision (it says why they did not resolve).

    Only events not yet on a line are touched, so a rerun after a crash bills each event once.
    Returns the number of events billed.
    """
    if not links:
        return 0
    params: dict = {}
    ranked = any(lk.rank_from is not None for lk in links)
    sql = (
        f"WITH s AS ({_selected_sql(selection, ranked=ranked, params=params)}), "
        f"l AS ({_links_sql(links, params)}) "
        "UPDATE metering_event e SET invoice_line_id = m.line_id, "
        "status = CASE WHEN e.status = 'billable' THEN 'invoiced' ELSE e.status END, "
        "amount = m.amount, credits = m.credits "
        "FROM (SELECT s.id, l.line_id, l.credits, CASE WHEN l.gs_pct IS NULL THEN l.amount ELSE "
        "round(l.gs_pct / 100 * greatest(coalesce(s.value_amount, 0) - l.gs_base, 0), 6) END AS amount "
        f"FROM s JOIN l ON {_MATCH}) m WHERE e.id = m.id AND e.invoice_line_id IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def event_ids_for_links(
    *,
    selection: Selection,
    links: Sequence[LineLink],
    before: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> list[int]:
    """A keyset page (newest first) of the not-yet-billed events that ``links`` would bill:
    what a draft invoice line's drill-down shows."""
    params: dict = {"limit": limit}
    ranked = any(lk.rank_from is not None for lk in links)
    keyset = ""
    if before is not None:
        params["b_at"], params["b_id"] = before
        keyset = "AND (s.occurred_at, s.id) < (%(b_at)s, %(b_id)s) "
    sql = (
        f"WITH s AS ({_selected_sql(selection, ranked=ranked, params=params)}), "
        f"l AS ({_links_sql(links, params)}) "
        f"SELECT DISTINCT s.id, s.occurred_at FROM s JOIN l ON {_MATCH} {keyset}"
        "ORDER BY s.occurred_at DESC, s.id DESC LIMIT %(limit)s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# --- Which invoice an event is on --------------------------------------------------------------
# Billing owns invoices; it registers a lookup (line id -> invoice id) at start-up so metering
# can show an event's invoice without importing billing. Lines of final invoices never change,
# so the answer for a line never changes either.
_invoice_of_line: Callable[[int], int | None] | None = None


def invoice_lookup_register(lookup: Callable[[int], int | None]) -> None:
    global _invoice_of_line
    _invoice_of_line = lookup


def invoice_id_of_line(line_id: int | None) -> int | None:
    if line_id is None or _invoice_of_line is None:
        return None
    return _invoice_of_line(line_id)
