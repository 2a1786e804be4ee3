from django.core.management.base import BaseCommand

from metering.models import Event
from metering.services import decision_replay
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Decide stored events again from their raw record and rule version; report any difference."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="Only this account (external_id).")
        parser.add_argument("--limit", type=int, default=0, help="At most this many events, newest first.")
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, account=None, limit=0, now=None, **options):
        now = parse_now(now)
        events = (
            Event.objects.select_related("criteria", "criteria__outcome_type", "criteria__account")
            .prefetch_related("signals")
            .order_by("-occurred_at", "-id")
        )
        if account:
            events = events.filter(account__external_id=account)
        if limit:
            events = events[:limit]
        checked = differences = 0
        for event in events.iterator(chunk_size=2000):
            checked += 1
            diff = decision_replay(event=event, now=now)
            if diff:
                differences += 1
                self.stdout.write(f"DIFF {diff.event_id}: stored {diff.stored} replayed {diff.replayed}")
        self.stdout.write(f"Replayed {checked} decisions: {differences} differ.")
        if differences:
            raise SystemExit(1)
