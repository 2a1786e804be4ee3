import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metering import demo
from metering.demo.report import ProgressBar
from metering.demo.tour import demo_banner, email_destination, site_url
from metering.engine import REASONS
from metering.models import Event
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = (
        "Build the demo world: a vendor, six customer accounts, four outcome types with versioned criteria, "
        "90 days of outcome events through the real ingestion pipeline, signals, settlement, one user per role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=250_000, help="How many events (default 250,000).")
        parser.add_argument("--days", type=int, default=90, help="How many days of history (default 90).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed: same seed, same world.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo world first, then build it again.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only seed when the database holds no events at all (what `make demo` uses); otherwise print "
            "the logins and stop.",
        )
        parser.add_argument("--now", help="Simulated end of the period (RFC 3339); the real clock by default.")
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Processes ingesting side by side, each a group of accounts (default 2; the world is the same).",
        )
        parser.add_argument(
            "--host", help="Where the portal will listen, for the printed links (default $HOST, else 127.0.0.1)."
        )
        parser.add_argument("--port", type=int, help="The port it will listen on (default $PORT, else 8000).")

    def handle(self, *args, events, days, seed, reset, if_empty, now, workers, host, port, **options):
        if events < 0 or days < 1:
            raise CommandError("--events must be 0 or more and --days at least 1.")
        url = site_url(host=host, port=port, environ=os.environ)
        if if_empty:
            if Event.objects.exists():
                self.stdout.write(
                    "The database already holds events: not seeding (use `seed_demo --reset` or `make seed` to "
                    "rebuild; open disputes age with the real clock)."
                )
                self._banner(url=url, key=None)
                return
            reset = True  # no events: whatever demo rows exist are the remains of an interrupted seed
        present = demo.demo_present()
        if present and not reset:
            raise CommandError(
                f"Demo data is already here ({', '.join(present[:4])}{'…' if len(present) > 4 else ''}). "
                "Run `manage.py seed_demo --reset` to delete it and build it again."
            )
        if present:
            self.stdout.write("Deleting the existing demo world…")
            try:
                demo.demo_reset(progress=self.stdout.write)
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc

        self.stdout.write(f"Seeding the demo world: {events:,} events over {days} days (seed {seed})…")
        bar = ProgressBar(write=self._raw, tty=self.stdout.isatty(), days=days, clock=time.perf_counter)

        def progress(message: str) -> None:
            bar.close()  # a message ends the bar's line first
            self.stdout.write(message)

        try:
            report = demo.demo_seed(
                events=events,
                days=days,
                seed=seed,
                now=parse_now(now),
                workers=workers,
                progress=progress,
                tick=bar.update,
            )
        except RuntimeError as exc:
            bar.close()
            raise CommandError(f"{exc}\nThe demo is half built: run `manage.py seed_demo --reset`.") from exc
        self._report(report)
        self._banner(url=url, key=report.vendor_key)

    def _raw(self, text: str) -> None:
        self.stdout.write(text, ending="")
        self.stdout.flush()

    def _report(self, r: demo.SeedReport) -> None:
        w = self.stdout.write
        rate = r.generated / r.run_seconds if r.run_seconds else 0
        w("")
        w(
            f"Ingested {r.generated:,} events in {r.run_seconds:.1f} s ({rate:,.0f} events/s, signals included; "
            f"{r.workers} process{'es' if r.workers > 1 else ''}) through billing.ingestion.events_ingest, "
            f"in {r.batches:,} batches of up to 1,000: {r.accepted:,} accepted, {r.duplicates:,} duplicates "
            f"({r.retried:,} re-sent on purpose), {r.conflicts:,} conflicts, {r.rejected:,} rejected."
        )
        if r.rejections:
            w("  rejected: " + ", ".join(f"{code} {n:,}" for code, n in r.rejections.most_common()))
        w(
            f"Signals: {sum(r.signals.values()):,} through billing.ingestion.signal_record, "
            f"{r.signal_seconds:.1f} s of process time ("
            + ", ".join(f"{effect} {n:,}" for effect, n in sorted(r.signals.items()))
            + ")."
        )
        w(f"Settled {r.settled:,} events whose window had closed, in {r.settle_seconds:.1f} s.")
        w("Metering's decisions: " + ", ".join(f"{status} {n:,}" for status, n in r.by_status.items()))
        total = sum(r.by_status.values()) or 1
        w("Not billable, by reason:")
        for reason, n in r.by_reason.items():
            w(f"  {reason:<22} {n:>9,}  {100 * n / total:5.1f} %")
        missing = [reason for reason in REASONS if reason not in r.by_reason]
        if missing:
            w(f"  absent: {', '.join(missing)}")
        w("By account (events, billable as metering decided; allowances, caps and credits are billing's charges):")
        for account, n, billable in r.by_account:
            w(f"  {account:<14} {n:>9,} {billable:>9,}")
        w("Success criteria versions: " + ", ".join(r.criteria_versions))
        overall = r.generated / r.total_seconds if r.total_seconds else 0
        w(self.style.SUCCESS(f"Done in {r.total_seconds:.1f} s ({overall:,.0f} events/s overall)."))

    def _banner(self, *, url: str, key: str | None) -> None:
        """The last lines printed: the key, where emails go, the logins per role and what to try first."""
        path = getattr(settings, "EMAIL_FILE_PATH", None)
        if path and Path(path).resolve().is_relative_to(Path.cwd()):
            path = Path(path).resolve().relative_to(Path.cwd())  # .data/mail, as the README says
        emails = email_destination(backend=settings.EMAIL_BACKEND, file_path=path)
        for line in demo_banner(url=url, key=key, emails=emails):
            self.stdout.write(line)
