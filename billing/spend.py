"""Spend controls: caps held at ingestion, alerts fired once, the account paused at its cap.

The rules are in :mod:`billing.caps` (pure). This module loads and locks what they need:

- ``spend_cap_hook`` runs inside every ingestion transaction (registered with metering at
  start-up). For each capped account and period in the batch it locks the account's
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

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from accounts import refcache
from accounts.models import Account
from accounts.notify import notification_send, webhooks_enqueue
from billing import caps
from billing.charges import (
    Charging,
    PeriodCharges,
    groups_plus,
    outcome_counts,
    period_assemble,
    period_charges,
)
from billing.models import SpendAlert, SpendControl, SpendControlChange, SpendPeriod
from billing.money import money_display, money_str
from billing.pricing import price_period
from billing.selectors import contract_for_period
from metering.ingest import Candidate
from metering.models import OutcomeType

PAUSE_REASON = "monthly_cap_reached"


# --- Periods ------------------------------------------------------------------------------


def period_of(at: datetime, tz: str) -> str:
    """The billing period ("YYYY-MM") of an instant, in the account's time zone."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"  # strftime costs three times as much


def period_days(period: str) -> tuple[date, date]:
    """The period's local dates, half-open: [first day, first day of next month)."""
    year, month = map(int, period.split("-"))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


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
    return caps.Usage(amount=charges.with_pending, outcomes=charges.outcomes_with_pending)


def usage_for_period(*, account: Account, period: str) -> caps.Usage:
    """The period's usage against its caps, from the charges the invoice is built from."""
    return usage_of(period_charges(account=account, period=period))


@dataclass(frozen=True)
class AccountSpendStatus:
    """What the vendor's platform asks before it automates (GET …/status)."""

    paused: bool
    reason: str | None
    period: str
    # The upcoming invoice as it stands (``invoice_total``) plus what the outcomes still in their
    # measurement window add once they settle billable (``pending_spend``): what the cap holds.
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
    period = period_of(now, account.timezone)
    control = SpendControl.objects.filter(account=account).first()
    charges = period_charges(account=account, period=period)
    state = SpendPeriod.objects.filter(account=account, period=period).only("paused_at", "pause_reason").first()
    fired = sorted(
        SpendAlert.objects.filter(account=account, period=period, kind=SpendAlert.Kind.THRESHOLD).values_list(
            "threshold", flat=True
        )
    )
    paused = bool(state and state.paused_at)
    return AccountSpendStatus(
        paused=paused,
        reason=(state.pause_reason or PAUSE_REASON) if paused else None,
        period=period,
        period_spend=charges.with_pending,
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


def spend_cap_hook(*, candidates: list[Candidate], now: datetime) -> dict[int, dict]:
    """Rule out the batch's outcomes (and charged attempts) that would take a capped account's
    invoice over its cap."""
    controls = _caps_of({c.account_id for c in candidates})
    if not controls:
        return {}
    groups: dict[tuple[int, str], list[Candidate]] = {}
    for candidate in candidates:
        control = controls.get(candidate.account_id)
        if control is not None:
            key = (candidate.account_id, period_of(candidate.occurred_at, control.account.timezone))
            groups.setdefault(key, []).append(candidate)
    keys = sorted(groups)  # one lock order for every batch
    states = _period_locks(keys)
    ruled_out: dict[int, dict] = {}
    for key in keys:
        _, period = key
        control = controls[key[0]]
        ruled_out.update(_cap_period(control=control, period=period, state=states[key], items=groups[key], now=now))
    return ruled_out


def _cap_period(
    *, control: SpendControl, period: str, state: SpendPeriod, items: list[Candidate], now: datetime
) -> dict[int, dict]:
    """One capped account's period: price the invoice with the batch (stored already, so the rollup
    counts it) and, unless it fits whole, walk the batch in occurrence order, admitting each outcome
    whose charge still fits."""
    account = control.account
    policy = policy_of(control)
    terms = contract_for_period(account_id=account.pk, period=period)[1]
    counts = outcome_counts(account=account, period=period, terms=terms)
    asm = period_assemble(account=account, period=period, groups=counts.settled)
    charging = Charging.of(terms)
    codes = {c.outcome_type_id: code for code, c in _codes_of(items)}
    costly = [c for c in items if c.status != "non_billable" or charging.charges_attempt(
        outcome_type_id=c.outcome_type_id, reason=c.reason)]  # fmt: skip

    def plus(groups: tuple, c: Candidate, sign: int = 1) -> tuple:
        code = codes[c.outcome_type_id]
        if c.status == "non_billable":
            return groups_plus(groups, code=code, tier=c.complexity, unresolved=sign)
        gain = (c.amount or Decimal(0)) if code in charging.gain_types else Decimal(0)
        return groups_plus(groups, code=code, tier=c.complexity, resolved=sign, gain=sign * gain)

    def usage(groups: tuple, outcomes: int) -> caps.Usage:
        return caps.Usage(price_period(replace(asm.inp, groups=groups)).total, outcomes)

    after = usage(counts.with_pending, counts.resolved + counts.pending)
    before_groups = counts.with_pending
    for c in costly:
        before_groups = plus(before_groups, c, -1)
    resolved_items = sum(1 for c in costly if c.status != "non_billable")
    before = usage(before_groups, after.outcomes - resolved_items)
    paused = state.paused_at is not None
    ruled_out: dict[int, dict] = {}
    if not caps.admits_whole_batch(policy, after, paused=paused):
        groups, current = before_groups, before
        for c in costly:
            if not paused:
                step_groups = plus(groups, c)
                step = usage(step_groups, current.outcomes + (c.status != "non_billable"))
                if not caps.over(policy, step):
                    groups, current = step_groups, step
                    continue
                paused = True
            ruled_out[c.pk] = {"cap_reached": True}
        if caps.at_or_over(policy, current) and state.paused_at is None:
            paused = True
        if paused and state.paused_at is None:
            _pause(state=state, control=control, now=now)
        after = current
    if caps.thresholds_reached(policy, after) != caps.thresholds_reached(policy, before):
        _fire_thresholds(control=control, period=period, usage=after, now=now)
    return ruled_out


def _codes_of(items: list[Candidate]) -> list[tuple[str, Candidate]]:
    type_codes = dict(refcache.kept("billing.spend.type_codes", {c.outcome_type_id for c in items}, _type_codes_read))
    return [(type_codes[c.outcome_type_id], c) for c in items]


def _type_codes_read(type_ids: set[int]) -> dict[int, str]:
    return dict(OutcomeType.objects.filter(pk__in=type_ids).values_list("pk", "code"))


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
        body=f"{account.name} reached its monthly cap for {state.period}. New outcomes are not charged and the "
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
            else f"{control.monthly_cap_outcomes} outcomes"
        )
        notification_send(
            account=account,
            kind="spend_alert",
            title=f"{threshold}% of the monthly cap used",
            body=f"{account.name} has used {percent:.0f}% of its {cap_text} cap for {period} "
            f"({money_display(usage.amount, account.currency)}, {usage.outcomes} outcomes).",
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
        period = period_of(now, account.timezone)
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
            SpendControlChange.objects.create(account=account, changed_at=now, changed_by=changed_by, old=old, new=new)
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
        period = period_of(now, account.timezone)
        with transaction.atomic():
            _period_lock(account_id=account.pk, period=period)
            charges = period_charges(account=account, period=period)
            usage = usage_of(charges)
            fired += len(_fire_thresholds(control=control, period=period, usage=usage, now=now))
            forecasts += _forecast_warn(control=control, period=period, usage=usage, fixed=charges.fixed, now=now)
    return {"thresholds_fired": fired, "forecasts": forecasts}


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
