from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        # The demo lives with metering's facts; it posts events through billing's ingestion and lets
        # billing add contracts, caps and final invoices (apps stay one-way: metering never imports billing).
        from django_q.signals import post_execute_in_worker, pre_execute

        from billing import demo, ingestion
        from billing.moneylog import actor, services
        from metering.demo import demo_hook_register, demo_ingestion_register, demo_reset_hook_register

        # A task's money acts are the task's (billing.moneylog.actor).
        pre_execute.connect(actor.task_started, dispatch_uid="moneylog_task_started")
        post_execute_in_worker.connect(actor.task_finished, dispatch_uid="moneylog_task_finished")

        demo_ingestion_register(ingestion)  # seed_demo posts events and signals through billing
        demo_hook_register("before_events", demo.billing_demo_terms)  # seed_demo: contracts and caps
        demo_hook_register("after_settlement", demo.billing_demo_invoices)  # closed months final, before disputes
        demo_hook_register("after_settlement", demo.billing_demo_deductions)  # customers who came back
        demo_reset_hook_register(services.accounts_removed_record)  # seed_demo --reset: recorded in the money log
