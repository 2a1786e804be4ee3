from django.core.management.base import BaseCommand
from django_q.models import Schedule

# Every recurring job: (name, dotted path, schedule type, minutes). Idempotent: rerun freely.
SCHEDULES = [
    ("settle_outcomes", "billing.tasks.settle_outcomes", Schedule.MINUTES, 5),
    ("send_alerts", "billing.spend.tasks.send_alerts", Schedule.MINUTES, 1),
    ("build_invoices", "billing.tasks.build_invoices", Schedule.MINUTES, 60),  # every closed month not final yet
    ("issue_credits", "disputes.tasks.issue_credits", Schedule.MINUTES, 5),  # approved disputes; SLA warnings
    ("prune_rate_counters", "accounts.tasks.rate_counters_prune", Schedule.MINUTES, 60),  # API and sign-in limits
    ("deliveries_retry", "billing.tasks.deliveries_retry", Schedule.MINUTES, 1),  # invoice emails that failed
    ("send_reminders", "billing.tasks.send_reminders", Schedule.MINUTES, 60),  # overdue invoices, each step once
    ("webhooks_retry", "accounts.tasks.webhooks_deliver_due", Schedule.MINUTES, 1),  # webhooks that failed
    ("month_rollups_fold", "billing.tasks.month_rollups_fold", Schedule.MINUTES, 10),  # marked months, folded
    ("finance_loss_counts", "finance.tasks.loss_counts_warm", Schedule.MINUTES, 60),  # margin's kept counts
    ("finance_scenario_history", "finance.tasks.scenario_history_warm", Schedule.MINUTES, 60),  # scenarios' kept months
    ("verify_ledger", "billing.tasks.verify_ledger", Schedule.MINUTES, 24 * 60),  # the money log, whole? (daily)
]


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of every recurring job (idempotent)."

    def handle(self, *args, **options):
        for name, func, schedule_type, minutes in SCHEDULES:
            _, created = Schedule.objects.update_or_create(
                name=name, defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1}
            )
            if options["verbosity"] >= 1:  # make demo runs it with -v0: its output is the seed's and the banner
                self.stdout.write(
                    f"{'Created' if created else 'Updated'} schedule {name} ({func}, every {minutes} min)."
                )
