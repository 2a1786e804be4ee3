"""django-tables2 tables of the finance area."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from billing.labels import label, segment_words
from outcomeportal.core import formatting

NUM = {"th": {"class": "num"}, "td": {"class": "num"}}


class LifecycleTable(tables.Table):
    name = tables.Column(verbose_name="Account")
    tier = tables.Column(verbose_name="Tier")
    industry = tables.Column(verbose_name="Industry")
    use_case = tables.Column(verbose_name="Use case")
    status = tables.Column(verbose_name="Status")
    since = tables.DateTimeColumn(verbose_name="Since", format="Y-m-d")

    class Meta:
        attrs = {"class": "table"}
        empty_text = "No accounts yet."

    def render_name(self, record):
        url = reverse("finance:account_lifecycle", args=[record["external_id"]])
        return format_html(
            '<a href="{}">{}</a><span class="sub mono">{}</span>', url, record["name"], record["external_id"]
        )

    def render_status(self, value):
        return format_html('<span class="badge lifecycle-{}">{}</span>', value, value.capitalize())

    def render_tier(self, value):
        return label(value, "segment")

    def render_industry(self, value):
        return label(value, "segment")

    def render_use_case(self, value):
        return label(value, "segment")


def segment_text(segment, type_names: Mapping[str, str]) -> str:
    """A segment in words, an outcome type by its name in the catalogue ("Resolved conversation",
    not its code); the other dimensions as :func:`billing.labels.segment_words` words them."""
    words = []
    for dim, value in segment:
        if dim == "outcome_type" and value:
            words.append(type_names.get(value) or segment_words([(dim, value)]))
        else:
            words.append(segment_words([(dim, value)]))
    return " · ".join(words) or "All accounts"


def _count(value) -> str:
    return formatting.count(value)


def _pct(value) -> str:
    return formatting.percent(value)


class PeriodColumn(tables.Column):
    """A month by its name ("December 2026"), whatever the row holds it as (a period key)."""

    def render(self, value):
        return formatting.period_key(value)


class MoneyColumn(tables.Column):
    """An amount (the API's decimal string) in the table's currency: ``$1,527.75``."""

    def __init__(self, *args, currency: str = "", signed: bool = False, **kwargs):
        super().__init__(*args, **{"attrs": NUM, "orderable": False, **kwargs})
        self.currency, self.signed = currency, signed

    def render(self, value, table=None):
        currency = self.currency or getattr(table, "currency", "")
        text = formatting.money(Decimal(value), currency)
        return f"+{text}" if self.signed and Decimal(value) > 0 else text


class AttainmentTable(tables.Table):
    """The last month's attainment per segment (rows: finance.attainment.AttainmentRow)."""

    segment = tables.Column(verbose_name="Segment", accessor="segment", order_by=("segment",))
    attempted = tables.Column(verbose_name="Attempted", attrs=NUM)
    billable = tables.Column(verbose_name="Billable", attrs=NUM)
    failed = tables.Column(verbose_name="Failed", attrs=NUM, orderable=False)
    rate = tables.Column(verbose_name="Attainment", attrs=NUM)
    trailing_rate = tables.Column(verbose_name="3-month mean", attrs=NUM)
    falling = tables.Column(verbose_name="Trend", orderable=False)
    pending = tables.Column(verbose_name="Pending", accessor="not_attempted__pending", attrs=NUM, orderable=False)
    plan_free = tables.Column(verbose_name="Free by the plan", empty_values=(), attrs=NUM, orderable=False)
    credited = tables.Column(
        verbose_name="Credited", accessor="not_attempted__dispute_credited", attrs=NUM, orderable=False
    )
    excluded = tables.Column(verbose_name="Sandbox · duplicate", empty_values=(), attrs=NUM, orderable=False)

    class Meta:
        attrs = {"class": "table attainment"}
        empty_text = "No outcomes in this month."

    def __init__(self, *args, type_names: Mapping[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.type_names = type_names

    def render_segment(self, record):
        return segment_text(record.segment, self.type_names)

    def render_attempted(self, value):
        return _count(value)

    def render_billable(self, value):
        return _count(value)

    def render_failed(self, record):
        return _count(record.failed)

    def render_rate(self, record):
        return _pct(record.rate)

    def render_trailing_rate(self, record):
        return _pct(record.trailing_rate)

    def render_falling(self, record):
        if record.rate is None or record.trailing_rate is None:
            return "—"
        delta = (record.rate - record.trailing_rate) * 100
        if record.falling:
            return format_html('<span class="trend down">▼ {} pt · falling</span>', f"{delta:+.1f}")
        return format_html('<span class="trend flat">{} pt</span>', f"{delta:+.1f}")

    def render_pending(self, value):
        return _count(value)

    def render_plan_free(self, record):
        n = record.not_attempted
        return format_html(
            '<span title="training window {} · pilot {} · cap reached {} · account not active {}">{}</span>',
            n["training_window"],
            n["pilot_free"],
            n["cap_reached"],
            n["account_suspended"] + n["account_churned"],
            _count(
                n["training_window"]
                + n["pilot_free"]
                + n["cap_reached"]
                + n["account_suspended"]
                + n["account_churned"]
            ),
        )

    def render_credited(self, value):
        return _count(value)

    def render_excluded(self, record):
        n = record.not_attempted
        return f"{n['sandbox']:,} · {n['duplicate_in_session']:,}"


class MarginTable(tables.Table):
    """The last month's margin per segment and currency (rows: finance.margin.MarginRow)."""

    segment = tables.Column(verbose_name="Segment", accessor="segment")
    currency = tables.Column(verbose_name="Currency")
    charged = tables.Column(verbose_name="Charged", attrs=NUM)
    cost = tables.Column(verbose_name="Cost", attrs=NUM)
    margin = tables.Column(verbose_name="Gross margin", attrs=NUM)
    floor = tables.Column(verbose_name="Floor", attrs=NUM)
    below_floor = tables.Column(verbose_name="", orderable=False)
    loss_outcomes = tables.Column(verbose_name="Loss outcomes", attrs=NUM)
    uncosted_outcomes = tables.Column(verbose_name="No cost known", attrs=NUM)

    class Meta:
        attrs = {"class": "table margin"}
        empty_text = "Nothing charged or costed in this month."

    def __init__(self, *args, type_names: Mapping[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.type_names = type_names

    def render_segment(self, record):
        return segment_text(record.segment, self.type_names)

    def render_charged(self, record):
        return f"{record.charged:,.2f}"

    def render_cost(self, record):
        return f"{record.cost:,.2f}"

    def render_margin(self, record):
        return _pct(record.margin)

    def render_floor(self, record):
        return _pct(record.floor)

    def render_below_floor(self, record):
        if record.below_floor:
            return mark_safe('<span class="trend down">▼ below floor</span>')
        return ""

    def render_loss_outcomes(self, record):
        if not record.loss_outcomes:
            return "0"
        dims = dict(record.segment)
        query = {"period": record.period, **{k: v for k, v in dims.items() if k in ("account", "outcome_type")}}
        if "account" not in dims:
            return _count(record.loss_outcomes)
        url = reverse("finance:losses") + "?" + urlencode(query)
        return format_html('<a href="{}">{}</a>', url, _count(record.loss_outcomes))

    def render_uncosted_outcomes(self, record):
        return _count(record.uncosted_outcomes)


class RevenueMonthTable(tables.Table):
    period = PeriodColumn(verbose_name="Month", orderable=False)
    revenue = MoneyColumn(verbose_name="Invoiced")
    credits = MoneyColumn(verbose_name="Credit notes")
    net = MoneyColumn(verbose_name="Net")
    draft = tables.Column(verbose_name="", orderable=False)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    class Meta:
        attrs = {"class": "table revenue"}
        empty_text = "No invoices yet."

    def render_draft(self, value):
        return "draft — the month is not closed" if value else ""


class CohortTable(tables.Table):
    cohort = PeriodColumn(verbose_name="Cohort (first invoiced)", orderable=False)
    compared_with = PeriodColumn(verbose_name="Compared with", orderable=False)
    accounts = tables.Column(verbose_name="Accounts", attrs=NUM, orderable=False)
    start = MoneyColumn(verbose_name="Start")
    expansion = MoneyColumn(verbose_name="Expansion")
    contraction = MoneyColumn(verbose_name="Contraction")
    churn = MoneyColumn(verbose_name="Churn")
    nrr = tables.Column(verbose_name="NRR", attrs=NUM, orderable=False)
    grr = tables.Column(verbose_name="GRR", attrs=NUM, orderable=False)

    class Meta:
        attrs = {"class": "table cohorts"}
        empty_text = "No closed month with revenue yet."

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def render_nrr(self, value):
        return formatting.percent(Decimal(value))

    def render_grr(self, value):
        return formatting.percent(Decimal(value))


class ScenarioTable(tables.Table):
    """A scenario's projected months (rows: the API's months; a revenue column per currency is added)."""

    period = PeriodColumn(verbose_name="Month", orderable=False)
    attempted = tables.Column(verbose_name="Attempted", attrs=NUM, orderable=False)
    billable = tables.Column(verbose_name="Billable", attrs=NUM, orderable=False)
    attainment_rate = tables.Column(verbose_name="Attainment", attrs=NUM, orderable=False, default="—")
    churned_accounts = tables.Column(verbose_name="Churned accounts", attrs=NUM, orderable=False)

    class Meta:
        attrs = {"class": "table scenarios"}
        empty_text = "No account in this scope."

    def render_attempted(self, value):
        return _count(value)

    def render_billable(self, value):
        return _count(value)

    def render_attainment_rate(self, value):
        return _pct(Decimal(value))


class WhatIfTable(tables.Table):
    """The months of a what-if comparison: as invoiced, under the candidate, the difference (the API's figures)."""

    period = PeriodColumn(verbose_name="Month", orderable=False)
    invoice = tables.Column(verbose_name="Invoice", orderable=False)
    actual_total = MoneyColumn(verbose_name="Invoiced")
    candidate_total = MoneyColumn(verbose_name="Candidate")
    difference = MoneyColumn(verbose_name="Difference", signed=True)

    class Meta:
        attrs = {"class": "table whatif"}
        empty_text = "No closed month with a final invoice: nothing to reprice yet."

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
