"""django-tables2 tables of the catalogue pages (vendor staff)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from outcomeportal.core import formatting

NUM = {"th": {"class": "num"}, "td": {"class": "num"}}


def price_text(value: Decimal) -> str:
    """A unit price as people write it: "0.99", "0.995", "10.00" (never "0.9900"), as the API shows it."""
    normal = value.normalize()
    return str(normal if normal.as_tuple().exponent < -2 else value.quantize(Decimal("0.01")))


class CatalogueTable(tables.Table):
    """Every outcome type (rows: metering.selectors.CatalogueRow)."""

    code = tables.Column(verbose_name="Outcome type", accessor="outcome_type__code")
    unit_price = tables.Column(verbose_name="Unit price", accessor="outcome_type__unit_price", attrs=NUM)
    value_type = tables.Column(verbose_name="Value", accessor="outcome_type__value_type")
    window = tables.Column(
        verbose_name="Window", accessor="current__measurement_window_hours", attrs=NUM, orderable=False
    )
    current = tables.Column(verbose_name="Product definition", accessor="current", orderable=False)
    overrides = tables.Column(verbose_name="Account overrides", attrs=NUM)
    costs = tables.Column(verbose_name="Delivery cost today", empty_values=(), orderable=False)

    class Meta:
        attrs = {"class": "table catalogue"}
        empty_text = "No outcome types yet."
        order_by = "code"

    def render_code(self, record):
        t = record.outcome_type
        url = reverse("catalogue:outcome_type", args=[t.code])
        inactive = mark_safe(' <span class="badge muted">inactive</span>') if not t.active else ""
        return format_html('<a href="{}">{}</a>{}<span class="sub mono">{}</span>', url, t.name, inactive, t.code)

    def render_unit_price(self, value):
        return price_text(value)

    def render_value_type(self, record):
        return record.outcome_type.get_value_type_display()

    def render_window(self, value):
        return f"{value} h"

    def render_current(self, value):
        return format_html(
            '<code class="code">v{}</code><span class="sub">{}{}</span>',
            value.version,
            formatting.day(timezone.localtime(value.created_at)),
            format_html(' · <span class="mono">{}</span>', value.created_by) if value.created_by else "",
        )

    def render_costs(self, record):
        if not record.costs:
            return mark_safe('<span class="muted">none</span>')
        return format_html_join(
            ", ",
            "{} <span class='muted small'>{}</span>",
            ((c.amount.normalize(), c.complexity or "any tier") for c in record.costs),
        )


class CriteriaHistoryTable(tables.Table):
    """Versions of a type's definitions, newest first (rows: metering.selectors.CriteriaVersionEntry)."""

    version = tables.Column(verbose_name="Version", accessor="criteria", orderable=False)
    scope = tables.Column(verbose_name="Applies to", accessor="criteria__account", empty_values=(), orderable=False)
    published = tables.Column(verbose_name="Published", accessor="criteria__created_at", orderable=False)
    created_by = tables.Column(verbose_name="By", accessor="criteria__created_by", orderable=False)
    changes = tables.Column(verbose_name="What changed", empty_values=(), orderable=False)

    class Meta:
        attrs = {"class": "table history"}
        empty_text = "No versions yet."

    def render_version(self, value):
        return format_html('<code class="code">{}</code>', value.label)

    def render_published(self, value):
        return formatting.moment(timezone.localtime(value))

    def render_created_by(self, value):
        return format_html('<span class="mono">{}</span>', value)  # a username: an identifier

    def render_scope(self, record):
        account = record.criteria.account
        if account is None:
            return mark_safe('<span class="badge muted">Every account</span>')
        url = reverse("catalogue:outcome_type", args=[record.criteria.outcome_type.code])
        return format_html(
            '<span class="badge">Override</span> <a href="{}?{}#history">{}</a>',
            url,
            urlencode({"account": account.external_id}),
            account.name,
        )

    def render_changes(self, record):
        if record.previous is None:
            return mark_safe('<span class="muted">First version.</span>')
        start = ""
        if record.is_override and record.previous.account_id is None:
            start = format_html('<p class="muted small">Started from {}.</p>', record.previous.label)
        if not record.changes:
            return format_html('{}<span class="muted">Nothing changed.</span>', start)
        rows = format_html_join(
            "",
            '<li><span class="change-field">{}</span>: <del>{}</del> → <ins>{}</ins></li>',
            ((c.label, c.before or "none", c.after or "none") for c in record.changes),
        )
        return format_html('{}<ul class="changes">{}</ul>', start, rows)
