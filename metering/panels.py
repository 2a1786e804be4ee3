"""Seams through which downstream apps add to metering's pages without metering importing them.

Billing registers, at start-up, a panel for the usage dashboard (spend against the cap).
A provider returns a :class:`Panel` — a template and its context — or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from accounts.models import Account


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict = field(default_factory=dict)


DashboardPanelProvider = Callable[..., Panel | None]
_dashboard_panels: list[DashboardPanelProvider] = []


def dashboard_panel_register(provider: DashboardPanelProvider) -> None:
    if provider not in _dashboard_panels:
        _dashboard_panels.append(provider)


def dashboard_panels(*, account: Account) -> list[Panel]:
    return [panel for provider in _dashboard_panels if (panel := provider(account=account)) is not None]
