"""System checks: refuse to start with a job queue that could run a task twice at once, or with
outbound, sign-in or signing-key settings that cannot be understood."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from accounts import outbound
from outcomeportal import signing


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
    limits = (
        "LOGIN_FAILURES_PER_USER_ADDRESS",
        "LOGIN_FAILURES_PER_USER",
        "LOGIN_FAILURE_WINDOW_SECONDS",
        # accounts.people: password reset requests and invitation links
        "PASSWORD_RESETS_PER_EMAIL",
        "PASSWORD_RESETS_PER_ADDRESS",
        "PASSWORD_RESET_WINDOW_SECONDS",
        "INVITATION_MAX_AGE_DAYS",
    )
    errors += [
        Error(f"{name} must be 1 or more.", id="outcomeportal.E005") for name in limits if getattr(settings, name) < 1
    ]
    return errors


@register()
def decision_signing_keys_load(app_configs, **kwargs):
    """The certificate signing key and the retired public keys load (outcomeportal.signing)."""
    try:
        signing.key_ring()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="python manage.py create_signing_key makes a key.", id="outcomeportal.E006")]
    return []


@register(Tags.security, deploy=True)
def decision_signing_key_set(app_configs, **kwargs):
    if settings.DECISION_SIGNING_KEY or settings.DECISION_SIGNING_KEY_FILE:
        return []
    return [
        Warning(
            "Decision certificates are signed with a key generated into the data folder: every machine "
            "without the same folder signs with a key of its own.",
            hint="Set DECISION_SIGNING_KEY_FILE (or DECISION_SIGNING_KEY); python manage.py create_signing_key.",
            id="outcomeportal.W001",
        )
    ]
