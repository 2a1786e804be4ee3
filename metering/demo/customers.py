"""The demo customers: six accounts with their rhythm and story, and one user per role."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Role
from metering.demo.catalogue import Mix, _mix


def _weights(text: str) -> tuple[float, ...]:
    return tuple(float(w) for w in text.split())


# --- The customers -----------------------------------------------------------------------------


# Hour-of-day weights in the account's local time, 00:00 to 23:00.
_B2B_HOURS = _weights("0.2 0.15 0.1 0.1 0.1 0.2 0.5 1.2 2.5 4 4.6 4.5 3.8 4.2 4.4 4 3.4 2.4 1.5 1.1 0.9 0.7 0.5 0.3")
_CONSUMER_HOURS = _weights(
    "0.6 0.4 0.3 0.2 0.2 0.3 0.6 1.2 2 2.8 3.2 3.4 3.6 3.4 3.2 3.1 3.2 3.4 3.6 3.9 4 3.4 2.4 1.2"
)
_RECRUITING_HOURS = _weights(
    "0.05 0.05 0.05 0.05 0.05 0.1 0.3 1 3 4.5 4.8 4 2.2 3.6 4.6 4.4 3.6 2.6 1.6 1.2 0.8 0.4 0.2 0.1"
)
# Monday .. Sunday.
_B2B_WEEK = (1.0, 1.05, 1.05, 1.0, 0.9, 0.32, 0.25)
_CONSUMER_WEEK = (1.05, 1.0, 1.0, 1.0, 0.95, 0.78, 0.72)
_RECRUITING_WEEK = (1.0, 1.05, 1.05, 1.0, 0.85, 0.15, 0.1)


@dataclass(frozen=True)
class AccountSpec:
    external_id: str
    name: str
    tier: str
    industry: str
    use_case: str
    timezone: str
    currency: str
    share: float  # of all events over the period
    growth: float  # volume change from the first to the last day (0.3 = +30 %)
    outcomes: Mix
    channels: Mix
    workflows: dict[str, Mix]
    urls: dict[str, str]  # outcome code -> source URL template, {n} = ticket/record number
    hours: tuple[float, ...]
    week: tuple[float, ...]
    languages: tuple[str, ...] = ("en",)
    sandbox_rate: float = 0.008
    start_fraction: float = 0.0  # joined this far into the period
    onboarding_sandbox_days: int = 0  # first days after joining: heavy sandbox testing
    attainment_drift: float = 0.0  # share of successes lost by the end of the period
    incident_fraction: float | None = None  # a day with an outage: hand-offs and escalations spike
    # The commercial terms billing's demo hook is to give this account (see demo_hook_register).
    commercial: str = ""


_SAAS_SUPPORT = _mix(
    "support.password_reset 9, support.billing_question 16, support.technical_issue 22, "
    "support.account_update 12, support.how_to 18, support.integration_setup 9, "
    "support.refund 8, support.outage_notice 2"
)
_ECOMMERCE_SUPPORT = _mix(
    "support.order_status 28, support.refund 16, support.shipping_change 12, "
    "support.return_label 14, support.product_question 14, support.account_update 8, "
    "support.password_reset 6, support.outage_notice 2"
)
_FINTECH_SUPPORT = _mix(
    "support.card_freeze 18, support.transfer_status 24, support.billing_question 16, "
    "support.account_update 14, support.password_reset 12, support.dispute_charge 14, "
    "support.outage_notice 2"
)
_TELECOM_SUPPORT = _mix(
    "support.plan_change 22, support.billing_question 24, support.technical_issue 24, "
    "support.roaming 12, support.account_update 14, support.outage_notice 4"
)
_SAAS_LEADS = _mix(
    "sales.demo_request 40, sales.pricing_inquiry 25, sales.trial_signup 20, sales.enterprise_inquiry 15"
)
_REALTY_LEADS = _mix(
    "sales.showing_request 40, sales.listing_inquiry 30, sales.mortgage_prequal 15, sales.open_house_followup 15"
)
_SCREENINGS = _mix(
    "recruiting.phone_screen 45, recruiting.skills_assessment 25, recruiting.async_video 20, "
    "recruiting.reference_check 10"
)
_RETENTION = _mix(
    "retention.cancel_flow 50, retention.downgrade_offer 20, retention.pause_offer 15, retention.payment_failure 15"
)

ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec(
        external_id="acme",
        name="Acme Cloud",
        tier="enterprise",
        industry="saas",
        use_case="customer_support",
        timezone="America/New_York",
        currency="USD",
        share=0.40,
        growth=0.30,
        outcomes=_mix("resolved_conversation 92, qualified_lead 8"),
        channels=_mix("chat 55, email 30, voice 10, api 5"),
        workflows={"resolved_conversation": _SAAS_SUPPORT, "qualified_lead": _SAAS_LEADS},
        urls={
            "resolved_conversation": "https://acmecloud.zendesk.example/agent/tickets/{n}",
            "qualified_lead": "https://acmecloud.crm.example/leads/{n}",
        },
        hours=_B2B_HOURS,
        week=_B2B_WEEK,
        incident_fraction=0.7,
        commercial="platform fee $1,500/month including 1,000 resolutions, then $0.75; monthly cap $6,000 (alert)",
    ),
    AccountSpec(
        external_id="northwind",
        name="Northwind Outfitters",
        tier="mid_market",
        industry="ecommerce",
        use_case="customer_support",
        timezone="Europe/London",
        currency="USD",
        share=0.25,
        growth=0.15,
        outcomes=_mix("resolved_conversation 85, saved_cancellation 15"),
        channels=_mix("chat 60, email 25, voice 5, api 10"),
        workflows={"resolved_conversation": _ECOMMERCE_SUPPORT, "saved_cancellation": _RETENTION},
        urls={
            "resolved_conversation": "https://help.northwind.example/conversations/{n}",
            "saved_cancellation": "https://billing.northwind.example/subscriptions/{n}",
        },
        hours=_CONSUMER_HOURS,
        week=_CONSUMER_WEEK,
        languages=("en", "en", "en", "fr"),
        commercial="pure outcome, $0.99 per resolution; a few disputes credited (dispute_credited)",
    ),
    AccountSpec(
        external_id="talentbridge",
        name="TalentBridge Staffing",
        tier="smb",
        industry="recruiting",
        use_case="candidate_screening",
        timezone="America/Chicago",
        currency="USD",
        share=0.12,
        growth=0.50,
        outcomes=_mix("completed_screening 1"),
        channels=_mix("voice 50, chat 30, email 20"),
        workflows={"completed_screening": _SCREENINGS},
        urls={"completed_screening": "https://ats.talentbridge.example/candidates/{n}/screening"},
        hours=_RECRUITING_HOURS,
        week=_RECRUITING_WEEK,
        languages=("en", "en", "es"),
        commercial="credits: 300/month bundle with rollover; monthly cap 500 screenings with pause (cap_reached)",
    ),
    AccountSpec(
        external_id="ledgerly",
        name="Ledgerly",
        tier="mid_market",
        industry="fintech",
        use_case="retention",
        timezone="Europe/Berlin",
        currency="EUR",
        share=0.10,
        growth=0.10,
        outcomes=_mix("saved_cancellation 60, resolved_conversation 40"),
        channels=_mix("chat 50, email 20, voice 15, api 15"),
        workflows={"resolved_conversation": _FINTECH_SUPPORT, "saved_cancellation": _RETENTION},
        urls={
            "resolved_conversation": "https://support.ledgerly.example/cases/{n}",
            "saved_cancellation": "https://app.ledgerly.example/admin/memberships/{n}",
        },
        hours=_CONSUMER_HOURS,
        week=_CONSUMER_WEEK,
        languages=("de", "de", "en"),
        commercial="gain-share 15 % of retained revenue over a baseline; committed spend EUR 20,000/year",
    ),
    AccountSpec(
        external_id="brightpath",
        name="BrightPath Realty",
        tier="smb",
        industry="real_estate",
        use_case="lead_qualification",
        timezone="America/Los_Angeles",
        currency="USD",
        share=0.08,
        growth=-0.10,
        outcomes=_mix("qualified_lead 1"),
        channels=_mix("chat 40, email 35, voice 25"),
        workflows={"qualified_lead": _REALTY_LEADS},
        urls={"qualified_lead": "https://brightpath.crm.example/contacts/{n}"},
        hours=_CONSUMER_HOURS,
        week=_CONSUMER_WEEK,
        languages=("en", "en", "es"),
        attainment_drift=0.25,
        commercial="$4.00 per lead; monthly cap $600 with pause (cap_reached)",
    ),
    AccountSpec(
        external_id="kumo",
        name="Kumo Telecom",
        tier="enterprise",
        industry="telecom",
        use_case="customer_support",
        timezone="Asia/Tokyo",
        currency="USD",
        share=0.05,
        growth=0.60,
        outcomes=_mix("resolved_conversation 1"),
        channels=_mix("chat 45, voice 40, email 15"),
        workflows={"resolved_conversation": _TELECOM_SUPPORT},
        urls={"resolved_conversation": "https://kumo-telecom.freshdesk.example/a/tickets/{n}"},
        hours=_B2B_HOURS,
        week=_B2B_WEEK,
        languages=("ja",),
        start_fraction=0.76,
        onboarding_sandbox_days=6,
        commercial="14-day free training window (training_window), then a pilot of 500 free outcomes (pilot_free)",
    ),
)
MAIN_ACCOUNT = "acme"
SECOND_ACCOUNT = "northwind"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    account: str | None
    first_name: str
    last_name: str
    note: str
    superuser: bool = False


DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - a published demo login, not a secret
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("acme-admin", Role.CUSTOMER_ADMIN, MAIN_ACCOUNT, "Dana", "Whitfield", "customer admin, Acme Cloud"),
    DemoUser("acme-finance", Role.FINANCE_ADMIN, MAIN_ACCOUNT, "Raj", "Patel", "finance admin, Acme Cloud"),
    DemoUser("acme-viewer", Role.VIEWER, MAIN_ACCOUNT, "Lena", "Ortiz", "viewer, Acme Cloud"),
    DemoUser(
        "northwind-admin", Role.CUSTOMER_ADMIN, SECOND_ACCOUNT, "Tom", "Becker", "customer admin, Northwind Outfitters"
    ),
    DemoUser("vendor-support", Role.VENDOR_SUPPORT, None, "Sam", "Rivera", "vendor support (dispute queue)"),
    DemoUser("vendor-finance", Role.VENDOR_FINANCE, None, "Ana", "Moreau", "vendor finance (the finance area)"),
    DemoUser(
        "vendor-operator",
        Role.VENDOR_OPERATOR,
        None,
        "Morgan",
        "Lee",
        "vendor operator; also Django admin superuser",
        superuser=True,
    ),
)
