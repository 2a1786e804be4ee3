"""What a seed tells its caller: progress lines as it goes, and a :class:`SeedReport` at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

Progress = Callable[[str], None]


@dataclass
class SeedReport:
    events_requested: int
    days: int
    seed: int
    workers: int = 1
    generated: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    rejections: Counter = field(default_factory=Counter)
    retried: int = 0
    batches: int = 0
    signals: Counter = field(default_factory=Counter)  # effect -> count
    settled: int = 0
    run_seconds: float = 0.0  # generating, ingesting and signalling, wall clock
    signal_seconds: float = 0.0  # of which posting signals (summed over workers)
    settle_seconds: float = 0.0
    total_seconds: float = 0.0
    vendor_key: str = ""
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_account: list[tuple[str, int, int, Decimal | None]] = field(default_factory=list)
    criteria_versions: list[str] = field(default_factory=list)

    def add(self, other: SeedReport) -> None:
        """Fold a worker's counts into this report."""
        for name in ("generated", "accepted", "duplicates", "conflicts", "rejected", "retried", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejections.update(other.rejections)
        self.signals.update(other.signals)
        self.signal_seconds += other.signal_seconds
