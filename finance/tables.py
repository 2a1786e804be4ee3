"""django-tables2 tables of the finance area."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

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
