import time

from django.core.management.base import BaseCommand

from disputes.tasks import issue_credits
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Credit approved disputes (open-period exclusions, credit notes) and warn of SLAs. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, now=None, **options):
        started = time.perf_counter()
        result = issue_credits(parse_now(now))
        notes = ", ".join(result["credit_notes"]) or "none"
        self.stdout.write(
            f"{len(result['credited'])} disputes credited (credit notes: {notes}), {len(result['failed'])} failed, "
            f"{result['events_marked_disputed']} events marked disputed, {len(result['sla_warned'])} SLA warnings "
            f"in {time.perf_counter() - started:.2f}s."
        )
        for dispute_id, error in result["failed"].items():
            self.stderr.write(f"dispute #{dispute_id}: {error}")
