from django.core.management.base import BaseCommand

from billing.spend.tasks import send_alerts
from outcomeportal.cli import parse_now


class Command(BaseCommand):
    help = "Fire spend alerts not yet fired (thresholds, cap forecast) and retry due webhooks. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Simulated current time (RFC 3339).")

    def handle(self, *args, now=None, **options):
        result = send_alerts(parse_now(now) if now else None)
        self.stdout.write(
            f"Thresholds fired: {result['thresholds_fired']}, forecasts: {result['forecasts']}, "
            f"webhook attempts: {result['webhooks_attempted']}."
        )
