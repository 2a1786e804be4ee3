"""System checks: refuse to start with a job queue that could run a task twice at once, or with
an outbound allow-list that cannot be understood."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from accounts import outbound


@register()
def q_cluster_timeout_below_retry(app_configs, **kwargs):
    conf = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = conf.get("timeout"), conf.get("retry")
    errors = []
    if timeout is None or retry is None or timeout >= retry:
        errors.append(
            Error(
                f"Q_CLUSTER timeout ({timeout}) must be set and shorter than retry ({retry}).",
                hint="Otherwise the ORM broker re-delivers a task that is still running.",
                id="outcomeportal.E001",
            )
        )
    if not conf.get("max_attempts"):
        errors.append(Error("Q_CLUSTER max_attempts must be set (0 retries forever).", id="outcomeportal.E002"))
    return errors


@register()
def webhook_allow_list_parses(app_configs, **kwargs):
    try:
        outbound.AllowList.parse(settings.WEBHOOK_ALLOWED_HOSTS)
    except ValueError as exc:
        return [Error(f"WEBHOOK_ALLOWED_HOSTS: {exc}", id="outcomeportal.E003")]
    return []
