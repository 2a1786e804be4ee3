import time

from django.core.management.base import BaseCommand

from billing.tasks import settle_outcomes
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Close measurement windows: pending events whose window ended become billable, charges rated. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")
        parser.add_argument(
            "--workers", type=int, default=1, help="Parallel connections sharing the chunks (1; the schedule uses 2)."
        )

    def handle(self, *args, now=None, workers=1, **options):
        started = time.perf_counter()
        settled = settle_outcomes(parse_now(now), workers=workers)
        self.stdout.write(f"Settled {settled} events in {time.perf_counter() - started:.2f}s.")
