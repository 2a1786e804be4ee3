"""Hooks: what apps to the right of metering add to the world.

The reasons training_window, pilot_free, cap_reached and dispute_credited need contracts,
spend controls and disputes, which live in billing and disputes — apps metering must not
import. They plug in here instead, at start-up (their ``AppConfig.ready``):

    from metering.demo import demo_hook_register
    demo_hook_register("before_events", billing_demo_terms)      # billing
    demo_hook_register("after_settlement", disputes_demo_file)   # disputes
    demo_ingestion_register(events_ingest)                       # billing: the ingestion use case

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

# The ingestion use case (validate → store → decide → rate → cap) is billing's; the demo posts its
# events through it once billing has said where it is (billing.apps), as the API does.
_ingest: list[Callable] = []


def demo_ingestion_register(ingest: Callable) -> None:
    """``ingest(raw_events=[…], now=…) -> IngestResult``: how the demo's batches are posted."""
    _ingest[:] = [ingest]


def demo_ingest(*, raw_events, now):
    if not _ingest:
        raise RuntimeError("No ingestion registered: the billing app must be installed to seed the demo.")
    return _ingest[0](raw_events=raw_events, now=now)


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
