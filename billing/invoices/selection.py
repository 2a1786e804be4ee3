"""Which charges an invoice bills: selection, ranks, freezing and stamping — set-based SQL over the
charge ledger (billing_charge), one statement for a whole invoice, whatever its number of events.

Billing an invoice's charges is two steps: at finalization, :func:`charges_freeze_sql` names them
(an event-id array per line, stored in the finalizing transaction); afterwards,
:func:`charges_invoice_listed` stamps each charge with its line and exact amount.

Which charges a billing selection sees, per account and period ("segment"):

* *resolved* (class ``R``): outcomes rated (their event settled billable), charged or included in
  the platform fee, and not yet on a line;
* *unresolved attempts* (class ``A``): attempts that did not succeed, of the outcome types that
  count attempts (per-conversation contracts, helpdesk ticket fees), not ruled out by the cap.

Within (segment, outcome type, tier) charges are ranked in occurrence order — ``(occurred_at,
event id)`` — so that "the first 1,000 are included" or "outcomes 1,001–5,000 of the month" name
exact events, the same ones on every run. In the SQL, ``e`` is a charge row: its ``event_id`` is
its event's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.moneylog.services import charges_summary_sql


@dataclass(frozen=True, slots=True)
class Selection:
    """The charges of one account that an invoice may bill, and how they group and rank."""

    account_id: int
    timezone: str  # the account's: segments are its local months
    occurred_from: datetime
    occurred_to: datetime
    segments: tuple[str, ...]  # YYYY-MM periods whose events are eligible
    # Outcome types priced by complexity: type id -> the tier of an event that reports none.
    complexity_types: dict[int, str] = field(default_factory=dict)
    attempt_types: tuple[int, ...] = ()  # types whose unresolved attempts count


@dataclass(frozen=True, slots=True)
class LineLink:
    """Charges one invoice line bills, and what each of them is charged."""

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
    included: bool = False  # a platform fee's included outcomes: each costs nothing, reason "included"


_CLASS = "CASE WHEN e.attempt THEN 'A' ELSE 'R' END"
# Not yet on a line, and counted: an outcome rated (settled billable) and charged or included, or
# an attempt of a type whose attempts are charged, the cap not having ruled its fee out.
UNBILLED = (
    "e.invoice_line_id IS NULL AND e.state = 'rated' AND ((NOT e.attempt AND e.reason IN ('', 'included')) "
    "OR (e.attempt AND e.reason = '' AND e.outcome_type_id = ANY(%(attempt_types)s)))"
)


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


def _month_bounds_sql(name: str) -> tuple[str, str]:
    """The first instant of the local month whose first day is the parameter ``name`` (``YYYY-MM-01``),
    and of the month after, in the account's zone ``%(tz)s`` — constants once the statement is planned."""
    start = f"%({name})s::timestamp AT TIME ZONE %(tz)s"
    return start, f"(%({name})s::timestamp + interval '1 month') AT TIME ZONE %(tz)s"


def segment_sql(sel: Selection, params: dict) -> str:
    """Each charge's segment — the selection's local month it occurred in — or NULL outside them all.

    Compared with each segment's bounds rather than formatted per charge: ``to_char`` of the local
    time costs about a microsecond a charge, most of a million-event month's aggregate
    (bench/README.md, session 15). ``params`` must hold the account's zone as ``tz``.
    """
    parts = []
    for n, segment in enumerate(sel.segments):
        params[f"sg{n}"], params[f"sg{n}_name"] = f"{segment}-01", segment
        start, end = _month_bounds_sql(f"sg{n}")
        parts.append(f"WHEN e.occurred_at >= {start} AND e.occurred_at < {end} THEN %(sg{n}_name)s::text")
    return f"CASE {' '.join(parts)} END" if parts else "NULL::text"


def _selected_sql(sel: Selection, *, ranked: bool, params: dict) -> str:
    """The eligible, not-yet-billed events with their segment, tier, class (and rank)."""
    params.update(
        account=sel.account_id,
        tz=sel.timezone,
        since=sel.occurred_from,
        until=sel.occurred_to,
        attempt_types=list(sel.attempt_types),
    )
    rank = "row_number() OVER (PARTITION BY s.seg, s.t, s.tier ORDER BY s.occurred_at, s.id)" if ranked else "0"
    return (
        "SELECT s.*, " + rank + " AS rn FROM ("
        "SELECT e.event_id AS id, e.ctid AS row_ctid, e.occurred_at, e.outcome_type_id AS t, e.value_amount, "
        f"{segment_sql(sel, params)} AS seg, {_tier_sql(sel, params)} AS tier, {_CLASS} AS cls "
        "FROM billing_charge e WHERE e.account_id = %(account)s "
        f"AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s AND {UNBILLED}"
        ") s WHERE s.seg IS NOT NULL"
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
        l_included=[lk.included for lk in links],
    )
    return (
        "SELECT * FROM unnest(%(l_id)s::bigint[], %(l_seg)s::text[], %(l_t)s::bigint[], %(l_tier)s::text[], "
        "%(l_cls)s::text[], %(l_from)s::bigint[], %(l_to)s::bigint[], %(l_amount)s::numeric[], "
        "%(l_credits)s::numeric[], %(l_gs_pct)s::numeric[], %(l_gs_base)s::numeric[], %(l_included)s::boolean[]) "
        "AS l(line_id, seg, t, tier, cls, rank_from, rank_to, amount, credits, gs_pct, gs_base, included)"
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
        "offset": size - rank if backward else rank - 1,
    }
    tier_sql = ""
    if type_id in selection.complexity_types:  # the tier, as _tier_sql derives it
        params["tier"] = tier
        unreported = "e.complexity NOT IN ('simple', 'moderate', 'complex')"
        is_default = selection.complexity_types[type_id] == tier
        tier_sql = f"AND (e.complexity = %(tier)s OR {unreported})" if is_default else "AND e.complexity = %(tier)s"
    order = "e.occurred_at DESC, e.event_id DESC" if backward else "e.occurred_at, e.event_id"
    sql = (
        "SELECT e.occurred_at, e.event_id FROM billing_charge e WHERE e.account_id = %(account)s "
        "AND e.occurred_at >= %(seg_start)s::timestamp AT TIME ZONE %(tz)s "
        "AND e.occurred_at < (%(seg_start)s::timestamp + interval '1 month') AT TIME ZONE %(tz)s "
        "AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s "
        f"AND e.outcome_type_id = %(t)s AND {UNBILLED} {tier_sql} "
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


def charges_freeze_sql(
    *, selection: Selection, links: Sequence[LineLink], sizes: Sizes | None = None
) -> tuple[str, dict]:
    """A query of ``(line_id, event_ids bigint[])``: the charges each line bills *now* — ranked
    and matched as the lines say, frozen as one event-id array per line.

    Finalizing an invoice stores these arrays in the same transaction that prices it (a few
    compact rows instead of a million row rewrites); :func:`charges_invoice_listed` stamps the
    charges afterwards. The arrays, not a second look at the charges, say what the invoice billed:
    an outcome settled in between is a late one and stays off the invoice.

    Rank ranges become occurrence-key bounds first (:func:`_bounded`), so the query is one
    filtered scan with no sort of the month's events: each charge's line is a ``CASE`` over the
    lines' conditions, every bound a constant (its segment's local month, its type, tier, classes
    and occurrence keys). The lines of an invoice bill disjoint sets of charges (different types,
    tiers or classes, or rank ranges that do not overlap), so the first line a charge matches is
    its only one.
    """
    bounded = [(lk, a, u) for lk, a, u in _bounded(selection, links, sizes) if lk.segment in selection.segments]
    params: dict = {
        "account": selection.account_id,
        "tz": selection.timezone,
        "since": selection.occurred_from,
        "until": selection.occurred_to,
        "attempt_types": list(selection.attempt_types),
    }
    tier = _tier_sql(selection, params)
    whens = [_line_when(n, *bound, tier=tier, params=params) for n, bound in enumerate(bounded)]
    whens = [w for w in whens if w]
    if not whens:
        return "SELECT NULL::bigint, NULL::bigint[] WHERE false", params
    sql = (
        f"SELECT line_id, array_agg(event_id) FROM (SELECT e.event_id, CASE {' '.join(whens)} END AS line_id "
        "FROM billing_charge e WHERE e.account_id = %(account)s AND e.occurred_at >= %(since)s "
        f"AND e.occurred_at < %(until)s AND {UNBILLED}) x WHERE line_id IS NOT NULL GROUP BY line_id"
    )
    return sql, params


def _line_when(n: int, link: LineLink, after: tuple | None, up_to: tuple | None, *, tier: str, params: dict) -> str:
    """One line's ``WHEN … THEN line id`` of :func:`charges_freeze_sql` ("" if its classes bill nothing)."""
    resolved, attempts = "R" in link.classes, "A" in link.classes
    if not (resolved or attempts):
        return ""
    params.update({f"f{n}": link.line_id, f"f{n}_seg": f"{link.segment}-01", f"f{n}_t": link.outcome_type_id})
    start, end = _month_bounds_sql(f"f{n}_seg")
    conds = [f"e.occurred_at >= {start}", f"e.occurred_at < {end}", f"e.outcome_type_id = %(f{n}_t)s"]
    if link.tier:
        params[f"f{n}_tier"] = link.tier
        conds.append(f"{tier} = %(f{n}_tier)s")
    if resolved != attempts:
        conds.append("e.attempt" if attempts else "NOT e.attempt")
    if after is not None:
        params[f"f{n}_aat"], params[f"f{n}_aid"] = after
        conds.append(f"(e.occurred_at, e.event_id) > (%(f{n}_aat)s::timestamptz, %(f{n}_aid)s::bigint)")
    if up_to is not None:
        params[f"f{n}_uat"], params[f"f{n}_uid"] = up_to
        conds.append(f"(e.occurred_at, e.event_id) <= (%(f{n}_uat)s::timestamptz, %(f{n}_uid)s::bigint)")
    return f"WHEN {' AND '.join(conds)} THEN %(f{n})s::bigint"


def charges_invoice_listed(*, links: Sequence[LineLink], pairs_sql: str, pairs_params: dict) -> tuple:
    """Bill listed charges on their lines: ``pairs_sql`` selects ``(line_id, event_id)`` pairs (the
    arrays frozen by :func:`charges_freeze_sql`): set the line, the exact amount (a gain-share line:
    its share of the event's value) and credits, the reason ``included`` on an included line, and
    the state ``invoiced``. Only charges not yet on a line are touched, so a rerun bills nothing
    twice.

    Returns what the money log records of it (:func:`billing.moneylog.services.charges_invoiced_record`):
    ``(charges stamped, their groups, their digest, Σ amount before, Σ credits before)`` — the
    charge as it was read from a second copy of the row in the same snapshot (``o``).
    """
    if not links:
        return (0, "[]", None, None, None)
    params: dict = dict(pairs_params)
    sql = (
        f"WITH l AS ({_links_sql(links, params)}), p AS ({pairs_sql}), s AS ("
        "UPDATE billing_charge e SET invoice_line_id = l.line_id, state = 'invoiced', "
        "reason = CASE WHEN l.included THEN 'included' ELSE '' END, "
        "amount = CASE WHEN l.gs_pct IS NULL THEN l.amount ELSE "
        "round(l.gs_pct / 100 * greatest(coalesce(e.value_amount, 0) - l.gs_base, 0), 6) END, "
        "credits = l.credits "
        "FROM p JOIN l ON l.line_id = p.line_id JOIN billing_charge o ON o.event_id = p.event_id "
        "WHERE e.event_id = p.event_id AND e.invoice_line_id IS NULL "
        "RETURNING e.event_id, e.account_id, e.currency, e.amount, e.credits, e.state, "
        "o.amount AS amount_before, o.credits AS credits_before) "
        f"SELECT (SELECT count(*) FROM s), {charges_summary_sql('s')}, "
        "(SELECT sum(amount_before) FROM s), (SELECT sum(credits_before) FROM s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def event_ids_for_links(
    *,
    selection: Selection,
    links: Sequence[LineLink],
    before: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> list[int]:
    """A keyset page (newest first) of the events whose not-yet-billed charges ``links`` would bill:
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
