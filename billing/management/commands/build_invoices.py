import time

from django.core.management.base import BaseCommand, CommandError

from billing.tasks import build_invoices
from outcomeportal.cli import parse_now
from outcomeportal.core.periods import period_parse


class Command(BaseCommand):
    help = (
        "Finalize invoices of closed periods (gapless numbers). Without --period: every closed period of "
        "every account not final yet, oldest first. Safe to rerun."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", help="Only this month, YYYY-MM (default: catch up on every closed one).")
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, period=None, now=None, **options):
        if period is not None and period_parse(period) is None:
            raise CommandError(f"--period must be YYYY-MM, not {period!r}.")
        started = time.perf_counter()
        result = build_invoices(period, parse_now(now))
        scope = f"Period {period}" if period else "Catch-up"
        self.stdout.write(
            f"{scope}: {result['finalized']} invoices finalized, {result['already_final']} already final, "
            f"{result['events_billed']} events billed in {time.perf_counter() - started:.2f}s."
        )
        for item in result.get("periods", []):
            self.stdout.write(f"  finalized {item}")
