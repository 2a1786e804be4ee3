"""The generator of the demo world: vendor, catalogue, accounts and users, then every event and
signal of the period, ingested in time order through the real services (see :class:`_World`).
"""

from __future__ import annotations

import bisect
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from accounts.models import Account, User, Vendor
from accounts.services import account_create, api_key_create
from metering.demo.catalogue import (
    ACME_OVERRIDE,
    ACME_VERIFIED_BY,
    OUTCOME_BY_CODE,
    OUTCOME_TYPES,
    RESOLUTION_V2,
    RESOLUTION_V2_AT_FRACTION,
    RESOLUTION_V2_VERIFIED_BY,
)
from metering.demo.customers import ACCOUNTS, DEMO_PASSWORD, DEMO_USERS, MAIN_ACCOUNT, AccountSpec
from metering.demo.hooks import demo_ingest, demo_signal
from metering.demo.report import Progress, SeedReport
from metering.ingest import MAX_BATCH
from metering.models import Event, OutcomeType, SuccessCriteria
from metering.services import WindowClosed, criteria_version_create, outcome_type_create

DEMO_VENDOR_NAME = "Helix AI"
DEMO_KEY_NAME = "demo vendor key (seed_demo)"
CREATED_BY = "seed_demo"
INGEST_LAG_SECONDS = 90  # the platform posts a batch about this long after its last event
BATCH_SPAN_SECONDS = 12 * 3600  # and posts at least twice a day, however quiet the weekend


_COMPLEXITY = {
    "support.technical_issue": "complex",
    "support.integration_setup": "complex",
    "support.dispute_charge": "complex",
    "support.refund": "moderate",
    "support.billing_question": "moderate",
    "support.product_question": "moderate",
    "support.plan_change": "moderate",
    "support.roaming": "moderate",
}
_COMPLEXITIES = ("simple", "moderate", "complex")
_COST = {"simple": 0.03, "moderate": 0.12, "complex": 0.45}
_TYPE_COST = {"qualified_lead": 0.6, "completed_screening": 0.35, "saved_cancellation": 0.8}
_SHORT = {
    "resolved_conversation": "rc",
    "qualified_lead": "ql",
    "completed_screening": "cs",
    "saved_cancellation": "sc",
}
_FAILURES = {"abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"}


@dataclass(frozen=True)
class _Cell:
    """One account's local day: when its hours start, how they weigh, how many events it has."""

    spec: AccountSpec
    day: date
    hour_starts: list[float]  # epoch seconds of each whole hour inside the period
    hour_cum: list[float]  # cumulative weights of those hours
    events: int
    incident: bool


@dataclass
class _Plan:
    """A signal to post once its event is stored."""

    at: float  # epoch seconds
    type: str
    note: str
    pk: int = 0
    ingested_at: float = 0.0


class _World:
    """The generator: deterministic for a given seed and ``now``."""

    def __init__(self, *, now: datetime, days: int, seed: int):
        self.now = now
        self.now_ts = now.timestamp()
        self.start_ts = self.now_ts - days * 86400
        self.days = days
        self.seed = seed
        self.account_pk: dict[str, int] = {}
        self.vendor_key = ""
        self.v2_at = self.start_ts + RESOLUTION_V2_AT_FRACTION * days * 86400
        # Per run (per worker process):
        self.rngs: dict[str, random.Random] = {}
        self.v2_passed = False
        self.seq: Counter = Counter()
        self.session_seq: Counter = Counter()
        self.planned: dict[tuple[int, str], list[_Plan]] = {}
        self.signal_heap: list[tuple[float, int, _Plan]] = []
        self._tiebreak = 0

    def _rng(self, external_id: str) -> random.Random:
        if external_id not in self.rngs:
            self.rngs[external_id] = random.Random(f"{self.seed}:{external_id}")
        return self.rngs[external_id]

    # --- the fixed part: vendor, catalogue, accounts, people, key ---

    def setup(self, progress: Progress) -> None:
        if not Vendor.objects.exists():
            Vendor.objects.create(name=DEMO_VENDOR_NAME)
        start = datetime.fromtimestamp(self.start_ts, UTC)
        for spec in OUTCOME_TYPES:
            outcome_type_create(
                code=spec.code,
                name=spec.name,
                unit_price=Decimal(spec.unit_price),
                value_type=spec.value_type,
                description=spec.description,
                created_by=CREATED_BY,
                **spec.criteria,
            )
        # The definitions were agreed before the period starts (rows keep their simulated dates).
        SuccessCriteria.objects.filter(outcome_type__code__in=list(OUTCOME_BY_CODE)).update(
            created_at=start - timedelta(days=30)
        )
        for spec in ACCOUNTS:
            account = account_create(
                external_id=spec.external_id,
                name=spec.name,
                currency=spec.currency,
                timezone_name=spec.timezone,
                tier=spec.tier,
                industry=spec.industry,
                use_case=spec.use_case,
            )
            joined = start + timedelta(days=spec.start_fraction * self.days) - timedelta(days=14)
            Account.objects.filter(pk=account.pk).update(created_at=joined)
            self.account_pk[spec.external_id] = account.pk
        override = criteria_version_create(
            outcome_type=OutcomeType.objects.get(code="resolved_conversation"),
            account=Account.objects.get(pk=self.account_pk[MAIN_ACCOUNT]),
            created_by=CREATED_BY,
            **ACME_OVERRIDE,
        )
        SuccessCriteria.objects.filter(pk=override.pk).update(created_at=start - timedelta(days=7))

        password = make_password(DEMO_PASSWORD)  # hashed once: six users, one (deliberately slow) hash
        for u in DEMO_USERS:
            User.objects.create(
                username=u.username,
                password=password,
                role=u.role,
                account_id=self.account_pk[u.account] if u.account else None,
                first_name=u.first_name,
                last_name=u.last_name,
                email=f"{u.username}@demo.outcomeportal.example",
                is_staff=u.superuser,
                is_superuser=u.superuser,
            )
        self.vendor_key = api_key_create(name=DEMO_KEY_NAME).secret
        progress(
            f"Created the vendor, {len(OUTCOME_TYPES)} outcome types, {len(ACCOUNTS)} accounts "
            f"and {len(DEMO_USERS)} users."
        )

    def resolution_v2(self) -> None:
        """Roll out version 2 of the product definition of a resolution (at ``v2_at``)."""
        criteria = criteria_version_create(
            outcome_type=OutcomeType.objects.get(code="resolved_conversation"),
            account=None,
            created_by=CREATED_BY,
            **RESOLUTION_V2,
        )
        SuccessCriteria.objects.filter(pk=criteria.pk).update(created_at=datetime.fromtimestamp(self.v2_at, UTC))

    # --- the volume: how many events each account has on each of its local days ---

    def quota(self, events: int) -> list[_Cell]:
        cells: list[_Cell] = []
        weights: list[float] = []
        for spec in ACCOUNTS:
            rng = random.Random(f"{self.seed}:{spec.external_id}:volume")
            tz = ZoneInfo(spec.timezone)
            joined_ts = max(self.start_ts, self.start_ts + spec.start_fraction * self.days * 86400)
            incident = None
            if spec.incident_fraction is not None:
                incident_ts = self.start_ts + spec.incident_fraction * self.days * 86400
                incident = datetime.fromtimestamp(incident_ts, tz).date()
            day = datetime.fromtimestamp(joined_ts, tz).date()
            last = datetime.fromtimestamp(self.now_ts, tz).date()
            while day <= last:
                starts, hour_weights = [], []
                for hour in range(24):
                    ts = datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp()
                    # Whole hours inside the period, ending at least an hour before now.
                    if ts >= joined_ts and ts + 7200 <= self.now_ts:
                        starts.append(ts)
                        hour_weights.append(spec.hours[hour])
                if starts:
                    through = (starts[0] - self.start_ts) / (self.days * 86400)
                    weights.append(
                        spec.share
                        * (1 + spec.growth * through)
                        * spec.week[day.weekday()]
                        * max(0.6, rng.gauss(1.0, 0.07))
                        * (sum(hour_weights) / sum(spec.hours))
                        * (1.6 if day == incident else 1.0)
                    )
                    cum, total = [], 0.0
                    for w in hour_weights:
                        total += w
                        cum.append(total)
                    cells.append(_Cell(spec, day, starts, cum, 0, day == incident))
                day += timedelta(days=1)
        if not cells:
            return []
        # Largest remainders: the counts add up to exactly ``events``.
        exact = [events * w / sum(weights) for w in weights]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(cells)), key=lambda k: counts[k] - exact[k])
        for k in by_remainder[: events - sum(counts)]:
            counts[k] += 1
        return [
            _Cell(c.spec, c.day, c.hour_starts, c.hour_cum, n, c.incident) for c, n in zip(cells, counts, strict=True)
        ]

    # --- one account's local day of events ---

    def _day(self, cell: _Cell) -> list[tuple[float, dict]]:
        spec = cell.spec
        rng = self._rng(spec.external_id)
        ext = spec.external_id
        out: list[tuple[float, dict]] = []
        joined_ts = self.start_ts + spec.start_fraction * self.days * 86400
        starts, cum = cell.hour_starts, cell.hour_cum
        while len(out) < cell.events:
            hour = min(bisect.bisect(cum, rng.random() * cum[-1]), len(starts) - 1)
            ts = starts[hour] + rng.random() * 3600
            code = spec.outcomes.pick(rng)
            channel = spec.channels.pick(rng)
            sandbox_rate = spec.sandbox_rate
            if spec.onboarding_sandbox_days and ts < joined_ts + spec.onboarding_sandbox_days * 86400:
                sandbox_rate = 0.3  # the integration team testing against production
            sandbox = rng.random() < sandbox_rate
            self.session_seq[ext] += 1
            number = 100_000 + self.session_seq[ext]
            session = f"{'sbx' if sandbox else channel}-{ext}-{number}"
            out.append(self._event(rng, cell, code, ts, channel, session, number, sandbox, repeat=False))
            later = ts + rng.uniform(300, 5400)
            if rng.random() < OUTCOME_BY_CODE[code].repeat_rate and len(out) < cell.events and later < self.now_ts:
                out.append(self._event(rng, cell, code, later, channel, session, number, sandbox, repeat=True))
        return out

    def _event(self, rng, cell, code, ts, channel, session, number, sandbox, *, repeat) -> tuple[float, dict]:
        spec = cell.spec
        outcome = OUTCOME_BY_CODE[code]
        ext = spec.external_id
        self.seq[ext] += 1
        event_id = f"{'sbx-' if sandbox else ''}{ext}-{_SHORT[code]}-{self.seq[ext]:08d}"
        workflow = spec.workflows[code].pick(rng)

        scenario = outcome.scenarios.pick(rng)
        if repeat and rng.random() < 0.75:
            scenario = "ok"  # the customer came back and the agent "resolved" it again
        if cell.incident and scenario == "ok" and rng.random() < 0.25:
            scenario = "handoff"  # outage day: the agent hands off what it cannot answer
        if spec.attainment_drift and scenario == "ok":
            elapsed = (ts - self.start_ts) / (self.days * 86400)
            if rng.random() < spec.attainment_drift * elapsed:
                scenario = "not_met"

        success, handoff, failure, method = self._verdict(rng, outcome, code, ext, ts, scenario)

        event = {
            "event_id": event_id,
            "account": ext,
            "outcome_type": code,
            "occurred_at": datetime.fromtimestamp(round(ts, 3), UTC).isoformat(timespec="milliseconds"),
            "success_criteria_met": success,
            "channel": channel,
            "workflow": workflow,
            "session_id": session,
            "verification_method": method,
            "source_url": spec.urls[code].format(n=number),
        }
        if handoff:
            event["human_handoff"] = True
        if failure:
            event["failure_reason"] = failure
        if sandbox:
            event["sandbox"] = True
        turns = 1 if failure == "greeting_only" else 2 + int(rng.random() * 13)
        language = spec.languages[int(rng.random() * len(spec.languages))]
        attributes = {"language": language, "turns": turns, "agent": "helix-2026.3"}
        if code == "resolved_conversation":
            complexity = _COMPLEXITY.get(workflow, "simple")
            if rng.random() < 0.15:
                complexity = _COMPLEXITIES[int(rng.random() * 3)]
            event["complexity"] = complexity
            cost = _COST[complexity] * (2.0 if channel == "voice" else 1.0)
            if success and rng.random() < 0.3:
                attributes["csat"] = rng.choice((3, 4, 4, 5, 5, 5))
        else:
            cost = _TYPE_COST[code]
            if code == "qualified_lead" and success:
                mean = 9.5 if ext == MAIN_ACCOUNT else 8.8  # ~$13k SaaS pipeline, ~$6.6k commission
                event["value_amount"] = f"{rng.lognormvariate(mean, 0.6):.2f}"
            elif code == "saved_cancellation" and success:
                monthly = rng.uniform(35, 90) if ext == "northwind" else rng.uniform(9.99, 49)
                event["value_amount"] = f"{monthly * 12:.2f}"  # a year of the kept subscription
                attributes["plan"] = rng.choice(("monthly", "monthly", "annual"))
            elif code == "completed_screening":
                attributes["role"] = rng.choice(("warehouse associate", "nurse", "driver", "sales rep", "technician"))
        event["cost_amount"] = f"{cost * rng.uniform(0.7, 1.4):.4f}"
        event["attributes"] = attributes

        if scenario == "ok" and not sandbox and not repeat:
            self._plan_signals(rng, spec, outcome, event_id, ts, method)
        return ts, event

    def _verdict(self, rng, outcome, code, ext, ts, scenario) -> tuple[bool, bool, str, str]:
        """What the platform reports for a scenario: (success, hand-off, failure reason, verification method).
        Draws from ``rng`` in a fixed order: the world stays the same for a given seed."""
        if code != "resolved_conversation":
            verified_by = outcome.verified_by
        elif ext == MAIN_ACCOUNT:
            verified_by = ACME_VERIFIED_BY
        else:
            verified_by = RESOLUTION_V2_VERIFIED_BY if ts >= self.v2_at else outcome.verified_by
        success = scenario in ("ok", "unverified")
        handoff = scenario == "handoff"
        if handoff and rng.random() < 0.3:
            success = True  # the platform thought it had solved it, but a human took over
        failure = scenario if scenario in _FAILURES else ""
        if scenario in ("ok", "not_met"):
            method = verified_by.pick(rng)
        elif scenario == "unverified":
            method = outcome.unverified_by
        else:
            method = ""
        return success, handoff, failure, method

    def _plan_signals(self, rng, spec, outcome, event_id, ts, method) -> None:
        roll = rng.random()
        for type_, probability, in_window, note in outcome.signals:
            if roll >= probability:
                roll -= probability
                continue
            if type_ == "confirmed" and method == "customer_confirmed":
                return  # the customer had confirmed already
            window = outcome.window_hours * 3600
            if outcome.code == "resolved_conversation" and spec.external_id == MAIN_ACCOUNT:
                window = ACME_OVERRIDE["measurement_window_hours"] * 3600
            if in_window:
                at = ts + rng.uniform(0.05, 0.9) * window
            else:
                at = ts + window + rng.uniform(6 * 3600, 7 * 86400)
            if at < self.now_ts - 60:
                key = (self.account_pk[spec.external_id], event_id)
                self.planned.setdefault(key, []).append(_Plan(at=at, type=type_, note=note))
            return

    # --- the run: chronological batches, signals in between ---

    def run(self, *, cells: list[_Cell], v2_gate: Callable[[], None], tick: Callable[[int, int], None]) -> SeedReport:
        """Generate and ingest ``cells`` (one or more accounts' days) in time order; ``tick(events
        ingested, day reached)`` about twice a second, and once at the end."""
        report = SeedReport(events_requested=sum(c.events for c in cells), days=self.days, seed=self.seed)
        cells = sorted(cells, key=lambda c: c.hour_starts[0])
        buffer: list[tuple[float, dict]] = []
        next_cell = 0
        last_tick = time.perf_counter()
        horizon = self.start_ts
        while next_cell < len(cells) or buffer:
            # Generate every local day that starts before the horizon + 1 day: then every
            # event before the horizon is known and can be ingested in time order.
            horizon += 86400
            while next_cell < len(cells) and cells[next_cell].hour_starts[0] < horizon + 86400:
                buffer.extend(self._day(cells[next_cell]))
                next_cell += 1
            buffer.sort(key=_ts)
            done = next_cell >= len(cells)
            cut = len(buffer) if done else bisect.bisect_left(buffer, horizon, key=_ts)
            i = 0
            while i < cut:
                # A batch: up to 1,000 events, spanning at most BATCH_SPAN_SECONDS (quiet nights
                # make smaller batches, as a real-time platform would post them).
                span_end = buffer[i][0] + BATCH_SPAN_SECONDS
                j = bisect.bisect_right(buffer, span_end, lo=i, hi=min(i + MAX_BATCH, cut), key=_ts)
                if j - i < MAX_BATCH and span_end >= horizon and not done:
                    break  # the batch could still grow with events not generated yet
                self._ingest(buffer[i:j], report, v2_gate)
                if report.batches % 25 == 0:
                    self._retry(buffer[max(i, j - 20) : j], report)
                i = j
            buffer = buffer[i:]
            if time.perf_counter() - last_tick > 0.5:
                last_tick = time.perf_counter()
                tick(report.generated, min(self.days, int((horizon - self.start_ts) // 86400)))
        tick(report.generated, self.days)
        if not self.v2_passed:
            self.v2_passed = True
            v2_gate()  # every worker meets at the gate, even one whose events all came before it
        self._signals_flush(self.now_ts, report)
        return report

    def _ingest(self, batch: list[tuple[float, dict]], report: SeedReport, v2_gate: Callable[[], None]) -> None:
        if not self.v2_passed and batch[-1][0] >= self.v2_at:
            head = [item for item in batch if item[0] < self.v2_at]
            if head:
                self._ingest(head, report, v2_gate)
            self.v2_passed = True
            v2_gate()
            batch = batch[len(head) :]
        now_ts = min(batch[-1][0] + INGEST_LAG_SECONDS, self.now_ts)
        result = demo_ingest(raw_events=[e for _, e in batch], now=datetime.fromtimestamp(now_ts, UTC))
        report.batches += 1
        report.generated += len(batch)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.conflicts += result.conflicts
        report.rejected += result.rejected
        for entry in result.results:
            if entry.get("status") == "rejected":
                report.rejections[entry["error"]["code"]] += 1
        self._signals_schedule(batch, now_ts)
        self._signals_flush(now_ts, report)

    def _retry(self, batch: list[tuple[float, dict]], report: SeedReport) -> None:
        """The platform re-sends a few events after a timeout: they come back as duplicates."""
        if batch:
            now_ts = min(batch[-1][0] + 2 * INGEST_LAG_SECONDS, self.now_ts)
            result = demo_ingest(raw_events=[e for _, e in batch], now=datetime.fromtimestamp(now_ts, UTC))
            report.retried += len(batch)
            report.duplicates += result.duplicates

    def _signals_schedule(self, batch: list[tuple[float, dict]], ingested_ts: float) -> None:
        keys = [key for _, e in batch if (key := (self.account_pk[e["account"]], e["event_id"])) in self.planned]
        if not keys:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.id, e.account_id, e.event_id FROM {Event._meta.db_table} e "
                "JOIN unnest(%s::bigint[], %s::text[]) AS k(a, i) ON e.account_id = k.a AND e.event_id = k.i",
                [[a for a, _ in keys], [i for _, i in keys]],
            )
            for pk, account_id, event_id in cursor.fetchall():
                for plan in self.planned.pop((account_id, event_id), ()):
                    plan.pk, plan.ingested_at = pk, ingested_ts
                    self._tiebreak += 1
                    heapq.heappush(self.signal_heap, (plan.at, self._tiebreak, plan))

    def _signals_flush(self, until_ts: float, report: SeedReport) -> None:
        """Post every scheduled signal that has happened by ``until_ts``, in time order."""
        if not self.signal_heap or self.signal_heap[0][0] > until_ts:
            return
        started = time.perf_counter()
        # One transaction for the lot: each signal_record is a savepoint, not a commit.
        with transaction.atomic():
            while self.signal_heap and self.signal_heap[0][0] <= until_ts:
                _, _, plan = heapq.heappop(self.signal_heap)
                # Delivered 5 s to 2 min after it happened, and never before its event.
                received = max(plan.at + 5 + plan.at % 115, plan.ingested_at)
                try:
                    outcome = demo_signal(
                        event=Event(pk=plan.pk),
                        type=plan.type,
                        occurred_at=datetime.fromtimestamp(round(plan.at, 3), UTC),
                        note=plan.note,
                        now=datetime.fromtimestamp(min(received, self.now_ts), UTC),
                    )
                    report.signals[outcome.signal.effect] += 1
                except WindowClosed:
                    report.signals["window_closed"] += 1
        report.signal_seconds += time.perf_counter() - started


# --- small helpers -----------------------------------------------------------------------------


def _ts(item: tuple[float, dict]) -> float:
    return item[0]
