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


# How far the ingestion is: (events ingested so far, events in all, the day the slowest process is on).
Tick = Callable[[int, int, int], None]


class ProgressBar:
    """The seed's one progress display: events ingested over all its processes, as one bar.

    On a terminal the line is redrawn in place (``\\r``); in a log or a pipe a line is printed at
    every tenth. Either way it only moves forward: the count is the sum over the processes, the day
    the slowest process's, both kept at their highest. :meth:`close` ends the line; a message
    printed meanwhile should call it first.
    """

    WIDTH = 24

    def __init__(self, *, write: Callable[[str], None], tty: bool, days: int, clock: Callable[[], float]):
        self.write, self.tty, self.days, self.clock = write, tty, days, clock
        self.started = clock()
        self.done = self.total = self.day = 0
        self.shown_tenth = 0
        self.open = False  # a drawn line not ended yet (terminal)

    def update(self, done: int, total: int, day: int) -> None:
        self.total = max(self.total, total)
        self.done, self.day = max(self.done, min(done, self.total)), max(self.day, min(day, self.days))
        if self.tty:
            self.write("\r" + self.line())
            self.open = True
            if self.done >= self.total:
                self.close()
        else:
            tenth = 10 * self.done // self.total if self.total else 10
            if tenth > self.shown_tenth:
                self.shown_tenth = tenth
                self.write(self.line() + "\n")

    def line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = round(share * self.WIDTH)
        elapsed = max(self.clock() - self.started, 1e-9)
        return (
            f"  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * share:3.0f} %  "
            f"{self.done:,} of {self.total:,} events, day {self.day}/{self.days}, {self.done / elapsed:,.0f}/s"
        )

    def close(self) -> None:
        if self.open:
            self.write("\n")
            self.open = False
