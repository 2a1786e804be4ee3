"""Spend controls: caps held at ingestion, alerts fired once, the account paused at its cap.

The rules are in :mod:`billing.caps` (pure). This module loads and locks what they need:

- ``spend_cap_rule_out`` runs inside every ingestion transaction (billing.ingestion calls it
  after the onboarding allowances). For each capped account and period in the batch it locks the account's
  ``SpendPeriod`` row — one short lock per *account*, so ingestion for other accounts never
  waits — prices the period as its invoice will be (:mod:`billing.charges`: platform fee,
  included outcomes, tiers, fees on attempts, credits, with every pending outcome counted as
  if it settled billable), and rules out what would take that invoice over the cap
  (``cap_reached``): resolved outcomes lose their charge, attempts their ticket or
  conversation fee. An outcome that turns non-billable releases its part by itself.
- thresholds fire once per (account, period, threshold): a unique constraint, not a check.
- ``spend_controls_set`` records who changed what (old → new) and re-evaluates the pause:
  raising the cap resumes the account, a cap below current spend pauses it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from accounts import refcache
from accounts.models import Account, LifecycleStatus
from accounts.notify import notification_send, webhooks_enqueue
from accounts.selectors import account_status_at
from billing import caps
from billing.charges import Charging, PeriodCharges, cap_periods, catalogue, groups_plus, period_charges
from billing.ledger.models import INACTIVE_REASONS
from billing.ledger.services import NewCharge
from billing.models import SpendAlert, SpendControl, SpendControlChange, SpendPeriod
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from billing.pricing import marginal_bound
from billing.terms_lookup import terms_lookup
from outcomeportal.core import formatting
from outcomeportal.core.money import money_display, money_str, quantum, round_line
from outcomeportal.core.periods import period_at, period_days

PAUSE_REASON = "monthly_cap_reached"
ROUNDING_MARGIN_LINES = 200  # invoice lines whose rounding an admission on bounds allows for (see _fits_on_bound)


# --- Reading ------------------------------------------------------------------------------


def policy_of(control: SpendControl | None) -> caps.CapPolicy:
    if control is None:
        return caps.CapPolicy()
    return caps.CapPolicy(
        cap_amount=control.monthly_cap,
        cap_outcomes=control.monthly_cap_outcomes,
        at_cap=control.at_cap,
        thresholds=tuple(control.alert_thresholds),
    )


def usage_of(charges: PeriodCharges) -> caps.Usage:
    """What a cap holds of a period's charges: the invoice with every pending outcome settled billable."""
    return caps.Usage(amount=charges.spend_with_pending, outcomes=charges.outcomes_with_pending)


def usage_for_period(*, account: Account, period: str) -> caps.Usage:
    """The period's usage against its caps, from the charges the invoice is built from."""
    return usage_of(period_charges(account=account, period=period))


@dataclass(frozen=True)
class AccountSpendStatus:
    """What the vendor's platform asks before it automates (GET …/status)."""

    paused: bool
    reason: str | None
    period: str
    # What the period's invoice charges for the period (fees, outcomes, adjustments) plus what the
    # outcomes still in their measurement window add once they settle billable (``pending_spend``):
    # what the cap holds. ``invoice_total`` is the upcoming invoice as it stands, which also carries
    # late outcomes of earlier months, top-ups and credit notes (billing.charges.PeriodCharges).
    period_spend: Decimal
    invoice_total: Decimal
    pending_spend: Decimal
    cap: Decimal | None
    cap_outcomes: int | None
    outcomes_this_period: int
    alerts_fired: list[int]
    currency: str
    charges: PeriodCharges

    @property
    def usage(self) -> caps.Usage:
        return usage_of(self.charges)

    def as_dict(self) -> dict:
        return {
            "paused": self.paused,
            "reason": self.reason,
            "period": self.period,
            "period_spend": money_str(self.period_spend, self.currency),
            "invoice_total": money_str(self.invoice_total, self.currency),
            "pending_spend": money_str(self.pending_spend, self.currency),
            "cap": None if self.cap is None else money_str(self.cap, self.currency),
            "cap_outcomes": self.cap_outcomes,
            "outcomes_this_period": self.outcomes_this_period,
            "alerts_fired": self.alerts_fired,
        }


def account_spend_status(*, account: Account, now: datetime | None = None) -> AccountSpendStatus:
    now = now or timezone.now()
    period = period_at(now, account.timezone)
    control = SpendControl.objects.filter(account=account).first()
    charges = period_charges(account=account, period=period)
    state = SpendPeriod.objects.filter(account=account, period=period).only("paused_at", "pause_reason").first()
    fired = sorted(
        SpendAlert.objects.filter(account=account, period=period, kind=SpendAlert.Kind.THRESHOLD).values_list(
            "threshold", flat=True
        )
    )
    paused = bool(state and state.paused_at)
    reason = (state.pause_reason or PAUSE_REASON) if paused else None
    standing = account_status_at(account_id=account.pk, at=now)
    if standing != LifecycleStatus.ACTIVE:  # nothing it does now is billed: the platform should not automate
        paused, reason = True, INACTIVE_REASONS[standing].value
    return AccountSpendStatus(
        paused=paused,
        reason=reason,
        period=period,
        period_spend=charges.spend_with_pending,
        invoice_total=charges.total,
        pending_spend=charges.pending,
        cap=control.monthly_cap if control else None,
        cap_outcomes=control.monthly_cap_outcomes if control else None,
        outcomes_this_period=charges.outcomes_with_pending,
        alerts_fired=fired,
        currency=account.currency,
        charges=charges,
    )


# --- The ingestion hook ---------------------------------------------------------------------


def _period_lock(*, account_id: int, period: str) -> SpendPeriod:
    """The account's period row, created if need be and locked until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_spendperiod (account_id, period, pause_reason) VALUES (%s, %s, '') "
            "ON CONFLICT (account_id, period) DO NOTHING",
            [account_id, period],
        )
    return SpendPeriod.objects.select_for_update().get(account_id=account_id, period=period)


def spend_cap_rule_out(*, candidates: list[NewCharge], now: datetime) -> set[int]:
    """The batch's outcomes (and charged attempts) that would take a capped account's period over
    its cap: their charges get the reason ``cap_reached``. ``candidates`` are the batch's new
    charges in occurrence order, rated, not yet written.

    Far from the cap a batch is admitted on a bound: the period row keeps an upper bound of the
    period's usage, and the batch's own upper bound (``pricing.marginal_bound`` per outcome) is
    added to it — no pricing, no read of the period. Only a batch whose bound reaches the cap or a
    new alert threshold (or the first after a change of reference data) prices the period exactly
    (:func:`billing.charges.cap_periods`) and, if it does not fit whole, is walked outcome by
    outcome.
    """
    controls = _caps_of({c.account_id for c in candidates})
    if not controls:
        return set()
    groups: dict[tuple[int, str], list[NewCharge]] = {}
    for candidate in candidates:
        control = controls.get(candidate.account_id)
        if control is not None:
            key = (candidate.account_id, period_at(candidate.occurred_at, control.account.timezone))
            groups.setdefault(key, []).append(candidate)
    keys = sorted(groups)  # one lock order for every batch
    states = _period_locks(keys)
    stamp = refcache.current()
    contracts = terms_lookup({k[0] for k in keys})
    terms = {key: contracts.terms(key[0], groups[key][0].occurred_at) for key in keys}
    codes = {pk: entry[0] for pk, entry in catalogue().items()}
    defaults = {pk: entry[2] for pk, entry in catalogue().items()}
    exact_keys, bounds = [], {}
    for key in keys:
        bound = _batch_bound(groups[key], terms[key], codes, defaults)
        bounds[key] = bound
        control = controls[key[0]]
        if not _fits_on_bound(policy_of(control), states[key], bound, stamp, control.account.currency):
            exact_keys.append(key)
    currency = {k[0]: controls[k[0]].account.currency for k in exact_keys}
    priced = cap_periods(keys=exact_keys, terms=terms, currency=currency) if exact_keys else {}
    ruled_out: set[int] = set()
    for key in keys:
        control, state = controls[key[0]], states[key]
        if key in priced:
            ruled_out |= (
                _cap_exact(control=control, period=key[1], state=state, items=groups[key], cap=priced[key],
                           codes=codes, now=now)
            )  # fmt: skip
            state.bound_stamp = stamp
        else:
            usage, outcomes = bounds[key]
            state.usage_bound += usage
            state.outcomes_bound += outcomes
    _bounds_save([states[k] for k in keys])
    return ruled_out


def _batch_bound(items: list[NewCharge], terms, codes: dict[int, str], defaults: dict[int, Decimal]):
    """(an upper bound of what the batch adds to the period's usage, its resolved outcomes); None
    when a model has no bound (volume pricing)."""
    charging = Charging.of(terms)
    usage, outcomes = Decimal(0), 0
    known: dict[tuple, Decimal | None] = {}  # most outcomes of a batch share (type, tier, attempt)
    for c in items:
        attempt = c.status == "non_billable"
        if attempt and not charging.charges_attempt(outcome_type_id=c.outcome_type_id, reason=c.reason):
            continue
        key = (c.outcome_type_id, c.complexity, attempt)
        if key in known:
            bound = known[key]
        else:
            code = codes[c.outcome_type_id]
            bound = marginal_bound(terms, code, tier=c.complexity, attempt=attempt, amount=c.amount,
                                   default_price=defaults[c.outcome_type_id])  # fmt: skip
            if code not in charging.gain_types:  # a gain-share bound is the outcome's own amount
                known[key] = bound
        if bound is None:
            return None
        usage += bound
        outcomes += not attempt
    return usage, outcomes


def _fits_on_bound(policy: caps.CapPolicy, state: SpendPeriod, bound, stamp: int | None, currency: str) -> bool:
    """Can the batch be admitted whole on bounds alone: the period priced under this stamp, not
    paused, and even at the upper bound neither the cap nor a threshold not reached yet is reached?

    The bounds add unrounded amounts; the invoice rounds each line once. However many batches
    were added, rounding moves the total by less than half a minor unit per line, so one margin
    of :data:`ROUNDING_MARGIN_LINES` minor units covers it.
    """
    if bound is None or stamp is None or state.bound_stamp != stamp or state.paused_at is not None:
        return False
    if None in (state.usage_exact, state.usage_bound, state.outcomes_exact, state.outcomes_bound):
        return False
    amount_limit, outcomes_limit = caps.headroom(policy, caps.Usage(state.usage_exact, state.outcomes_exact))
    margin = quantum(currency) * ROUNDING_MARGIN_LINES
    return state.usage_bound + bound[0] + margin < amount_limit and state.outcomes_bound + bound[1] < outcomes_limit


def _cap_exact(
    *, control: SpendControl, period: str, state: SpendPeriod, items: list[NewCharge], cap, codes: dict[int, str],
    now: datetime,
) -> set[int]:  # fmt: skip
    """One capped account's period priced exactly, with the batch (not written yet: the rollup holds
    the period without it): admitted whole if it fits, else walked in occurrence order, each outcome
    admitted while its charge still fits."""
    policy = policy_of(control)
    charging, counts = cap.charging, cap.counts
    costly = [c for c in items if c.status != "non_billable" or charging.charges_attempt(
        outcome_type_id=c.outcome_type_id, reason=c.reason)]  # fmt: skip

    def plus(groups: tuple, c: NewCharge) -> tuple:
        code = codes[c.outcome_type_id]
        if c.attempt:
            return groups_plus(groups, code=code, tier=c.complexity, unresolved=1)
        gain = (c.amount or Decimal(0)) if code in charging.gain_types else Decimal(0)
        return groups_plus(groups, code=code, tier=c.complexity, resolved=1, gain=gain)

    before_groups = after_groups = counts.with_pending
    for c in costly:
        after_groups = plus(after_groups, c)
    resolved_items = sum(1 for c in costly if c.status != "non_billable")
    after = caps.Usage(cap.usage(after_groups), counts.resolved + counts.pending + resolved_items)
    paused = state.paused_at is not None
    if caps.admits_whole_batch(policy, after, paused=paused) and not caps.thresholds_reached(policy, after):
        # The usual case far from the cap: the batch fits and reaches no threshold — the period's
        # usage without the batch is not needed.
        state.usage_exact = state.usage_bound = after.amount
        state.outcomes_exact = state.outcomes_bound = after.outcomes
        return set()
    before = caps.Usage(cap.usage(before_groups), counts.resolved + counts.pending)
    ruled_out: set[int] = set()
    if not caps.admits_whole_batch(policy, after, paused=paused):
        groups, current = before_groups, before
        for c in costly:
            if not paused:
                step_groups = plus(groups, c)
                step = caps.Usage(cap.usage(step_groups), current.outcomes + (c.status != "non_billable"))
                if not caps.over(policy, step):
                    groups, current = step_groups, step
                    continue
                paused = True
            ruled_out.add(c.pk)
        if caps.at_or_over(policy, current):
            paused = True
        if paused and state.paused_at is None:
            _pause(state=state, control=control, now=now)
        after = current
    state.usage_exact = state.usage_bound = after.amount
    state.outcomes_exact = state.outcomes_bound = after.outcomes
    if caps.thresholds_reached(policy, after) != caps.thresholds_reached(policy, before):
        _fire_thresholds(control=control, period=period, usage=after, now=now)
    return ruled_out


def _bounds_save(states: list[SpendPeriod]) -> None:
    """Write the periods' usage bounds back, in one statement (their rows are locked by this batch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_spendperiod s SET usage_exact = v.exact, usage_bound = v.bound, "
            "outcomes_exact = v.outcomes_exact, outcomes_bound = v.outcomes, bound_stamp = v.stamp "
            "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            "AS v(id, exact, bound, outcomes_exact, outcomes, stamp) WHERE s.id = v.id",
            [
                [s.pk for s in states],
                [s.usage_exact for s in states],
                [s.usage_bound for s in states],
                [s.outcomes_exact for s in states],
                [s.outcomes_bound for s in states],
                [s.bound_stamp for s in states],
            ],
        )


def _caps_of(account_ids: set[int]) -> dict[int, SpendControl]:
    """The accounts' spend controls that set a cap, by account.

    Read once per account and kept in the process until any spend control or account changes
    (accounts.refcache): every ingestion batch asks, and controls change rarely.
    """
    known = refcache.kept("billing.spend.caps", account_ids, _caps_read)
    return {pk: known[pk] for pk in account_ids if known[pk] is not None}


def _caps_read(account_ids: set[int]) -> dict[int, SpendControl | None]:
    controls = SpendControl.objects.filter(account_id__in=account_ids).select_related("account")
    capped = {c.account_id: c for c in controls if c.monthly_cap is not None or c.monthly_cap_outcomes is not None}
    return {pk: capped.get(pk) for pk in account_ids}


def _period_locks(keys: list[tuple[int, str]]) -> dict[tuple[int, str], SpendPeriod]:
    """Every (account, period) row of the batch, created if need be and locked — two statements."""
    accounts, periods = [k[0] for k in keys], [k[1] for k in keys]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_spendperiod (account_id, period, pause_reason) "
            "SELECT a, p, '' FROM unnest(%s::bigint[], %s::text[]) AS k(a, p) ORDER BY a, p "
            "ON CONFLICT (account_id, period) DO NOTHING",
            [accounts, periods],
        )
    rows = SpendPeriod.objects.raw(
        "SELECT s.* FROM billing_spendperiod s JOIN unnest(%s::bigint[], %s::text[]) AS k(a, p) "
        "ON s.account_id = k.a AND s.period = k.p ORDER BY s.account_id, s.period FOR UPDATE OF s",
        [accounts, periods],
    )
    return {(row.account_id, row.period): row for row in rows}


def _pause(*, state: SpendPeriod, control: SpendControl, now: datetime) -> None:
    state.paused_at, state.pause_reason = now, PAUSE_REASON
    state.save(update_fields=["paused_at", "pause_reason"])
    account = control.account
    notification_send(
        account=account,
        kind="spend_paused",
        title="Spend cap reached: automation paused",
        body=f"{account.name} reached its monthly cap for {formatting.period_key(state.period)}. "
        "New outcomes are not charged and the "
        "platform hands the work to your team until the cap is raised or the period ends.",
        link="/billing/spend/",
        roles=["finance_admin", "customer_admin"],
        now=now,
    )
    webhooks_enqueue(
        account_id=account.pk,
        event_type="account.paused",
        message_id=f"paused-{account.pk}-{state.period}-{int(now.timestamp())}",
        payload={"account": account.external_id, "period": state.period, "reason": PAUSE_REASON},
        now=now,
    )


def _fire_thresholds(*, control: SpendControl, period: str, usage: caps.Usage, now: datetime) -> list[int]:
    """Record every newly reached threshold exactly once (unique per account, period, threshold)."""
    policy = policy_of(control)
    reached = caps.thresholds_reached(policy, usage)
    if not reached:
        return []
    percent = caps.percent_used(policy, usage)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_spendalert (account_id, period, kind, threshold, fired_at, percent_used, spend, "
            "outcomes) SELECT %s, %s, 'threshold', t, %s, %s, %s, %s FROM unnest(%s::int[]) AS t "
            "ON CONFLICT (account_id, period, kind, threshold) DO NOTHING RETURNING threshold",
            [control.account_id, period, now, percent, usage.amount, usage.outcomes, list(reached)],
        )
        fired = sorted(t for (t,) in cursor.fetchall())
    account = control.account
    for threshold in fired:
        cap_text = (
            money_display(control.monthly_cap, account.currency)
            if control.monthly_cap is not None
            else formatting.plural(control.monthly_cap_outcomes, "outcome")
        )
        notification_send(
            account=account,
            kind="spend_alert",
            title=f"{threshold}% of the monthly cap used",
            body=f"{account.name} has used {formatting.percent(percent / 100)} of its {cap_text} cap for "
            f"{formatting.period_key(period)} ({money_display(usage.amount, account.currency)}, "
            f"{formatting.plural(usage.outcomes, 'outcome')}).",
            link="/billing/spend/",
            roles=["finance_admin"],
            now=now,
        )
        webhooks_enqueue(
            account_id=account.pk,
            event_type="spend.threshold_reached",
            message_id=f"spend-{account.pk}-{period}-{threshold}",
            payload={
                "account": account.external_id,
                "period": period,
                "threshold": threshold,
                "percent_used": str(percent.quantize(Decimal("0.01"))),
                "period_spend": money_str(usage.amount, account.currency),
                "cap": None if control.monthly_cap is None else money_str(control.monthly_cap, account.currency),
                "outcomes_this_period": usage.outcomes,
            },
            now=now,
        )
    return fired


# --- Changing the controls ---------------------------------------------------------------------


CONTROL_FIELDS = ("monthly_cap", "monthly_cap_outcomes", "alert_thresholds", "at_cap")


def _snapshot(control: SpendControl | None, currency: str) -> dict:
    if control is None:
        return {
            "monthly_cap": None,
            "monthly_cap_outcomes": None,
            "alert_thresholds": list(caps.DEFAULT_THRESHOLDS),
            "at_cap": caps.PAUSE,
        }
    return {
        "monthly_cap": None if control.monthly_cap is None else money_str(control.monthly_cap, currency),
        "monthly_cap_outcomes": control.monthly_cap_outcomes,
        "alert_thresholds": list(control.alert_thresholds),
        "at_cap": control.at_cap,
    }


def spend_controls_get(*, account: Account) -> dict:
    return _snapshot(SpendControl.objects.filter(account=account).first(), account.currency)


def spend_controls_set(
    *,
    account: Account,
    monthly_cap: Decimal | None,
    monthly_cap_outcomes: int | None,
    alert_thresholds: list[int],
    at_cap: str,
    changed_by: str,
    now: datetime | None = None,
) -> SpendControl:
    """Replace the account's controls, log old → new, and pause or resume the current period."""
    now = now or timezone.now()
    with transaction.atomic():
        period = period_at(now, account.timezone)
        state = _period_lock(account_id=account.pk, period=period)  # serialise with ingestion
        control = SpendControl.objects.select_for_update().filter(account=account).first()
        old = _snapshot(control, account.currency)
        if control is None:
            control = SpendControl(account=account)
        control.monthly_cap = monthly_cap
        control.monthly_cap_outcomes = monthly_cap_outcomes
        control.alert_thresholds = sorted(alert_thresholds)
        control.at_cap = at_cap
        control.updated_at = now
        control.updated_by = changed_by
        control.save()
        new = _snapshot(control, account.currency)
        if old != new:
            change = SpendControlChange.objects.create(
                account=account, changed_at=now, changed_by=changed_by, old=old, new=new
            )
            row_act_record(
                kind=kinds.SPEND_CONTROLS_CHANGED, view="spend_control_change", pk=change.pk, account_id=account.pk
            )
        policy = policy_of(control)
        usage = usage_for_period(account=account, period=period)
        must_pause = policy.capped and policy.at_cap == caps.PAUSE and caps.at_or_over(policy, usage)
        if state.paused_at and not must_pause:
            state.paused_at, state.pause_reason = None, ""
            state.save(update_fields=["paused_at", "pause_reason"])
            notification_send(
                account=account,
                kind="spend_resumed",
                title="Automation resumed",
                body=f"The cap was changed by {changed_by}; outcomes are charged again.",
                link="/billing/spend/",
                roles=["finance_admin", "customer_admin"],
                now=now,
            )
        elif must_pause and not state.paused_at:
            _pause(state=state, control=control, now=now)
        _fire_thresholds(control=control, period=period, usage=usage, now=now)
    return control


# --- The periodic job -----------------------------------------------------------------------


def alerts_send(*, now: datetime | None = None) -> dict:
    """Fire any threshold not yet fired, and the run-rate forecast warning, for every capped account."""
    now = now or timezone.now()
    fired = forecasts = 0
    for control in SpendControl.objects.select_related("account").exclude(
        monthly_cap__isnull=True, monthly_cap_outcomes__isnull=True
    ):
        account = control.account
        period = period_at(now, account.timezone)
        with transaction.atomic():
            _period_lock(account_id=account.pk, period=period)
            charges = period_charges(account=account, period=period)
            usage = usage_of(charges)
            fired += len(_fire_thresholds(control=control, period=period, usage=usage, now=now))
            forecasts += _forecast_warn(control=control, period=period, usage=usage, fixed=charges.fixed, now=now)
    return {"thresholds_fired": fired, "forecasts": forecasts}


def month_end_projection(status, *, today: date) -> Decimal:
    """The period's amount at its run rate so far (an :class:`AccountSpendStatus`; ``today`` in the
    account's zone), rounded to the currency: what the Spend page and the dashboard's forecast show."""
    start, end = period_days(status.period)
    projected = caps.projected_spend(status.usage, period_start=start, today=today, period_end=end,
                                     fixed=status.charges.fixed)  # fmt: skip
    return round_line(projected, status.charges.currency)


def forecast_day(
    *, control: SpendControl, period: str, usage: caps.Usage, now: datetime, fixed: Decimal = Decimal(0)
) -> date | None:
    start, end = period_days(period)
    today = now.astimezone(ZoneInfo(control.account.timezone)).date()
    return caps.forecast_cap_day(
        policy_of(control), usage, period_start=start, today=today, period_end=end, fixed=fixed
    )


def _forecast_warn(*, control: SpendControl, period: str, usage: caps.Usage, fixed: Decimal, now: datetime) -> int:
    day = forecast_day(control=control, period=period, usage=usage, now=now, fixed=fixed)
    if day is None:
        return 0
    _, created = SpendAlert.objects.get_or_create(
        account=control.account,
        period=period,
        kind=SpendAlert.Kind.FORECAST,
        threshold=None,
        defaults={
            "fired_at": now,
            "percent_used": caps.percent_used(policy_of(control), usage) or 0,
            "spend": usage.amount,
            "outcomes": usage.outcomes,
            "forecast_day": day,
        },
    )
    if not created:
        return 0
    notification_send(
        account=control.account,
        kind="spend_forecast",
        title=f"At this pace the cap will be reached around {day:%B %-d}",
        body=f"{control.account.name} is on track to reach its monthly cap before the period ends. "
        "Raise the cap or expect automation to pause then.",
        link="/billing/spend/",
        roles=["finance_admin"],
        now=now,
    )
    return 1
