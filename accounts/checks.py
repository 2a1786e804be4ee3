"""System checks: refuse to start with a job queue that could run a task twice at once, or with
outbound and sign-in settings that cannot be understood."""

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


@register()
def sign_in_limits_are_sane(app_configs, **kwargs):
    errors = []
    if settings.TRUSTED_PROXIES < 0:
        errors.append(Error("TRUSTED_PROXIES must be 0 or more.", id="outcomeportal.E004"))
    limits = ("LOGIN_FAILURES_PER_USER_ADDRESS", "LOGIN_FAILURES_PER_USER", "LOGIN_FAILURE_WINDOW_SECONDS")
    errors += [
        Error(f"{name} must be 1 or more.", id="outcomeportal.E005") for name in limits if getattr(settings, name) < 1
    ]
    return errors
