from django.apps import AppConfig


class FinanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "finance"

    def ready(self) -> None:
        # The demo adds the catalogue's delivery costs and a churned account (finance.demo).
        from finance import demo
        from metering.demo import demo_hook_register

        demo_hook_register("after_settlement", demo.finance_demo)
