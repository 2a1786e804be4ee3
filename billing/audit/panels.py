"""Seams through which disputes adds to the audit pages without billing importing it.

A provider returns a :class:`Panel` — a template and its context — or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from accounts.models import Account


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict = field(default_factory=dict)


EventPanelProvider = Callable[..., Panel | None]


# --- Disputes' seams (registered by disputes at start-up; billing never imports disputes) -------
# The event detail's reserved "Think this is wrong?" place shows the panels registered here; the
# audit table offers checkboxes and "<label>" buttons for the selection actions registered here;
# the vendor overview shows the overview panels (e.g. a dispute-rate warning).

_event_panels: list[EventPanelProvider] = []


def event_panel_register(provider: EventPanelProvider) -> None:
    if provider not in _event_panels:
        _event_panels.append(provider)


def event_panels(*, principal, account: Account, event) -> list[Panel]:
    return [p for provider in _event_panels if (p := provider(principal=principal, account=account, event=event))]


@dataclass(frozen=True)
class SelectionAction:
    """A button over the audit table: the checked rows' event IDs go to ``url`` as ``event=`` (GET)."""

    label: str
    url: str


SelectionActionProvider = Callable[..., SelectionAction | None]
_selection_actions: list[SelectionActionProvider] = []


def selection_action_register(provider: SelectionActionProvider) -> None:
    if provider not in _selection_actions:
        _selection_actions.append(provider)


def selection_actions(*, principal, account: Account) -> list[SelectionAction]:
    return [a for provider in _selection_actions if (a := provider(principal=principal, account=account))]


OverviewPanelProvider = Callable[..., Panel | None]
_overview_panels: list[OverviewPanelProvider] = []


def overview_panel_register(provider: OverviewPanelProvider) -> None:
    if provider not in _overview_panels:
        _overview_panels.append(provider)


def overview_panels(*, principal) -> list[Panel]:
    return [p for provider in _overview_panels if (p := provider(principal=principal))]


# --- The event's story told by downstream apps (disputes: filed, resolved, credited) ---------------


@dataclass(frozen=True)
class StoryEntry:
    """One moment of an event's life that another app knows of, for the event's timeline."""

    at: datetime
    kind: str  # e.g. "dispute"
    title: str
    detail: str = ""
    open: bool = False  # something is still open on the event (a dispute): its badge says so


EventStoryProvider = Callable[..., list[StoryEntry]]
_event_stories: list[EventStoryProvider] = []


def event_story_register(provider: EventStoryProvider) -> None:
    if provider not in _event_stories:
        _event_stories.append(provider)


def event_story(*, event) -> list[StoryEntry]:
    return [entry for provider in _event_stories for entry in provider(event=event)]
