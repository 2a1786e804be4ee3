"""What the seed prints last: where the portal is, who to sign in as, and what to try first.

Plain functions over plain values (no database): ``seed_demo`` gives them the host and port the
portal will listen on (``make demo`` passes its ``HOST`` and ``PORT``), the vendor key it has just
made and where emails go, and prints :func:`demo_banner`'s lines as the last thing before the server
starts — so the links are the real ones and nothing scrolls them away.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from metering.demo.customers import DEMO_PASSWORD, DEMO_USERS, DemoUser

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WIDTH = 104  # the tour's lines are wrapped to this many columns

# What to try first, per demo user: (what to do, the pages to start from). Paths are the portal's.
TOUR: dict[str, tuple[str, tuple[str, ...]]] = {
    "acme-admin": (
        "open an event's \u201cwhy\u201d (Events, any row: each criterion passed or failed, and the rule "
        "version), then file a dispute on a charged one (tick it, Dispute selected)",
        ("/account/acme/events/",),
    ),
    "acme-finance": (
        "set a monthly cap on Spend (an amount, alert thresholds, pause or keep going) and read the projection",
        ("/account/acme/spend/",),
    ),
    "acme-viewer": ("every dashboard, read-only: try to change something", ("/account/acme/",)),
    "northwind-admin": (
        "a second tenant: try to reach acme's data (every acme address answers 404)",
        ("/account/northwind/",),
    ),
    "vendor-support": (
        "resolve the dispute at the top of the queue (its SLA ends first) with a note the customer reads; "
        "the SLA warnings above the queue name the ones due soon",
        ("/disputes/queue/",),
    ),
    "vendor-operator": (
        "edit acme's contract (prices, a mid-month change prorated), void and reissue an unpaid invoice "
        "(its page, Void), create or change a plan and move an account onto it",
        ("/account/acme/contract/", "/account/talentbridge/invoices/", "/plans/"),
    ),
    "vendor-finance": (
        "scenarios (what a price or mix change does to next months) and margin by outcome type and tier",
        ("/finance/scenarios/", "/finance/margin/"),
    ),
}


def site_url(
    *, host: str | None = None, port: int | str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The address to open in a browser: ``host`` and ``port`` as given, else ``HOST`` and ``PORT``
    from ``environ``, else 127.0.0.1:8000. A wildcard address (0.0.0.0, ::) is reachable as 127.0.0.1."""
    environ = environ or {}
    host = host or environ.get("HOST") or DEFAULT_HOST
    port = port or environ.get("PORT") or DEFAULT_PORT
    if host in ("0.0.0.0", "::", "[::]", "*"):  # noqa: S104 - a listening address, read to print a link
        host = DEFAULT_HOST
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{int(port)}"


def email_destination(*, backend: str, file_path: object = None) -> str:
    """One line saying where the portal's emails go (``EMAIL_BACKEND``, ``EMAIL_FILE_PATH``)."""
    name = backend.rsplit(".", 2)[-2] if backend.count(".") >= 2 else backend
    if name == "filebased":
        return (
            f"Emails (invoices, alerts, dispute news, invitations) are written to {file_path}/, one file each; "
            "`make demo DEMO_EMAILS=console` prints them here instead."
        )
    if name == "console":
        return "Emails (invoices, alerts, dispute news, invitations) are printed in this terminal."
    if name in ("locmem", "dummy"):
        return "Emails are not sent (EMAIL_BACKEND is the " + name + " backend)."
    return f"Emails are sent through {backend}."


def demo_banner(
    *, url: str, users: tuple[DemoUser, ...] = DEMO_USERS, key: str | None = None, emails: str = ""
) -> list[str]:
    """The closing lines: the API key (when just made) and where emails go, then the sign-in banner —
    one login per role with what to try first, the last lines printed."""
    lines = [""]
    if key:
        lines += [
            f"Vendor API key (shown once, only its hash is stored): {key}",
            f'  curl -H "Authorization: Bearer {key}" "{url}/api/v1/events?account=acme&limit=5"',
        ]
    else:
        lines.append("Vendor API key: shown only when seeded; make one with `manage.py create_api_key --vendor`.")
    if emails:
        lines.append(emails)
    lines += [
        "",
        f"OutcomePortal: {url}/  (API docs {url}/api/docs/, Django admin {url}/admin/)",
        f"Sign in at {url}/accounts/login/ — every demo user's password is {DEMO_PASSWORD}.",
        "What to try first, by role:",
    ]
    indent = " " * 19
    for user in users:
        lines.append(f"  {user.username:<16} {user.note}")
        what, paths = TOUR.get(user.username, ("", ()))
        lines += textwrap.wrap(what, WIDTH, initial_indent=indent + "\u2192 ", subsequent_indent=indent + "  ")
        lines += textwrap.wrap(
            "  ".join(f"{url}{path}" for path in paths),
            WIDTH,
            initial_indent=indent + "  ",
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    lines.append("")
    return lines
