"""Lifecycle moves of events after their decision: billed on an invoice line.

Metering owns events; billing decides *which* events an invoice line bills and calls these
functions (apps stay one-way: billing → metering). Everything here is set-based SQL — one
statement for a whole invoice, whatever its number of events.

Billing an invoice's events is two steps: at finalization, :func:`events_freeze_sql` names
them (an id array per line, stored by billing in the finalizing transaction); afterwards,
:func:`events_invoice_listed` stamps each event with its line and amount.

Which events a billing selection sees, per account and period ("segment"):

* *resolved* (class ``R``): decided ``billable`` and not yet on a line;
* *unresolved attempts* (class ``A``): ``non_billable`` for one of ``attempt_reasons``, for the
  outcome types that count attempts (per-conversation contracts, helpdesk ticket fees).

Within (segment, outcome type, tier) events are ranked in occurrence order — ``(occurred_at,
id)`` — so that "the first 1,000 are included" or "outcomes 1,001–5,000 of the month" name
exact events, the same ones on every run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.db import connection

from metering import engine
from metering.fields import checks_encode
from metering.models import Event
from metering.selectors import event_facts, rules_from_criteria, signal_facts


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
        "SELECT e.id, e.ctid AS row_ctid, e.occurred_at, e.outcome_type_id AS t, e.value_amount, "
        "to_char(e.occurred_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS seg, "
        f"{_tier_sql(sel, params)} AS tier, {_CLASS} AS cls "
        "FROM metering_event e WHERE e.account_id = %(account)s "
        "AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s AND e.invoice_line_id IS NULL "
        "AND (e.status = 'billable' OR (e.status = 'non_billable' AND e.outcome_type_id = ANY(%(attempt_types)s) "
        "AND e.non_billable_reason = ANY(%(attempt_reasons)s) AND NOT e.state ? 'cap_reached'))"
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


_TIERS = ("simple", "moderate", "complex")


Sizes = Mapping[tuple[str, int, str], int]  # (segment, type id, tier) -> events in the partition


def _rank_key(selection: Selection, *, segment: str, type_id: int, tier: str, rank: int, size: int | None):
    """``(occurred_at, id)`` of the event at ``rank`` (1-based) in its (segment, type, tier)
    partition, in occurrence order; None if the partition has fewer events.

    Walks the account's ``(occurred_at, id)`` index and stops there — from the end when the rank
    is nearer to it and the partition's ``size`` is known: a millisecond for the ranks contracts
    name (included outcomes, band edges), where ranking every event of the month sorts it all.
    The conditions are spelled on plain columns (the segment as a time range) so the planner
    sees how many events match and takes that walk."""
    if size is not None and rank > size:
        return None
    backward = size is not None and rank > size // 2
    params = {
        "account": selection.account_id,
        "tz": selection.timezone,
        "seg_start": f"{segment}-01",
        "since": selection.occurred_from,
        "until": selection.occurred_to,
        "t": type_id,
        "attempt_types": list(selection.attempt_types),
        "attempt_reasons": list(selection.attempt_reasons),
        "offset": size - rank if backward else rank - 1,
    }
    tier_sql = ""
    if type_id in selection.complexity_types:  # the tier, as _tier_sql derives it
        params["tier"] = tier
        unreported = "e.complexity NOT IN ('simple', 'moderate', 'complex')"
        is_default = selection.complexity_types[type_id] == tier
        tier_sql = f"AND (e.complexity = %(tier)s OR {unreported})" if is_default else "AND e.complexity = %(tier)s"
    order = "e.occurred_at DESC, e.id DESC" if backward else "e.occurred_at, e.id"
    sql = (
        "SELECT e.occurred_at, e.id FROM metering_event e WHERE e.account_id = %(account)s "
        "AND e.occurred_at >= %(seg_start)s::timestamp AT TIME ZONE %(tz)s "
        "AND e.occurred_at < (%(seg_start)s::timestamp + interval '1 month') AT TIME ZONE %(tz)s "
        "AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s "
        "AND e.outcome_type_id = %(t)s AND e.invoice_line_id IS NULL "
        "AND (e.status = 'billable' OR (e.status = 'non_billable' AND e.outcome_type_id = ANY(%(attempt_types)s) "
        f"AND e.non_billable_reason = ANY(%(attempt_reasons)s))) {tier_sql} "
        f"ORDER BY {order} OFFSET %(offset)s LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _bounded(
    selection: Selection, links: Sequence[LineLink], sizes: Sizes | None
) -> list[tuple[LineLink, tuple | None, tuple | None]]:
    """Each link with the occurrence keys that bound its rank range: (link, after, up_to) — the
    line bills the events of its partition with ``after < (occurred_at, id) <= up_to`` (None: open).
    A ranked link over every tier of a complexity-priced type is ranked per tier, as the window is.
    ``sizes``, when given, must be the partitions' sizes in the same snapshot."""
    out, keys = [], {}

    def key(segment: str, type_id: int, tier: str, rank: int):
        size = None if sizes is None else sizes.get((segment, type_id, tier), 0)
        if (segment, type_id, tier, rank) not in keys:  # a band's end is the next band's start
            keys[segment, type_id, tier, rank] = _rank_key(
                selection, segment=segment, type_id=type_id, tier=tier, rank=rank, size=size
            )
        return keys[segment, type_id, tier, rank]

    for link in links:
        if link.rank_from is None:
            out.append((link, None, None))
            continue
        tiers = [link.tier]
        if link.tier == "" and link.outcome_type_id in selection.complexity_types:
            tiers = list(_TIERS)
        for tier in tiers:
            after = None
            if link.rank_from > 1:
                after = key(link.segment, link.outcome_type_id, tier, link.rank_from - 1)
                if after is None:
                    continue  # the partition ends before the range starts: nothing to bill
            up_to = key(link.segment, link.outcome_type_id, tier, link.rank_to) if link.rank_to < 2**62 else None
            out.append((replace(link, tier=tier), after, up_to))
    return out


def events_freeze_sql(
    *, selection: Selection, links: Sequence[LineLink], sizes: Sizes | None = None
) -> tuple[str, dict]:
    """A query of ``(line_id, event_ids bigint[])``: the events each line bills *now* — ranked
    and matched as the lines say, frozen as one id array per line.

    Finalizing an invoice stores these arrays in the same transaction that prices it (a few
    compact rows instead of a million row rewrites); :func:`events_invoice_listed` stamps the
    events afterwards. The arrays, not a second look at the events, say what the invoice billed:
    an outcome settled in between is a late one and stays off the invoice.

    Rank ranges become occurrence-key bounds first (:func:`_bounded`), so the query is one
    filtered scan with no sort of the month's events.
    """
    bounded = [(lk, a, u) for lk, a, u in _bounded(selection, links, sizes) if lk.segment in selection.segments]
    params: dict = {
        "account": selection.account_id,
        "tz": selection.timezone,
        "since": selection.occurred_from,
        "until": selection.occurred_to,
        "attempt_types": list(selection.attempt_types),
        "attempt_reasons": list(selection.attempt_reasons),
        "b_line": [lk.line_id for lk, _, _ in bounded],
        "b_seg": [f"{lk.segment}-01" for lk, _, _ in bounded],
        "b_t": [lk.outcome_type_id for lk, _, _ in bounded],
        "b_tier": [lk.tier for lk, _, _ in bounded],
        "b_cls": [lk.classes for lk, _, _ in bounded],
        "b_after_at": [a[0] if a else None for _, a, _ in bounded],
        "b_after_id": [a[1] if a else None for _, a, _ in bounded],
        "b_upto_at": [u[0] if u else None for _, _, u in bounded],
        "b_upto_id": [u[1] if u else None for _, _, u in bounded],
    }
    # Each line's segment as a time range in the account's zone (no per-event to_char), its
    # type, tier, classes and occurrence-key bounds: one hash join per event, no sort.
    sql = (
        "WITH b AS (SELECT line_id, t, tier, cls, after_at, after_id, upto_at, upto_id, "
        "seg::timestamp AT TIME ZONE %(tz)s AS seg_from, (seg::timestamp + interval '1 month') AT TIME ZONE %(tz)s "
        "AS seg_to FROM unnest(%(b_line)s::bigint[], %(b_seg)s::text[], %(b_t)s::bigint[], %(b_tier)s::text[], "
        "%(b_cls)s::text[], %(b_after_at)s::timestamptz[], %(b_after_id)s::bigint[], %(b_upto_at)s::timestamptz[], "
        "%(b_upto_id)s::bigint[]) AS b(line_id, seg, t, tier, cls, after_at, after_id, upto_at, upto_id)) "
        "SELECT b.line_id, array_agg(e.id) FROM metering_event e JOIN b ON e.outcome_type_id = b.t "
        "AND e.occurred_at >= b.seg_from AND e.occurred_at < b.seg_to "
        f"AND (b.tier = '' OR {_tier_sql(selection, params)} = b.tier) AND strpos(b.cls, {_CLASS}) > 0 "
        "AND (b.after_at IS NULL OR (e.occurred_at, e.id) > (b.after_at, b.after_id)) "
        "AND (b.upto_at IS NULL OR (e.occurred_at, e.id) <= (b.upto_at, b.upto_id)) "
        "WHERE e.account_id = %(account)s AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s "
        "AND e.invoice_line_id IS NULL AND (e.status = 'billable' OR (e.status = 'non_billable' "
        "AND e.outcome_type_id = ANY(%(attempt_types)s) AND e.non_billable_reason = ANY(%(attempt_reasons)s))) "
        "GROUP BY b.line_id"
    )
    return sql, params


def events_invoice_listed(*, links: Sequence[LineLink], pairs_sql: str, pairs_params: dict) -> int:
    """Bill listed events on their lines: ``pairs_sql`` selects ``(line_id, event_id)`` pairs (the
    arrays frozen by :func:`events_freeze_sql`): set the line, the event's amount (a gain-share
    line: its share of the event's value) and credits; ``billable`` → ``invoiced``; unresolved
    attempts billed per conversation keep their ``non_billable`` decision. Only events not yet on
    a line are touched, so a rerun bills nothing twice. Returns the number of events stamped.
    """
    if not links:
        return 0
    params: dict = dict(pairs_params)
    sql = (
        f"WITH l AS ({_links_sql(links, params)}), p AS ({pairs_sql}) "
        "UPDATE metering_event e SET invoice_line_id = l.line_id, "
        "status = CASE WHEN e.status = 'billable' THEN 'invoiced' ELSE e.status END, "
        "amount = CASE WHEN l.gs_pct IS NULL THEN l.amount ELSE "
        "round(l.gs_pct / 100 * greatest(coalesce(e.value_amount, 0) - l.gs_base, 0), 6) END, "
        "credits = l.credits "
        "FROM p JOIN l ON l.line_id = p.line_id WHERE e.id = p.event_id AND e.invoice_line_id IS NULL"
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


# --- Disputes: an invoiced charge contested, then credited or confirmed ------------------------
# Disputes decides *which* events move (disputes → metering, one way); the moves live here, where
# events are owned. Each is a conditional UPDATE: an event that is no longer in the expected state
# is left alone, so a rerun (or a race with invoicing) never moves an event twice.
#
#   invoiced ──file──▶ disputed ──reject──▶ invoiced
#   invoiced | disputed ──credit (credit note)──▶ credited   (stays on its final invoice line)
#   billable, not on a line ──credit (open period)──▶ non_billable, reason dispute_credited


def _ids_update(sql: str, event_ids, params: dict | None = None) -> list[int]:
    ids = sorted({int(i) for i in event_ids})
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, **(params or {})})
        return sorted(row[0] for row in cursor.fetchall())


def events_dispute_open(*, event_ids) -> list[int]:
    """Invoiced events under an open dispute: ``invoiced`` → ``disputed``. Returns the ids moved.

    Events not yet on an invoice keep ``billable``: they stay on the draft (still charged) until
    the dispute is resolved, because invoicing bills only ``billable`` events.
    """
    return _ids_update(
        "UPDATE metering_event SET status = 'disputed' WHERE id = ANY(%(ids)s) AND status = 'invoiced' "
        "AND invoice_line_id IS NOT NULL RETURNING id",
        event_ids,
    )


def events_dispute_close(*, event_ids) -> list[int]:
    """A rejected dispute: ``disputed`` → ``invoiced`` (the charge stands). Returns the ids moved."""
    return _ids_update(
        "UPDATE metering_event SET status = 'invoiced' WHERE id = ANY(%(ids)s) AND status = 'disputed' RETURNING id",
        event_ids,
    )


def events_credit_invoiced(*, event_ids) -> list[int]:
    """Events on a finalized invoice credited by a credit note: → ``credited``.

    They keep their invoice line and amount (the final invoice never changes; the credit note
    gives the money back). The decision itself is not touched, so replay still agrees.
    """
    return _ids_update(
        "UPDATE metering_event SET status = 'credited' WHERE id = ANY(%(ids)s) "
        "AND status IN ('invoiced', 'disputed') AND invoice_line_id IS NOT NULL RETURNING id",
        event_ids,
    )


def events_credit_unbilled(*, event_ids, now: datetime) -> list[int]:
    """Billable events not yet on an invoice, credited after a dispute: decided again by the engine
    with ``AccountState.dispute_credited`` → ``non_billable`` / ``dispute_credited``.

    The event leaves the draft invoice (invoicing bills only ``billable`` events), its spend
    reservation is released by the rollup, and its session claim is freed. The new state is
    stored with the decision, so ``replay_decisions`` reproduces it. Returns the ids moved.
    """
    events = (
        Event.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted({int(i) for i in event_ids}), status="billable", invoice_line_id__isnull=True)
        .select_related("criteria", "criteria__outcome_type", "criteria__account")
        .prefetch_related("signals")
        .order_by("pk")
    )
    rows: list[tuple[int, str, str, str]] = []
    for event in events:
        state = engine.AccountState.from_dict({**(event.state or {}), "dispute_credited": True})
        rules = rules_from_criteria(event.criteria)
        decision = engine.decide(event_facts(event), signal_facts(event), rules, state, now)
        checks = checks_encode(decision.checks)
        rows.append((event.pk, decision.reason, checks, json.dumps(state.as_dict())))
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE metering_event e SET status = 'non_billable', non_billable_reason = d.reason, "
            "checks = d.checks, state = d.state::jsonb, decided_at = %(now)s, amount = NULL, credits = NULL "
            "FROM unnest(%(ids)s::bigint[], %(reasons)s::text[], %(checks)s::text[], %(states)s::text[]) "
            "AS d(id, reason, checks, state) "
            "WHERE e.id = d.id AND e.status = 'billable' AND e.invoice_line_id IS NULL RETURNING e.id",
            {
                "now": now,
                "ids": [r[0] for r in rows],
                "reasons": [r[1] for r in rows],
                "checks": [r[2] for r in rows],
                "states": [r[3] for r in rows],
            },
        )
        moved = sorted(row[0] for row in cursor.fetchall())
    # The session's outcome is free again: a later success in it can be billed.
    session_claims_release(moved)
    return moved


def session_claims_release(event_ids: Sequence[int]) -> None:
    """Free the sessions these events hold (if they hold one), so a later success in them can be billed.

    Found through the claim's primary key, which each event carries (account, outcome type,
    session): the claims table has no index on its event column.
    """
    if not event_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM metering_sessionclaim c USING metering_event e WHERE e.id = ANY(%s::bigint[]) "
            "AND e.session_id <> '' AND c.account_id = e.account_id AND c.outcome_type_id = e.outcome_type_id "
            "AND c.session_id = e.session_id AND c.event_id = e.id",
            [list(event_ids)],
        )
