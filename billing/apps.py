from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        # Billing answers metering's questions through the seams metering offers (apps stay one-way).
        from billing import charges, demo, ingestion, seams
        from billing.invoices import models as invoice_models
        from billing.spend import services as spend
        from metering.demo import demo_hook_register
        from metering.ingest import candidate_hook_register
        from metering.lifecycle import invoice_lookup_register
        from metering.panels import dashboard_panel_register, event_invoice_panel_register, overview_spend_register
        from metering.pricing import pricer_register

        pricer_register(ingestion.contract_pricer)
        invoice_lookup_register(invoice_models.invoice_id_of_line)
        candidate_hook_register(ingestion.onboarding_hook, order=10)
        candidate_hook_register(spend.spend_cap_hook, order=20)  # caps after free allowances
        dashboard_panel_register(seams.dashboard_charges_panel)
        event_invoice_panel_register(seams.event_invoice_panel)
        overview_spend_register(charges.period_spends)  # the vendor overview's money column
        demo_hook_register("before_events", demo.billing_demo_terms)  # seed_demo: contracts and caps
        demo_hook_register("after_settlement", demo.billing_demo_invoices)  # closed months final, before disputes
