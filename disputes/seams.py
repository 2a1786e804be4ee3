"""What disputes adds to the audit pages, through the seams billing offers (billing.audit.panels).

Registered in :meth:`disputes.apps.DisputesConfig.ready`; billing never imports disputes.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from accounts.access import Perm
from billing.audit.panels import Panel, SelectionAction, StoryEntry
from disputes import selectors, services
from disputes.forms import FileForm
from disputes.metrics import trust_metrics
from disputes.models import DisputeStatus


def event_dispute_panel(*, principal, account, event) -> Panel | None:
    """The event detail's "Think this is wrong?" place: this event's disputes, and the filing form."""
    if not principal.can(Perm.DISPUTES_READ):
        return None
    refusal = selectors.event_refusals([event]).get(event.pk)
    return Panel(
        "disputes/_event_panel.html",
        {
            "event": event,
            "account": account,
            "disputes": selectors.disputes_of_event(event=event),
            "can_file": principal.can(Perm.DISPUTES_FILE),
            "refusal": refusal,
            "form": FileForm(),
            "file_url": reverse("disputes:new", args=[account.external_id]),
            "sla_hours": services.sla_hours_for(account),
        },
    )


def dispute_selection_action(*, principal, account) -> SelectionAction | None:
    """The "Dispute selected" button over the audit table, for the people who may file."""
    if not principal.can(Perm.DISPUTES_FILE):
        return None
    return SelectionAction("Dispute selected", reverse("disputes:new", args=[account.external_id]))


def overview_dispute_warning(*, principal) -> Panel | None:
    """On the vendor overview: accounts and outcome types whose dispute rate is above the threshold."""
    if not (principal.can(Perm.ALL_ACCOUNTS) and principal.can(Perm.DISPUTES_READ)):
        return None
    metrics = trust_metrics(now=timezone.now())
    if not metrics.warnings and not metrics.breached_open:
        return None
    return Panel(
        "disputes/_overview_panel.html",
        {"m": metrics, "threshold_percent": metrics.threshold * 100, "trust_url": reverse("disputes:trust")},
    )


def event_dispute_story(*, event) -> list[StoryEntry]:
    """The event's timeline entries for its disputes: filed, resolved, credited — with their times."""
    entries = []
    uncharged = selectors.events_credited_without_money(event_ids=[event.pk])
    for dispute, item in selectors.disputes_of_event(event=event):
        ref = f"Dispute #{dispute.pk}"
        entries.append(
            StoryEntry(dispute.filed_at, "dispute", f"{ref} filed", dispute.get_reason_code_display(),
                       open=dispute.status == DisputeStatus.OPEN)
        )  # fmt: skip
        if dispute.resolved_at:
            decision = item.get_decision_display() if item.decision else dispute.get_status_display()
            entries.append(StoryEntry(dispute.resolved_at, "dispute", f"{ref} resolved: {decision.lower()}",
                                      dispute.resolution_note))  # fmt: skip
        if dispute.credited_at and item.decision == "approved" and item.event_id in uncharged:
            entries.append(StoryEntry(dispute.credited_at, "dispute", f"{ref}: resolved without a credit",
                                      "Nothing was charged for it, so there is nothing to give back"))  # fmt: skip
        elif dispute.credited_at and item.decision == "approved":
            entries.append(StoryEntry(dispute.credited_at, "dispute", f"{ref}: credited",
                                      "The charge is credited on the next invoice"))  # fmt: skip
    return entries
