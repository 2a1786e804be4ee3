import time

from django.core.management.base import BaseCommand, CommandError

from billing.contracts import period_parse
from billing.tasks import build_invoices
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Finalize each account's invoice for a closed period (gapless numbers). Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="The month to finalize, YYYY-MM.")
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, period, now=None, **options):
        if period_parse(period) is None:
            raise CommandError(f"--period must be YYYY-MM, not {period!r}.")
        started = time.perf_counter()
        result = build_invoices(period, parse_now(now))
        self.stdout.write(
            f"Period {period}: {result['finalized']} invoices finalized, {result['already_final']} already final, "
            f"{result['events_billed']} events billed in {time.perf_counter() - started:.2f}s."
        )
