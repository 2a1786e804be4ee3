"""django-tables2 tables of the portal: the audit table and the vendor's account overview."""

from __future__ import annotations

from datetime import datetime

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Account
from metering.audit import window_state
from metering.models import Event
from metering.templatetags.portal import money, percent, reason_text, status_badge, time_left

_YES_NO = {True: "Yes", False: "No"}


class EventTable(tables.Table):
    """One row per event with the contract's audit fields. Ordering is fixed: newest first."""

    event_id = tables.Column(verbose_name="Outcome", attrs={"td": {"class": "outcome"}})
    account = tables.Column(verbose_name="Account", accessor="account_id", attrs={"td": {"class": "nowrap"}})
    occurred_at = tables.Column(verbose_name="Time", attrs={"td": {"class": "nowrap"}})
    channel = tables.Column(verbose_name="Channel")
    workflow = tables.Column(verbose_name="Workflow", attrs={"td": {"class": "mono"}})
    success_criteria_met = tables.Column(verbose_name="Criteria met")
    human_handoff = tables.Column(verbose_name="Hand-off")
    window = tables.Column(verbose_name="Window", accessor="window_ends_at", attrs={"td": {"class": "nowrap"}})
    verification_method = tables.Column(verbose_name="Verification")
    status = tables.Column(verbose_name="Status")
    non_billable_reason = tables.Column(verbose_name="Reason", attrs={"td": {"class": "reason"}})
    amount = tables.Column(verbose_name="Amount", attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    source_url = tables.Column(verbose_name="Source")

    class Meta:
        orderable = False
        attrs = {"class": "table audit"}
        empty_text = "No events match these filters."

    def __init__(self, data, *, account: Account, now: datetime, **kwargs):
        super().__init__(data, **kwargs)
        self.account = account
        self.now = now

    def render_event_id(self, record: Event):
        url = reverse("metering:event_detail", args=[self.account.external_id, record.event_id])
        return format_html(
            '<a href="{}" class="event-link">{}</a><span class="sub">{}</span>',
            url,
            record.event_id,
            record.outcome_type.name,
        )

    def render_account(self, record: Event):
        return format_html('<span class="mono" title="{}">{}</span>', self.account.name, self.account.external_id)

    def render_occurred_at(self, value: datetime):
        local = timezone.localtime(value)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            local.strftime("%Y-%m-%d %H:%M:%S %Z"),
            local.strftime("%b %-d, %H:%M"),
        )

    def render_success_criteria_met(self, value: bool):
        return format_html('<span class="yn {}">{}</span>', "yes" if value else "no", "Met" if value else "Not met")

    def render_human_handoff(self, value: bool):
        return format_html('<span class="yn {}">{}</span>', "warn" if value else "none", _YES_NO[value])

    def render_window(self, record: Event):
        state, left = window_state(record, now=self.now)
        if state == "open":
            html = '<span class="window open">Open</span> <span class="sub-inline">{} left</span>'
            return format_html(html, time_left(left))
        labels = {"closing": "Closing", "closed": "Closed", "not_needed": "Not needed"}
        return format_html('<span class="window {}">{}</span>', state, labels[state])

    def render_status(self, value: str):
        return status_badge(value)

    def render_non_billable_reason(self, value: str):
        return format_html('{}<code class="code">{}</code>', reason_text(value), value)

    def render_amount(self, record: Event):
        if record.amount is None and record.credits is not None:
            return f"{record.credits.normalize():f} credits"
        if record.status in ("non_billable", "credited"):
            return format_html('<span class="muted" title="Not charged">{}</span>', money(0, record.currency))
        return money(record.amount, record.currency)

    def render_source_url(self, value: str):
        if not value.lower().startswith(("https://", "http://")):
            return "—"
        html = (
            '<a href="{}" target="_blank" rel="noopener noreferrer" class="source">'
            'Open<span class="sr-only"> source record (opens in a new tab)</span> <span aria-hidden="true">↗</span></a>'
        )
        return format_html(html, value)


class AccountOverviewTable(tables.Table):
    """The vendor's accounts with this period's outcomes, attainment and spend."""

    name = tables.Column(verbose_name="Account")
    tier = tables.Column(verbose_name="Tier")
    outcomes = tables.Column(verbose_name="Outcomes", attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    charged = tables.Column(verbose_name="Billable", attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    pending = tables.Column(verbose_name="Pending", attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    attainment = tables.Column(
        verbose_name="Attainment",
        accessor="attainment",
        order_by=("attainment_sort",),
        attrs={"th": {"class": "num"}, "td": {"class": "num"}},
    )
    spend = tables.Column(verbose_name="Spend", attrs={"th": {"class": "num"}, "td": {"class": "num"}})

    class Meta:
        attrs = {"class": "table overview"}
        empty_text = "No accounts yet."
        order_by = ("-spend",)

    def render_name(self, record):
        url = reverse("metering:dashboard", args=[record["external_id"]])
        return format_html(
            '<a href="{}">{}</a><span class="sub mono">{}</span>', url, record["name"], record["external_id"]
        )

    def render_tier(self, record):
        parts = [p for p in (record["tier"], record["industry"]) if p]
        return " · ".join(parts) or "—"

    def render_outcomes(self, value):
        return f"{value:,}"

    def render_charged(self, value):
        return f"{value:,}"

    def render_pending(self, value):
        return f"{value:,}"

    def render_attainment(self, record):
        now, before = record["attainment"], record["previous_attainment"]
        if now is None:
            return "—"
        if before is None:
            return percent(now)
        delta = (now - before) * 100
        trend = "up" if delta >= 0.5 else "down" if delta <= -0.5 else "flat"
        arrow = {"up": "▲", "down": "▼", "flat": "▬"}[trend]
        return format_html(
            '{} <span class="trend {}" title="Last period: {}">{} {:+.1f} pt</span>',
            percent(now),
            trend,
            percent(before),
            arrow,
            delta,
        )

    def render_spend(self, record):
        return money(record["spend"], record["currency"])
