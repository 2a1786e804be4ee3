"""The use cases that span metering and billing: events posted, windows settled, signals reported.

Metering owns an event's facts and its decision; billing owns its charge. Each use case calls
metering's steps and billing's own in one transaction, so an event and its charge always agree,
and metering never calls back.

**Ingestion** — validate → store → decide → rate → cap, one transaction per batch:

1. metering parses, resolves and decides the batch (:func:`metering.ingest.events_prepare`), stores
   it and claims sessions (:func:`~metering.ingest.events_store`);
2. for every stored event that can cost money — an outcome billable now or once its window closes,
   an attempt that did not succeed where the contract charges a fee for it — billing makes a charge
   (:class:`~billing.ledger.services.NewCharge`): nothing billed when the account was suspended or
   churned at the event's time (``account_suspended``, ``account_churned``), then the onboarding
   allowances (:mod:`billing.onboarding`: ``training_window``, ``pilot_free``), then the price of
   the rest as the period stands (:mod:`billing.rating`), then the spend cap
   (:func:`billing.spend.services.spend_cap_rule_out`: ``cap_reached``);
3. the charges are written in one ``COPY`` (:func:`~billing.ledger.services.charges_write`).

**Settlement** — each chunk of events whose window closed settles billable in metering (its
statement: :data:`metering.services.SETTLE_CTES`) and their charges become ``rated``, in one
statement.

**Signals** — a reopen, reversal or escalation inside the window rules the outcome out in metering
(:func:`metering.services.signal_apply`) and its charge becomes ``void``; a confirmation that closes
the window settles it billable and its charge becomes ``rated`` — each in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import LifecycleStatus
from billing.charges import Charging
from billing.ledger.models import INACTIVE_REASONS, ChargeReason
from billing.ledger.services import NewCharge, charges_settled, charges_void, charges_write
from billing.moneylog import kinds
from billing.moneylog.services import charges_chunk_record, charges_summary_sql
from billing.onboarding import onboarding_rule_out
from billing.rating import charges_rate
from billing.spend.services import spend_cap_rule_out
from billing.terms_lookup import terms_lookup
from metering.ingest import IngestResult, batch_scope, events_prepare, events_store
from metering.models import Event, Signal
from metering.services import SETTLE_CHUNK, SETTLE_CTES, SignalOutcome, WindowClosed, signal_apply

# --- Ingestion --------------------------------------------------------------------------------


def events_ingest(*, raw_events: Sequence[object], now: datetime | None = None) -> IngestResult:
    """Store a batch of posted events, decided, charged and held within the spend caps; one result
    per event, in order (see the module's docstring)."""
    now = now or timezone.now()
    with batch_scope():
        batch = events_prepare(raw_events=raw_events, now=now)
        with transaction.atomic():
            result = events_store(batch)
            stored = batch.stored()
            if stored:
                charges_write(_charges_for(stored, now=now))
    return result


def _charges_for(stored, *, now: datetime) -> list[NewCharge]:
    """The stored events' charges: every outcome billable now or once its window closes, and every
    attempt that did not succeed where its period's contract charges a fee for it (any other attempt
    cannot cost money: no charge)."""
    contracts = terms_lookup({c.account_id for c in stored})
    charges = []
    charging: dict[int, Charging] = {}  # by the terms' identity: hashing the terms costs more than the check
    for c in stored:
        version_id, terms = contracts.version(c.account_id, c.occurred_at)
        if c.status == "non_billable":
            rules = charging.get(id(terms)) or charging.setdefault(id(terms), Charging.of(terms))
            if not rules.charges_attempt(outcome_type_id=c.outcome_type_id, reason=c.reason):
                continue
        charges.append(
            NewCharge(c.pk, c.account_id, c.outcome_type_id, c.event_id, c.occurred_at, c.status, c.complexity,
                      c.reason, c.value_amount, contracts[c.account_id].currency, c.occurred_at_iso, version_id,
                      terms)
        )  # fmt: skip
    for c in charges:  # an account that was not active when the event occurred is not billed
        status = contracts.status(c.account_id, c.occurred_at)
        if status != LifecycleStatus.ACTIVE:
            c.charge_reason = INACTIVE_REASONS[status]
    free = onboarding_rule_out(charges=[c for c in charges if not c.charge_reason], contracts=contracts)
    for c in charges:
        if c.pk in free:
            c.charge_reason = free[c.pk]
    charges_rate(charges, contracts)
    # The cap holds every outcome the invoice counts — an included one too (an outcome cap counts it,
    # and past the cap nothing is charged or included any more).
    counted = [c for c in charges if c.charge_reason in (ChargeReason.NONE, ChargeReason.INCLUDED)]
    capped = spend_cap_rule_out(candidates=counted, now=now)
    for c in charges:
        if c.pk in capped:
            c.amount, c.credits, c.charge_reason = None, None, ChargeReason.CAP_REACHED
    return charges


# --- Settlement -----------------------------------------------------------------------------


def outcomes_settle(*, now: datetime | None = None, chunk: int = SETTLE_CHUNK, workers: int = 1) -> int:
    """Pending events whose measurement window has closed become billable, and their charges rated.

    Set-based, one statement per chunk (metering's settlement, :data:`metering.services.SETTLE_CTES`,
    and the charges of the settled events rated). With ``workers`` connections (threads here,
    or two runs at once) the chunks are shared without waiting: ``FOR UPDATE SKIP LOCKED``. A
    second run finds nothing due. Returns the number of events settled.
    """
    now = now or timezone.now()
    if workers <= 1:
        return _settle_chunks(now=now, chunk=chunk)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(lambda _: _settle_in_thread(now=now, chunk=chunk), range(workers)))


def _settle_in_thread(*, now: datetime, chunk: int) -> int:
    try:
        return _settle_chunks(now=now, chunk=chunk)
    finally:
        connection.close()  # each thread has its own connection


# One chunk, one statement: metering's settlement (its two CTEs: the queue rows taken, the events
# settled) and the charges of the settled events rated, in the order of their keys.
# The last two columns sum the rated charges up for the money log (one entry per chunk).
_SETTLE_AND_RATE_SQL = (
    f"WITH {SETTLE_CTES}, rated AS (UPDATE billing_charge c SET state = 'rated' "
    "WHERE c.event_id = ANY (ARRAY(SELECT id FROM settled ORDER BY id)) AND c.state = 'estimated' "
    "RETURNING c.event_id, c.account_id, c.currency, c.amount, c.credits, c.state) "
    "SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM settled), (SELECT count(*) FROM rated), "
    + charges_summary_sql("rated")
)


# Memory for one chunk's statement. The rollup triggers read the rows a statement updated from its
# transition tables (every column of the old and the new row: about 60 MB for a chunk of 50,000
# events and their charges); past ``work_mem`` (4 MB by default) PostgreSQL writes them to temporary
# files and reads them back. Measured on the 2-core VM: 17.6 instead of 24.6 µs of backend CPU per
# event settled (bench/README.md, session 9). Only for the chunk's transaction (``SET LOCAL``).
SETTLE_WORK_MEM = "128MB"


def _settle_chunks(*, now: datetime, chunk: int) -> int:
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{SETTLE_WORK_MEM}'")
            cursor.execute(_SETTLE_AND_RATE_SQL, {"now": now, "chunk": chunk})
            taken, settled, _, groups, digest = cursor.fetchone()
            charges_chunk_record(kind=kinds.CHARGES_SETTLED, groups_json=groups, digest=digest)
        total += settled
        if taken < chunk:
            return total


# --- Signals --------------------------------------------------------------------------------


def signal_record(
    *, event: Event, type: str, occurred_at: datetime, note: str = "", now: datetime | None = None
) -> SignalOutcome:
    """Record a signal, apply it to the event's decision if it arrived inside the window, and void
    the charge of an outcome it rules out, or rate the charge of one a confirmation settled — one
    transaction.

    Raises :class:`~metering.services.WindowClosed` (after recording it) when the window had
    already closed: the charge stands; a dispute is the way to contest it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        outcome = signal_apply(event=event, type=type, occurred_at=occurred_at, note=note, now=now)
        if outcome.ruled_out:
            charges_void(event_ids=[event.pk])
        elif outcome.settled:
            charges_settled(event_ids=[event.pk])
    if outcome.signal.effect == Signal.Effect.WINDOW_CLOSED:
        # Raised once the transaction has committed: the late signal stays recorded.
        raise WindowClosed(outcome.signal)
    return outcome
