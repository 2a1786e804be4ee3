"""Hooks: what apps to the right of metering add to the world.

The reasons training_window, pilot_free, cap_reached and dispute_credited need contracts,
spend controls and disputes, which live in billing and disputes — apps metering must not
import. They plug in here instead, at start-up (their ``AppConfig.ready``):

    from metering.demo import demo_hook_register
    demo_hook_register("before_events", billing_demo_terms)      # billing
    demo_hook_register("after_settlement", disputes_demo_file)   # disputes
    demo_ingestion_register(billing.ingestion)                   # billing: events and signals

Billing does its part: ``billing.demo`` (registered in ``billing.apps``) gives, before any
event is ingested, acme a platform fee with included resolutions, kumo a 14-day training
window then a 500-outcome pilot (training_window, pilot_free), and brightpath ($600) and
talentbridge (500 screenings) monthly caps that pause (cap_reached).
Disputes does its part: ``disputes.demo`` (registered in ``disputes.apps``) files disputes
after settlement, resolves most of them and credits the approved ones (dispute_credited),
leaving a few open in the support queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from metering.demo.customers import ACCOUNTS, AccountSpec
from metering.demo.report import Progress

if TYPE_CHECKING:
    from metering.demo.world import _World


@dataclass(frozen=True)
class DemoContext:
    """What a hook gets: the demo accounts and the simulated period."""

    accounts: dict[str, int]  # external_id -> Account pk
    specs: tuple[AccountSpec, ...]
    period_start: datetime
    now: datetime
    progress: Progress


DemoHook = Callable[[DemoContext], None]
_HOOKS: dict[str, list[DemoHook]] = {"before_events": [], "after_settlement": []}

# Posting events and signals are billing's use cases (they rate and cap, or void a charge, as well
# as decide); the demo goes through them once billing has said where they are (billing.apps), as
# the API does.
_platform: list = []


def demo_ingestion_register(platform) -> None:
    """``platform.events_ingest(raw_events=…, now=…)``, ``platform.signal_record(event=…, type=…,
    occurred_at=…, now=…)`` and ``platform.outcomes_settle(now=…)``: how the demo posts its batches
    and its signals, and closes the measurement windows."""
    _platform[:] = [platform]


def _platform_get():
    if not _platform:
        raise RuntimeError("No ingestion registered: the billing app must be installed to seed the demo.")
    return _platform[0]


def demo_ingest(*, raw_events, now):
    return _platform_get().events_ingest(raw_events=raw_events, now=now)


def demo_signal(**kwargs):
    return _platform_get().signal_record(**kwargs)


def demo_settle(*, now):
    return _platform_get().outcomes_settle(now=now)


# Told, inside the reset's transaction once the demo's rows are gone, which accounts the reset
# deleted (billing records it in its money log: the removal is itself a recorded act).
_RESET_HOOKS: list[Callable[[list[int]], None]] = []


def demo_reset_hook_register(hook: Callable[[list[int]], None]) -> None:
    """Run ``hook(account_ids)`` when ``seed_demo --reset`` has deleted those demo accounts."""
    if hook not in _RESET_HOOKS:
        _RESET_HOOKS.append(hook)


def _reset_hooks_run(account_ids: list[int]) -> None:
    for hook in _RESET_HOOKS:
        hook(account_ids)


def demo_hook_register(stage: str, hook: DemoHook) -> None:
    """Run ``hook(context)`` at ``stage`` ("before_events" or "after_settlement") of every seed."""
    if stage not in _HOOKS:
        raise ValueError(f"stage must be one of {', '.join(_HOOKS)}")
    if hook not in _HOOKS[stage]:
        _HOOKS[stage].append(hook)


def _hooks_run(stage: str, world: _World, progress: Progress) -> None:
    context = DemoContext(
        accounts=dict(world.account_pk),
        specs=ACCOUNTS,
        period_start=datetime.fromtimestamp(world.start_ts, UTC),
        now=world.now,
        progress=progress,
    )
    for hook in _HOOKS[stage]:
        hook(context)
