"""django-tables2 tables of the portal: the audit table and the vendor's account overview."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django_tables2.rows import BoundRow, BoundRows

from accounts.models import Account
from billing.audit import window_state
from billing.labels import label
from metering.models import Event
from outcomeportal.core import formatting

_YES_NO = {True: "Yes", False: "No"}
_WINDOW_LABELS = {"closing": "Closing", "closed": "Closed", "not_needed": "Not needed"}
_EMPTY = "—"


def _e(value: object) -> str:
    """Escape for HTML text and attribute values (the standard library's, without Django's lazy wrappers)."""
    return escape(str(value), quote=True)


def _breakable(value: str) -> str:
    """Escaped, with line-break opportunities after dots and underscores (``support.<wbr>refund``)."""
    return _e(value).replace(".", ".<wbr>").replace("_", "_<wbr>")


class _DirectRow(BoundRow):
    """A row whose cells come straight from the table's ``render_<column>(record)`` methods.

    django-tables2's generic cell path inspects each render method's signature for every
    cell (650 per page); the audit table's methods all take ``record``, so it calls them
    directly, and joins the row in one go — most of the page's server time saved.
    """

    def get_cell(self, name):
        return self.table.cell(name, self.record)

    @property
    def html(self) -> str:
        """The whole ``<tr>``. Cells are safe strings built by the render methods."""
        record, cell = self.record, self.table.cell
        return mark_safe(  # noqa: S308 - every part is escaped by the render methods
            "<tr>" + "".join(f"<td {attrs}>{cell(name, record)}</td>" for name, attrs in self.table.td_attrs) + "</tr>"
        )


class _DirectRows(BoundRows):
    def __iter__(self):
        for record in self.data:
            yield _DirectRow(record, table=self.table)


class EventTable(tables.Table):
    """One row per event with the contract's audit fields. Ordering is fixed: newest first.

    Every ``render_<column>`` takes the record, renders its own empty value and escapes
    every value it prints (the page renders 650 cells; Django's lazy escaping costs more
    than the database query, hence the standard library's ``escape``).
    """

    # The outcome cell carries the outcome type and the account (the audit contract's "account").
    event_id = tables.Column(verbose_name="Outcome · account", attrs={"td": {"class": "outcome"}})
    occurred_at = tables.Column(verbose_name="Time", attrs={"td": {"class": "nowrap"}})
    channel = tables.Column(verbose_name="Channel")
    workflow = tables.Column(verbose_name="Workflow", attrs={"td": {"class": "workflow"}})
    success_criteria_met = tables.Column(verbose_name="Criteria")
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

    def __init__(self, data, *, account: Account, now: datetime, select_form: str = "", **kwargs):
        super().__init__(data, **kwargs)
        self.account = account
        self.now = now
        # Selection actions (billing.audit.panels, e.g. disputes' "Dispute selected"): each row gets a
        # checkbox ``event=<event_id>`` belonging to the page's ``select_form`` form.
        self._select_form = select_form
        self.rows = _DirectRows(data=self.data, table=self)
        self._render = {name: getattr(self, f"render_{name}") for name in self.columns.names()}
        self.td_attrs = [(c.name, c.attrs["td"].as_html()) for c in self.columns]  # safe strings
        self._detail_prefix = reverse("audit:event_detail", args=[account.external_id, "-"])[:-1]
        self._account_html = f'<span class="mono" title="{_e(account.name)}">{_e(account.external_id)}</span>'

    def cell(self, name: str, record: Event) -> str:
        """One cell's HTML. Render methods escape what they print, so the result is safe."""
        return mark_safe(self._render[name](record))  # noqa: S308

    def render_event_id(self, record: Event):
        href = self._detail_prefix + quote(record.event_id, safe="/")
        pick = ""
        if self._select_form:
            pick = (
                f'<input type="checkbox" name="event" value="{_e(record.event_id)}" form="{_e(self._select_form)}" '
                f'aria-label="Select {_e(record.event_id)}" class="row-select">'
            )
        return mark_safe(  # noqa: S308 - escaped
            f'{pick}<a href="{_e(href)}" class="event-link">{_e(record.event_id)}</a>'
            f'<span class="sub">{_e(record.outcome_type.name)} · {self._account_html}</span>'
        )

    def render_occurred_at(self, record: Event):
        local = timezone.localtime(record.occurred_at)
        return mark_safe(  # noqa: S308 - no user text
            f'<time datetime="{record.occurred_at.isoformat()}" title="{formatting.moment(local, exact=True)}">'
            f'{formatting.day(local)}<span class="sub">{local:%H:%M}</span></time>'
        )

    def render_channel(self, record: Event):
        return _e(label(record.channel, "channel")) if record.channel else _EMPTY

    def render_workflow(self, record: Event):
        return _breakable(record.workflow) if record.workflow else _EMPTY

    def render_verification_method(self, record: Event):
        method = record.verification_method
        return mark_safe(f'<span title="{_e(method)}">{_e(label(method, "method"))}</span>') if method else _EMPTY  # noqa: S308

    def render_success_criteria_met(self, record: Event):
        if record.success_criteria_met:
            return mark_safe('<span class="yn yes">Met</span>')
        return mark_safe('<span class="yn no">Not met</span>')

    def render_human_handoff(self, record: Event):
        if record.human_handoff:
            return mark_safe('<span class="yn warn">Yes</span>')
        return mark_safe('<span class="yn none">No</span>')

    def render_window(self, record: Event):
        state, left = window_state(record, now=self.now)
        if state == "open":
            left_text = formatting.duration(left)
            return mark_safe(f'<span class="window open">Open</span> <span class="sub-inline">{left_text} left</span>')  # noqa: S308
        return mark_safe(f'<span class="window {state}">{_WINDOW_LABELS[state]}</span>')  # noqa: S308

    def render_status(self, record: Event):
        status = record.shown_status  # the event's decision and its charge (billing.ledger.shown)
        words = label(status, "status")
        return mark_safe(f'<span class="badge status-{_e(status)}">{_e(words)}</span>')  # noqa: S308 - escaped

    def render_non_billable_reason(self, record: Event):
        reason = record.shown_reason
        if not reason:
            return _EMPTY
        return mark_safe(f'{_e(label(reason, "reason"))}<code class="code">{_e(reason)}</code>')  # noqa: S308

    def render_amount(self, record: Event):
        """What the event's charge adds to its invoice (an estimate until the invoice is final)."""
        charge = record.charge
        currency = record.currency or self.account.currency
        if charge is None or record.charged is None or record.shown_status in ("non_billable", "credited"):
            return mark_safe(  # noqa: S308 - escaped
                f'<span class="muted" title="Not charged">{_e(formatting.money(0, currency))}</span>'
            )
        if charge.reason == "included":
            return mark_safe('<span class="muted" title="Included in the platform fee">included</span>')
        if charge.amount is None and charge.credits is not None:
            return _e(formatting.plural(charge.credits, "credit"))
        return _e(formatting.money(charge.amount, currency))

    def render_source_url(self, record: Event):
        value = record.source_url
        if not value.lower().startswith(("https://", "http://")):
            return _EMPTY
        return mark_safe(  # noqa: S308 - escaped
            f'<a href="{_e(value)}" target="_blank" rel="noopener noreferrer" class="source">'
            'Open<span class="sr-only"> source record (opens in a new tab)</span> <span aria-hidden="true">↗</span></a>'
        )


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
    spend = tables.Column(verbose_name="Charges this month", attrs={"th": {"class": "num"}, "td": {"class": "num"}})

    class Meta:
        attrs = {"class": "table overview"}
        empty_text = "No accounts yet."
        order_by = ("-spend",)

    def render_name(self, record):
        url = reverse("audit:dashboard", args=[record["external_id"]])
        return format_html(
            '<a href="{}">{}</a><span class="sub mono">{}</span>', url, record["name"], record["external_id"]
        )

    def render_tier(self, record):
        parts = [label(p, "segment") for p in (record["tier"], record["industry"]) if p]
        return " · ".join(parts) or "—"

    def render_outcomes(self, value):
        return formatting.count(value)

    def render_charged(self, value):
        return formatting.count(value)

    def render_pending(self, value):
        return formatting.count(value)

    def render_attainment(self, record):
        now, before = record["attainment"], record["previous_attainment"]
        if now is None:
            return "—"
        if before is None:
            return formatting.percent(now)
        delta = (now - before) * 100
        trend = "up" if delta >= 0.5 else "down" if delta <= -0.5 else "flat"
        arrow = {"up": "▲", "down": "▼", "flat": "▬"}[trend]
        return format_html(
            '{} <span class="trend {}" title="Last period: {}">{} {} pt</span>',
            formatting.percent(now),
            trend,
            formatting.percent(before),
            arrow,
            f"{delta:+.1f}",
        )

    def render_spend(self, record):
        return "—" if record["spend"] is None else formatting.money(record["spend"], record["currency"])
