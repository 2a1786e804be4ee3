from django.apps import AppConfig


class DisputesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "disputes"

    def ready(self) -> None:
        # Disputes adds to the audit pages through the seams billing offers (apps stay one-way).
        from billing.audit.panels import (
            event_panel_register,
            event_story_register,
            overview_panel_register,
            selection_action_register,
        )
        from disputes import demo, moneylog, seams
        from metering.demo import demo_hook_register

        moneylog.moneylog_views_register()  # what of disputes the money log vouches for

        event_panel_register(seams.event_dispute_panel)
        event_story_register(seams.event_dispute_story)
        selection_action_register(seams.dispute_selection_action)
        overview_panel_register(seams.overview_dispute_warning)
        demo_hook_register("after_settlement", demo.disputes_demo_file)  # seed_demo: disputes, credits, a queue
