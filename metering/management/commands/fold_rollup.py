import time

from django.core.management.base import BaseCommand

from metering.tasks import fold_rollup
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Fold the daily rollup's shards of past days into one row per key (totals unchanged). Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, now=None, **options):
        started = time.perf_counter()
        folded = fold_rollup(parse_now(now))
        self.stdout.write(f"Folded {folded} rollup keys in {time.perf_counter() - started:.2f}s.")
