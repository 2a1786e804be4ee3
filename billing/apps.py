from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        # Billing adds its panels to metering's pages (apps stay one-way: metering never imports billing).
        from billing import charges, demo, ingestion, seams
        from metering.demo import demo_hook_register, demo_ingestion_register
        from metering.panels import dashboard_panel_register, event_invoice_panel_register, overview_spend_register

        demo_ingestion_register(ingestion.events_ingest)  # seed_demo posts its events through billing
        dashboard_panel_register(seams.dashboard_charges_panel)
        event_invoice_panel_register(seams.event_invoice_panel)
        overview_spend_register(charges.period_spends)  # the vendor overview's money column
        demo_hook_register("before_events", demo.billing_demo_terms)  # seed_demo: contracts and caps
        demo_hook_register("after_settlement", demo.billing_demo_invoices)  # closed months final, before disputes
