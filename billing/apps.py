from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        # Billing answers metering's questions through the seams metering offers (apps stay one-way).
        from billing import ingestion, invoice_models  # noqa: F401
        from metering.ingest import candidate_hook_register
        from metering.pricing import pricer_register

        pricer_register(ingestion.contract_pricer)
        candidate_hook_register(ingestion.onboarding_hook, order=10)
