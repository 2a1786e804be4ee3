"""The demo world: one vendor, its customers, and 90 days of their outcomes.

Used by ``manage.py seed_demo``. Everything goes through the real services — accounts and
keys through ``accounts.services``, the catalogue through ``outcome_type_create`` and
``criteria_version_create``, events through ``events_ingest`` and signals through
``signal_record`` — so every decision, check and session claim in the demo is genuine and
replayable. Only time is simulated: events are ingested in chronological batches of up to
1,000 with ``now`` a minute or two after the batch's last event (the API refuses events
older than the late-event window), signals with ``now`` just after they happen, and
settlement runs at the end with the real clock. Accounts are independent, so two processes
ingest side by side by default (``workers``), each a group of accounts.

The world, in short (see :data:`ACCOUNTS`):

* **Helix AI** (the vendor) sells four outcomes — resolved conversations, qualified leads,
  completed screenings, saved cancellations.
* **acme** (Acme Cloud): enterprise SaaS support desk, New York, with an enterprise
  override of the resolution definition (48 h window, customer or LLM verification only,
  password resets and outage notices excluded). The main demo account.
* **northwind** (Northwind Outfitters): mid-market e-commerce, London; support and a
  subscription box's cancellation saves.
* **talentbridge**: SMB recruiting firm, Chicago; candidate screenings.
* **ledgerly**: fintech retention team, Berlin, billed in EUR.
* **brightpath** (BrightPath Realty): SMB real estate leads, Los Angeles; attainment
  slowly falling (the churn-risk story).
* **kumo** (Kumo Telecom): enterprise telecom, Tokyo; onboarded three weeks ago, many
  sandbox events in its first week.

Day and week rhythm follow each account's local time zone (business-hours peak, evening
tail for consumer brands, weekend dip), volumes grow over the period, and one account has
an incident day with a burst of hand-offs. Every non-billable reason the pipeline
decides from events and signals appears; those that need contracts, caps and disputes come from
the hooks other apps register (see "Hooks" below).
"""

from __future__ import annotations

import bisect
import heapq
import multiprocessing
import queue
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, ForeignKey, ProtectedError, Q, RestrictedError, Sum
from django.utils import timezone

from accounts.models import Account, ApiKey, ApiKeyScope, Role, User, Vendor
from accounts.services import account_create, api_key_create
from metering.ingest import MAX_BATCH, events_ingest
from metering.models import Event, OutcomeType, SessionClaim, Signal, SuccessCriteria
from metering.services import (
    WindowClosed,
    criteria_version_create,
    outcome_type_create,
    outcomes_settle,
    signal_record,
)

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - a published demo login, not a secret
DEMO_VENDOR_NAME = "Helix AI"
DEMO_KEY_NAME = "demo vendor key (seed_demo)"
CREATED_BY = "seed_demo"
INGEST_LAG_SECONDS = 90  # the platform posts a batch about this long after its last event
BATCH_SPAN_SECONDS = 12 * 3600  # and posts at least twice a day, however quiet the weekend

Progress = Callable[[str], None]


def _weights(text: str) -> tuple[float, ...]:
    return tuple(float(w) for w in text.split())


class Mix:
    """Names with relative weights, and a fast weighted pick."""

    __slots__ = ("cumulative", "names")

    def __init__(self, pairs: list[tuple[str, float]]):
        self.names = tuple(name for name, _ in pairs)
        total, cumulative = 0.0, []
        for _, weight in pairs:
            total += weight
            cumulative.append(total / sum(w for _, w in pairs))
        cumulative[-1] = float("inf")  # random() < 1 always lands inside
        self.cumulative = tuple(cumulative)

    def pick(self, rng: random.Random) -> str:
        return self.names[bisect.bisect(self.cumulative, rng.random())]


def _mix(text: str) -> Mix:
    """ "chat 55, email 30" -> chat 55 parts in 85, email 30 parts in 85."""
    return Mix([(name, float(weight)) for name, weight in (item.split() for item in text.split(","))])


# --- The catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    code: str
    name: str
    unit_price: str
    value_type: str
    window_hours: int
    description: str
    criteria: dict
    # What the platform's verification step reports: accepted methods, and one it does not accept.
    verified_by: Mix
    unverified_by: str
    # Scenario -> weight. "ok" is a success; others name how the attempt went wrong.
    scenarios: Mix
    repeat_rate: float  # share of sessions with a second event (duplicate_in_session)
    # Signals on successful events: (type, probability, inside the window?, note).
    signals: tuple[tuple[str, float, bool, str], ...]


OUTCOME_TYPES: tuple[OutcomeSpec, ...] = (
    OutcomeSpec(
        code="resolved_conversation",
        name="Resolved conversation",
        unit_price="0.99",
        value_type="labor_savings",
        window_hours=72,
        description="A customer conversation the AI agent resolved end to end, verified, not reopened within 72 h.",
        criteria={
            "measurement_window_hours": 72,
            "one_per_session": True,
            "required_verification_methods": ["customer_confirmed", "inactivity_timeout"],
            "confirm_closes_window": True,
            "reopen_after_window": "new_outcome",
            "system_action": "an AI support conversation",
            "customer_result": "a customer request resolved with no human involved",
            "failure_condition": "a hand-off to a human, a reopen or an escalation",
            "verification_source": "the customer's confirmation or 72 hours without a reply",
            "dispute_process": "Flag the conversation in the portal; vendor support answers within 48 hours.",
        },
        verified_by=_mix("customer_confirmed 35, inactivity_timeout 65"),
        unverified_by="agent_self_report",
        scenarios=_mix(
            "ok 71, handoff 8, abandoned 5, greeting_only 4, unanswered_question 3.5, "
            "workflow_failed 1.5, not_met 4, unverified 2"
        ),
        repeat_rate=0.04,
        signals=(
            ("reopened", 0.005, True, "Customer replied: the problem is back."),
            ("escalated", 0.002, True, "Customer asked for a manager."),
            ("confirmed", 0.004, True, "Customer clicked 'Yes, this solved it'."),
            ("reopened", 0.0015, False, "Customer wrote again about the same ticket, after the window."),
        ),
    ),
    OutcomeSpec(
        code="qualified_lead",
        name="Qualified lead",
        unit_price="4.00",
        value_type="revenue_generation",
        window_hours=168,
        description="An inbound lead the AI SDR qualified and the customer's sales team accepted in its CRM.",
        criteria={
            "measurement_window_hours": 168,
            "one_per_session": True,
            "required_verification_methods": ["crm_accepted"],
            "system_action": "the AI SDR's qualification of an inbound lead",
            "customer_result": "a sales-qualified lead accepted in the customer's CRM",
            "failure_condition": "sales rejecting or disqualifying the lead",
            "verification_source": "CRM acceptance by the customer's sales team",
            "dispute_process": "Flag the lead; vendor support checks the CRM history within 48 hours.",
        },
        verified_by=_mix("crm_accepted 1"),
        unverified_by="sdr_review",
        scenarios=_mix("ok 45, not_met 30, abandoned 8, no_show 5, handoff 6, workflow_failed 1.5, unverified 4.5"),
        repeat_rate=0.02,
        signals=(
            ("reversed", 0.03, True, "Sales disqualified the lead (no budget)."),
            ("confirmed", 0.004, True, "Opportunity created in the CRM."),
            ("reversed", 0.006, False, "Sales disqualified the lead after the window."),
        ),
    ),
    OutcomeSpec(
        code="completed_screening",
        name="Completed screening",
        unit_price="2.50",
        value_type="labor_savings",
        window_hours=24,
        description="A candidate screening the AI recruiter completed and recorded in the customer's ATS.",
        criteria={
            "measurement_window_hours": 24,
            "one_per_session": True,
            "required_verification_methods": ["ats_recorded", "recruiter_confirmed"],
            "system_action": "an AI-run candidate screening",
            "customer_result": "a completed screening with a scorecard in the ATS",
            "failure_condition": "a no-show, a dropped call or an incomplete scorecard",
            "verification_source": "the ATS record or the recruiter's confirmation",
        },
        verified_by=_mix("ats_recorded 80, recruiter_confirmed 20"),
        unverified_by="self_reported",
        scenarios=_mix("ok 62, no_show 14, abandoned 9, workflow_failed 4, handoff 4, not_met 5, unverified 2"),
        repeat_rate=0.03,
        signals=(
            ("reversed", 0.005, True, "Recruiter marked the scorecard incomplete."),
            ("reversed", 0.0025, False, "Recruiter marked the scorecard incomplete after the window."),
        ),
    ),
    OutcomeSpec(
        code="saved_cancellation",
        name="Saved cancellation",
        unit_price="8.00",
        value_type="revenue_generation",
        window_hours=336,
        description="A member who started to cancel and stayed: still subscribed 14 days later.",
        criteria={
            "measurement_window_hours": 336,
            "one_per_session": True,
            "required_verification_methods": ["billing_system"],
            "reopen_after_window": "continuation",
            "system_action": "the AI retention agent's handling of a cancellation request",
            "customer_result": "a membership kept active",
            "failure_condition": "the member cancelling anyway",
            "verification_source": "the subscription status in the billing system 14 days later",
        },
        verified_by=_mix("billing_system 1"),
        unverified_by="agent_self_report",
        scenarios=_mix("ok 38, not_met 45, abandoned 6, handoff 7, workflow_failed 2, unverified 2"),
        repeat_rate=0.02,
        signals=(
            ("reversed", 0.04, True, "Member cancelled within 14 days."),
            ("reversed", 0.008, False, "Member cancelled after the 14-day window."),
        ),
    ),
)
OUTCOME_BY_CODE = {o.code: o for o in OUTCOME_TYPES}

# Product definition v2 of resolved_conversation, rolled out mid-period: the platform shipped
# LLM verification of transcripts, and proactive outage notices stopped counting as resolutions.
RESOLUTION_V2_AT_FRACTION = 0.5
RESOLUTION_V2 = {
    "required_verification_methods": ["customer_confirmed", "inactivity_timeout", "llm_verified"],
    "excluded_workflows": ["support.outage_notice"],
    "verification_source": "the customer's confirmation, 72 hours without a reply, or an LLM review of the transcript",
}
RESOLUTION_V2_VERIFIED_BY = _mix("customer_confirmed 30, inactivity_timeout 42, llm_verified 28")

# Acme's enterprise definition of a resolution (overrides the product one for acme only).
ACME_OVERRIDE = {
    "measurement_window_hours": 48,
    "required_verification_methods": ["customer_confirmed", "llm_verified"],
    "excluded_workflows": ["support.password_reset", "support.outage_notice"],
    "customer_result": "a ticket marked solved in Acme's Zendesk without an agent touching it",
    "verification_source": "Acme's Zendesk ticket status or the LLM transcript review",
    "dispute_process": "Acme's support-ops lead reviews disputed tickets weekly; credits within 5 business days.",
}
ACME_VERIFIED_BY = _mix("customer_confirmed 45, llm_verified 52, inactivity_timeout 3")


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


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("acme-admin", Role.CUSTOMER_ADMIN, MAIN_ACCOUNT, "Dana", "Whitfield", "customer admin, Acme Cloud"),
    DemoUser("acme-finance", Role.FINANCE_ADMIN, MAIN_ACCOUNT, "Raj", "Patel", "finance admin, Acme Cloud"),
    DemoUser("acme-viewer", Role.VIEWER, MAIN_ACCOUNT, "Lena", "Ortiz", "viewer, Acme Cloud"),
    DemoUser(
        "northwind-admin", Role.CUSTOMER_ADMIN, SECOND_ACCOUNT, "Tom", "Becker", "customer admin, Northwind Outfitters"
    ),
    DemoUser("vendor-support", Role.VENDOR_SUPPORT, None, "Sam", "Rivera", "vendor support (dispute queue)"),
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

_COMPLEXITY = {
    "support.technical_issue": "complex",
    "support.integration_setup": "complex",
    "support.dispute_charge": "complex",
    "support.refund": "moderate",
    "support.billing_question": "moderate",
    "support.product_question": "moderate",
    "support.plan_change": "moderate",
    "support.roaming": "moderate",
}
_COMPLEXITIES = ("simple", "moderate", "complex")
_COST = {"simple": 0.03, "moderate": 0.12, "complex": 0.45}
_TYPE_COST = {"qualified_lead": 0.6, "completed_screening": 0.35, "saved_cancellation": 0.8}
_SHORT = {
    "resolved_conversation": "rc",
    "qualified_lead": "ql",
    "completed_screening": "cs",
    "saved_cancellation": "sc",
}
_FAILURES = {"abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"}


# --- What exists ---------------------------------------------------------------------------------


def demo_present() -> list[str]:
    """What of the demo world (or something in its way) is already in the database."""
    found = [
        f"account {ext}"
        for ext in Account.objects.filter(external_id__in=[a.external_id for a in ACCOUNTS]).values_list(
            "external_id", flat=True
        )
    ]
    found += [
        f"outcome type {code}"
        for code in OutcomeType.objects.filter(code__in=list(OUTCOME_BY_CODE)).values_list("code", flat=True)
    ]
    found += [
        f"user {name}"
        for name in User.objects.filter(username__in=[u.username for u in DEMO_USERS]).values_list(
            "username", flat=True
        )
    ]
    return found


def demo_reset(*, progress: Progress = lambda _: None) -> None:
    """Delete the demo world: its accounts and everything they own, its catalogue, users and key.

    Rows of downstream apps (billing, disputes) that point at demo accounts, events or outcome
    types are found through the app registry — metering imports nothing to its right — and
    deleted first. Events go by plain SQL: millions of rows, no per-row ORM work.

    Finalized invoices, credit notes and contract versions are guarded by triggers that refuse
    any delete — rightly, for real customers. A demo that ran ``build_invoices`` has them, so
    the reset switches triggers off for its own transaction (``session_replication_role``,
    which needs a superuser role: the embedded server's and CI's). Without that right, such a
    demo cannot be deleted and the error says so.
    """
    account_ids = list(
        Account.objects.filter(external_id__in=[a.external_id for a in ACCOUNTS]).values_list("pk", flat=True)
    )
    codes = list(OUTCOME_BY_CODE)
    with transaction.atomic():
        triggers_off = _triggers_off()
        _downstream_delete(account_ids=account_ids, codes=codes, triggers_off=triggers_off)
        with connection.cursor() as cursor:
            for model in (Signal, SessionClaim, Event):
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE account_id = ANY(%s)", [account_ids])
                if model is Event:
                    progress(f"Deleted {cursor.rowcount:,} demo events.")
        SuccessCriteria.objects.filter(account_id__in=account_ids).delete()
        Account.objects.filter(pk__in=account_ids).delete()  # users, keys, claims and rollups go with them
        used = set(Event.objects.filter(outcome_type__code__in=codes).values_list("outcome_type__code", flat=True))
        if used:
            raise RuntimeError(
                f"Outcome types {', '.join(sorted(used))} have events of non-demo accounts; "
                "use a fresh database for the demo."
            )
        SuccessCriteria.objects.filter(outcome_type__code__in=codes).delete()
        OutcomeType.objects.filter(code__in=codes).delete()
        User.objects.filter(username__in=[u.username for u in DEMO_USERS]).delete()
        ApiKey.objects.filter(scope=ApiKeyScope.VENDOR, name=DEMO_KEY_NAME).delete()


def _triggers_off() -> bool:
    """Switch triggers off until the end of the transaction, if this role may (see demo_reset)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def _downstream_delete(*, account_ids: list[int], codes: list[str], triggers_off: bool) -> None:
    """Delete rows of apps right of metering that reference demo accounts, events or outcome types."""
    lookups = {
        Account: lambda name: Q(**{f"{name}__in": account_ids}),
        Event: lambda name: Q(**{f"{name}__account_id__in": account_ids}),
        OutcomeType: lambda name: Q(**{f"{name}__code__in": codes}),
        SuccessCriteria: lambda name: Q(**{f"{name}__outcome_type__code__in": codes}),
    }
    pending = []
    tables = set(connection.introspection.table_names())
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ("accounts", "metering") or model._meta.db_table not in tables:
            continue
        query = Q()
        for f in model._meta.get_fields():
            if isinstance(f, ForeignKey) and f.related_model in lookups:
                query |= lookups[f.related_model](f.name)
        if query:
            pending.append((model, query))
    # Rows may protect each other; retry in rounds until nothing is left or nothing moves.
    errors: dict[str, str] = {}
    while pending:
        failed = []
        for model, query in pending:
            try:
                with transaction.atomic():
                    model._base_manager.filter(query).delete()
            except (DatabaseError, ProtectedError, RestrictedError) as exc:  # try again next round
                failed.append((model, query))
                errors[model._meta.label] = str(exc).splitlines()[0]
        if len(failed) == len(pending):
            break
        pending = failed
    if pending:
        details = "; ".join(f"{m._meta.label}: {errors[m._meta.label]}" for m, _ in pending)
        hint = "" if triggers_off else " (this database role may not switch triggers off)"
        raise RuntimeError(
            f"Could not delete the demo's rows of other apps{hint}: {details}. "
            "Use a fresh database for the demo (e.g. make db-stop && rm -rf .data/pg)."
        )


# --- The seed ----------------------------------------------------------------------------------


@dataclass
class SeedReport:
    events_requested: int
    days: int
    seed: int
    workers: int = 1
    generated: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    rejections: Counter = field(default_factory=Counter)
    retried: int = 0
    batches: int = 0
    signals: Counter = field(default_factory=Counter)  # effect -> count
    settled: int = 0
    run_seconds: float = 0.0  # generating, ingesting and signalling, wall clock
    signal_seconds: float = 0.0  # of which posting signals (summed over workers)
    settle_seconds: float = 0.0
    total_seconds: float = 0.0
    vendor_key: str = ""
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_account: list[tuple[str, int, int, Decimal | None]] = field(default_factory=list)
    criteria_versions: list[str] = field(default_factory=list)

    def add(self, other: SeedReport) -> None:
        """Fold a worker's counts into this report."""
        for name in ("generated", "accepted", "duplicates", "conflicts", "rejected", "retried", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejections.update(other.rejections)
        self.signals.update(other.signals)
        self.signal_seconds += other.signal_seconds


def demo_seed(
    *,
    events: int = 250_000,
    days: int = 90,
    seed: int = 42,
    now: datetime | None = None,
    workers: int = 2,
    progress: Progress = print,
) -> SeedReport:
    """Build the demo world. The database must not hold it already (see :func:`demo_reset`).

    Accounts are independent (their sessions, claims and rollups never meet), so ``workers``
    processes ingest disjoint groups of accounts side by side, each in time order; they meet
    once, when the product definition v2 of resolutions is rolled out. The world itself does
    not depend on ``workers``: every account has its own random stream.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    world = _World(now=now, days=days, seed=seed)
    world.setup(progress)
    _hooks_run("before_events", world, progress)
    report = SeedReport(events_requested=events, days=days, seed=seed, vendor_key=world.vendor_key)
    cells = world.quota(events)
    groups = _partition(cells, max(1, min(workers, len(ACCOUNTS))))
    report.workers = len(groups)

    t = time.perf_counter()
    if len(groups) == 1:
        report.add(world.run(cells=groups[0], v2_gate=world.resolution_v2, progress=progress))
    else:
        for part in _run_parallel(world, groups, progress):
            report.add(part)
    report.run_seconds = time.perf_counter() - t

    t = time.perf_counter()
    report.settled = outcomes_settle(now=now)
    report.settle_seconds = time.perf_counter() - t
    _hooks_run("after_settlement", world, progress)
    _summarise(report, world)
    report.total_seconds = time.perf_counter() - started
    return report


def _partition(cells: list[_Cell], workers: int) -> list[list[_Cell]]:
    """Split the accounts into ``workers`` groups of about equal volume (largest first)."""
    volume = Counter()
    for cell in cells:
        volume[cell.spec.external_id] += cell.events
    loads = [0] * workers
    group_of = {}
    for external_id, n in volume.most_common():
        k = loads.index(min(loads))
        group_of[external_id] = k
        loads[k] += n
    groups: list[list[_Cell]] = [[] for _ in range(workers)]
    for cell in cells:
        groups[group_of[cell.spec.external_id]].append(cell)
    return [g for g in groups if g]


def _run_parallel(world: _World, groups: list[list[_Cell]], progress: Progress) -> list[SeedReport]:
    """Run one forked process per group; relay their progress; return their reports."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(groups))
    messages = context.Queue()
    connections.close_all()  # each process opens its own connection

    def gate(index: int) -> None:
        # Everyone stops at the roll-out moment; one creates v2; everyone goes on with it.
        # No timeout: a process that fails or dies breaks the barrier for the others.
        barrier.wait()
        if index == 0:
            world.resolution_v2()
        barrier.wait()

    def work(index: int, cells: list[_Cell]) -> None:
        try:
            part = world.run(
                cells=cells,
                v2_gate=lambda: gate(index),
                progress=lambda text: messages.put(("progress", index, text)),
            )
            messages.put(("done", index, part))
        except BaseException:
            barrier.abort()
            messages.put(("error", index, traceback.format_exc()))
        finally:
            connections.close_all()

    processes = [context.Process(target=work, args=(i, cells), daemon=True) for i, cells in enumerate(groups)]
    for process in processes:
        process.start()
    reports: dict[int, SeedReport] = {}
    latest: dict[int, str] = {}
    errors: list[str] = []
    failed: set[int] = set()
    shown = time.perf_counter()
    while len(reports) + len(failed) < len(processes):
        try:
            kind, index, payload = messages.get(timeout=5)
        except queue.Empty:
            for index, process in enumerate(processes):
                if not process.is_alive() and index not in reports and index not in failed:
                    failed.add(index)
                    errors.append(f"seeding process {index} died (exit code {process.exitcode})")
                    barrier.abort()
            continue
        if kind == "progress":
            latest[index] = payload
            if time.perf_counter() - shown > 5:
                shown = time.perf_counter()
                progress("  " + " | ".join(latest[i] for i in sorted(latest)))
        elif kind == "done":
            reports[index] = payload
        elif index not in failed:
            failed.add(index)
            errors.append(payload)
    for process in processes:
        process.join(timeout=30)
    if errors:
        raise RuntimeError("Seeding failed in a worker process:\n" + "\n".join(errors))
    return [reports[i] for i in sorted(reports)]


# --- Hooks: what apps to the right of metering add to the world ---------------------------------
#
# The reasons training_window, pilot_free, cap_reached and dispute_credited need contracts,
# spend controls and disputes, which live in billing and disputes — apps metering must not
# import. They plug in here instead, at start-up (their ``AppConfig.ready``):
#
#     from metering.demo import demo_hook_register
#     demo_hook_register("before_events", billing_demo_terms)      # billing
#     demo_hook_register("after_settlement", disputes_demo_file)   # disputes
#
# Billing does its part: ``billing.demo`` (registered in ``billing.apps``) gives, before any
# event is ingested, acme a platform fee with included resolutions, kumo a 14-day training
# window then a 500-outcome pilot (training_window, pilot_free), and brightpath ($600) and
# talentbridge (500 screenings) monthly caps that pause (cap_reached).
# Disputes does its part: ``disputes.demo`` (registered in ``disputes.apps``) files disputes
# after settlement, resolves most of them and credits the approved ones (dispute_credited),
# leaving a few open in the support queue.


@dataclass(frozen=True)
class DemoContext:
    """What a hook gets: the demo accounts and the simulated period."""

    accounts: dict[str, int]  # external_id -> Account pk
    specs: tuple[AccountSpec, ...]
    period_start: datetime
    now: datetime
    progress: Progress


DemoHook = Callable[[DemoContext], None]
_HOOKS: dict[str, list[DemoHook]] = {"before_events": [], "after_settlement": []}


def demo_hook_register(stage: str, hook: DemoHook) -> None:
    """Run ``hook(context)`` at ``stage`` ("before_events" or "after_settlement") of every seed."""
    if stage not in _HOOKS:
        raise ValueError(f"stage must be one of {', '.join(_HOOKS)}")
    if hook not in _HOOKS[stage]:
        _HOOKS[stage].append(hook)


def _hooks_run(stage: str, world: _World, progress: Progress) -> None:
    context = DemoContext(
        accounts=dict(world.account_pk),
        specs=ACCOUNTS,
        period_start=datetime.fromtimestamp(world.start_ts, UTC),
        now=world.now,
        progress=progress,
    )
    for hook in _HOOKS[stage]:
        hook(context)


def _summarise(report: SeedReport, world: _World) -> None:
    events = Event.objects.filter(account_id__in=world.account_pk.values())
    report.by_status = dict(events.values_list("status").annotate(n=Count("id")).order_by("-n"))
    report.by_reason = dict(
        events.exclude(non_billable_reason="").values_list("non_billable_reason").annotate(n=Count("id")).order_by("-n")
    )
    rows = (
        events.values_list("account__external_id")
        .annotate(
            n=Count("id"),
            billable=Count("id", filter=Q(status="billable")),
            amount=Sum("amount", filter=Q(status="billable")),
        )
        .order_by("-n")
    )
    report.by_account = list(rows)
    report.criteria_versions = [
        c.label
        for c in SuccessCriteria.objects.filter(outcome_type__code__in=list(OUTCOME_BY_CODE))
        .select_related("outcome_type", "account")
        .order_by("outcome_type__code", "account_id", "version")
    ]


@dataclass(frozen=True)
class _Cell:
    """One account's local day: when its hours start, how they weigh, how many events it has."""

    spec: AccountSpec
    day: date
    hour_starts: list[float]  # epoch seconds of each whole hour inside the period
    hour_cum: list[float]  # cumulative weights of those hours
    events: int
    incident: bool


@dataclass
class _Plan:
    """A signal to post once its event is stored."""

    at: float  # epoch seconds
    type: str
    note: str
    pk: int = 0
    ingested_at: float = 0.0


class _World:
    """The generator: deterministic for a given seed and ``now``."""

    def __init__(self, *, now: datetime, days: int, seed: int):
        self.now = now
        self.now_ts = now.timestamp()
        self.start_ts = self.now_ts - days * 86400
        self.days = days
        self.seed = seed
        self.account_pk: dict[str, int] = {}
        self.vendor_key = ""
        self.v2_at = self.start_ts + RESOLUTION_V2_AT_FRACTION * days * 86400
        # Per run (per worker process):
        self.rngs: dict[str, random.Random] = {}
        self.v2_passed = False
        self.seq: Counter = Counter()
        self.session_seq: Counter = Counter()
        self.planned: dict[tuple[int, str], list[_Plan]] = {}
        self.signal_heap: list[tuple[float, int, _Plan]] = []
        self._tiebreak = 0

    def _rng(self, external_id: str) -> random.Random:
        if external_id not in self.rngs:
            self.rngs[external_id] = random.Random(f"{self.seed}:{external_id}")
        return self.rngs[external_id]

    # --- the fixed part: vendor, catalogue, accounts, people, key ---

    def setup(self, progress: Progress) -> None:
        if not Vendor.objects.exists():
            Vendor.objects.create(name=DEMO_VENDOR_NAME)
        start = datetime.fromtimestamp(self.start_ts, UTC)
        for spec in OUTCOME_TYPES:
            outcome_type_create(
                code=spec.code,
                name=spec.name,
                unit_price=Decimal(spec.unit_price),
                value_type=spec.value_type,
                description=spec.description,
                created_by=CREATED_BY,
                **spec.criteria,
            )
        # The definitions were agreed before the period starts (rows keep their simulated dates).
        SuccessCriteria.objects.filter(outcome_type__code__in=list(OUTCOME_BY_CODE)).update(
            created_at=start - timedelta(days=30)
        )
        for spec in ACCOUNTS:
            account = account_create(
                external_id=spec.external_id,
                name=spec.name,
                currency=spec.currency,
                timezone_name=spec.timezone,
                tier=spec.tier,
                industry=spec.industry,
                use_case=spec.use_case,
            )
            joined = start + timedelta(days=spec.start_fraction * self.days) - timedelta(days=14)
            Account.objects.filter(pk=account.pk).update(created_at=joined)
            self.account_pk[spec.external_id] = account.pk
        override = criteria_version_create(
            outcome_type=OutcomeType.objects.get(code="resolved_conversation"),
            account=Account.objects.get(pk=self.account_pk[MAIN_ACCOUNT]),
            created_by=CREATED_BY,
            **ACME_OVERRIDE,
        )
        SuccessCriteria.objects.filter(pk=override.pk).update(created_at=start - timedelta(days=7))

        password = make_password(DEMO_PASSWORD)  # hashed once: six users, one (deliberately slow) hash
        for u in DEMO_USERS:
            User.objects.create(
                username=u.username,
                password=password,
                role=u.role,
                account_id=self.account_pk[u.account] if u.account else None,
                first_name=u.first_name,
                last_name=u.last_name,
                email=f"{u.username}@demo.outcomeportal.example",
                is_staff=u.superuser,
                is_superuser=u.superuser,
            )
        self.vendor_key = api_key_create(name=DEMO_KEY_NAME).secret
        progress(
            f"Created the vendor, {len(OUTCOME_TYPES)} outcome types, {len(ACCOUNTS)} accounts "
            f"and {len(DEMO_USERS)} users."
        )

    def resolution_v2(self) -> None:
        """Roll out version 2 of the product definition of a resolution (at ``v2_at``)."""
        criteria = criteria_version_create(
            outcome_type=OutcomeType.objects.get(code="resolved_conversation"),
            account=None,
            created_by=CREATED_BY,
            **RESOLUTION_V2,
        )
        SuccessCriteria.objects.filter(pk=criteria.pk).update(created_at=datetime.fromtimestamp(self.v2_at, UTC))

    # --- the volume: how many events each account has on each of its local days ---

    def quota(self, events: int) -> list[_Cell]:
        cells: list[_Cell] = []
        weights: list[float] = []
        for spec in ACCOUNTS:
            rng = random.Random(f"{self.seed}:{spec.external_id}:volume")
            tz = ZoneInfo(spec.timezone)
            joined_ts = max(self.start_ts, self.start_ts + spec.start_fraction * self.days * 86400)
            incident = None
            if spec.incident_fraction is not None:
                incident_ts = self.start_ts + spec.incident_fraction * self.days * 86400
                incident = datetime.fromtimestamp(incident_ts, tz).date()
            day = datetime.fromtimestamp(joined_ts, tz).date()
            last = datetime.fromtimestamp(self.now_ts, tz).date()
            while day <= last:
                starts, hour_weights = [], []
                for hour in range(24):
                    ts = datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp()
                    # Whole hours inside the period, ending at least an hour before now.
                    if ts >= joined_ts and ts + 7200 <= self.now_ts:
                        starts.append(ts)
                        hour_weights.append(spec.hours[hour])
                if starts:
                    through = (starts[0] - self.start_ts) / (self.days * 86400)
                    weights.append(
                        spec.share
                        * (1 + spec.growth * through)
                        * spec.week[day.weekday()]
                        * max(0.6, rng.gauss(1.0, 0.07))
                        * (sum(hour_weights) / sum(spec.hours))
                        * (1.6 if day == incident else 1.0)
                    )
                    cum, total = [], 0.0
                    for w in hour_weights:
                        total += w
                        cum.append(total)
                    cells.append(_Cell(spec, day, starts, cum, 0, day == incident))
                day += timedelta(days=1)
        if not cells:
            return []
        # Largest remainders: the counts add up to exactly ``events``.
        exact = [events * w / sum(weights) for w in weights]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(cells)), key=lambda k: counts[k] - exact[k])
        for k in by_remainder[: events - sum(counts)]:
            counts[k] += 1
        return [
            _Cell(c.spec, c.day, c.hour_starts, c.hour_cum, n, c.incident) for c, n in zip(cells, counts, strict=True)
        ]

    # --- one account's local day of events ---

    def _day(self, cell: _Cell) -> list[tuple[float, dict]]:
        spec = cell.spec
        rng = self._rng(spec.external_id)
        ext = spec.external_id
        out: list[tuple[float, dict]] = []
        joined_ts = self.start_ts + spec.start_fraction * self.days * 86400
        starts, cum = cell.hour_starts, cell.hour_cum
        while len(out) < cell.events:
            hour = min(bisect.bisect(cum, rng.random() * cum[-1]), len(starts) - 1)
            ts = starts[hour] + rng.random() * 3600
            code = spec.outcomes.pick(rng)
            channel = spec.channels.pick(rng)
            sandbox_rate = spec.sandbox_rate
            if spec.onboarding_sandbox_days and ts < joined_ts + spec.onboarding_sandbox_days * 86400:
                sandbox_rate = 0.3  # the integration team testing against production
            sandbox = rng.random() < sandbox_rate
            self.session_seq[ext] += 1
            number = 100_000 + self.session_seq[ext]
            session = f"{'sbx' if sandbox else channel}-{ext}-{number}"
            out.append(self._event(rng, cell, code, ts, channel, session, number, sandbox, repeat=False))
            later = ts + rng.uniform(300, 5400)
            if rng.random() < OUTCOME_BY_CODE[code].repeat_rate and len(out) < cell.events and later < self.now_ts:
                out.append(self._event(rng, cell, code, later, channel, session, number, sandbox, repeat=True))
        return out

    def _event(self, rng, cell, code, ts, channel, session, number, sandbox, *, repeat) -> tuple[float, dict]:
        spec = cell.spec
        outcome = OUTCOME_BY_CODE[code]
        ext = spec.external_id
        self.seq[ext] += 1
        event_id = f"{'sbx-' if sandbox else ''}{ext}-{_SHORT[code]}-{self.seq[ext]:08d}"
        workflow = spec.workflows[code].pick(rng)

        scenario = outcome.scenarios.pick(rng)
        if repeat and rng.random() < 0.75:
            scenario = "ok"  # the customer came back and the agent "resolved" it again
        if cell.incident and scenario == "ok" and rng.random() < 0.25:
            scenario = "handoff"  # outage day: the agent hands off what it cannot answer
        if spec.attainment_drift and scenario == "ok":
            elapsed = (ts - self.start_ts) / (self.days * 86400)
            if rng.random() < spec.attainment_drift * elapsed:
                scenario = "not_met"

        if code != "resolved_conversation":
            verified_by = outcome.verified_by
        elif ext == MAIN_ACCOUNT:
            verified_by = ACME_VERIFIED_BY
        else:
            verified_by = RESOLUTION_V2_VERIFIED_BY if ts >= self.v2_at else outcome.verified_by
        success = scenario in ("ok", "unverified")
        handoff = scenario == "handoff"
        if handoff and rng.random() < 0.3:
            success = True  # the platform thought it had solved it, but a human took over
        failure = scenario if scenario in _FAILURES else ""
        if scenario in ("ok", "not_met"):
            method = verified_by.pick(rng)
        elif scenario == "unverified":
            method = outcome.unverified_by
        else:
            method = ""

        event = {
            "event_id": event_id,
            "account": ext,
            "outcome_type": code,
            "occurred_at": datetime.fromtimestamp(round(ts, 3), UTC).isoformat(timespec="milliseconds"),
            "success_criteria_met": success,
            "channel": channel,
            "workflow": workflow,
            "session_id": session,
            "verification_method": method,
            "source_url": spec.urls[code].format(n=number),
        }
        if handoff:
            event["human_handoff"] = True
        if failure:
            event["failure_reason"] = failure
        if sandbox:
            event["sandbox"] = True
        turns = 1 if failure == "greeting_only" else 2 + int(rng.random() * 13)
        language = spec.languages[int(rng.random() * len(spec.languages))]
        attributes = {"language": language, "turns": turns, "agent": "helix-2026.3"}
        if code == "resolved_conversation":
            complexity = _COMPLEXITY.get(workflow, "simple")
            if rng.random() < 0.15:
                complexity = _COMPLEXITIES[int(rng.random() * 3)]
            event["complexity"] = complexity
            cost = _COST[complexity] * (2.0 if channel == "voice" else 1.0)
            if success and rng.random() < 0.3:
                attributes["csat"] = rng.choice((3, 4, 4, 5, 5, 5))
        else:
            cost = _TYPE_COST[code]
            if code == "qualified_lead" and success:
                mean = 9.5 if ext == MAIN_ACCOUNT else 8.8  # ~$13k SaaS pipeline, ~$6.6k commission
                event["value_amount"] = f"{rng.lognormvariate(mean, 0.6):.2f}"
            elif code == "saved_cancellation" and success:
                monthly = rng.uniform(35, 90) if ext == "northwind" else rng.uniform(9.99, 49)
                event["value_amount"] = f"{monthly * 12:.2f}"  # a year of the kept subscription
                attributes["plan"] = rng.choice(("monthly", "monthly", "annual"))
            elif code == "completed_screening":
                attributes["role"] = rng.choice(("warehouse associate", "nurse", "driver", "sales rep", "technician"))
        event["cost_amount"] = f"{cost * rng.uniform(0.7, 1.4):.4f}"
        event["attributes"] = attributes

        if scenario == "ok" and not sandbox and not repeat:
            self._plan_signals(rng, spec, outcome, event_id, ts, method)
        return ts, event

    def _plan_signals(self, rng, spec, outcome, event_id, ts, method) -> None:
        roll = rng.random()
        for type_, probability, in_window, note in outcome.signals:
            if roll >= probability:
                roll -= probability
                continue
            if type_ == "confirmed" and method == "customer_confirmed":
                return  # the customer had confirmed already
            window = outcome.window_hours * 3600
            if outcome.code == "resolved_conversation" and spec.external_id == MAIN_ACCOUNT:
                window = ACME_OVERRIDE["measurement_window_hours"] * 3600
            if in_window:
                at = ts + rng.uniform(0.05, 0.9) * window
            else:
                at = ts + window + rng.uniform(6 * 3600, 7 * 86400)
            if at < self.now_ts - 60:
                key = (self.account_pk[spec.external_id], event_id)
                self.planned.setdefault(key, []).append(_Plan(at=at, type=type_, note=note))
            return

    # --- the run: chronological batches, signals in between ---

    def run(self, *, cells: list[_Cell], v2_gate: Callable[[], None], progress: Progress) -> SeedReport:
        """Generate and ingest ``cells`` (one or more accounts' days) in time order."""
        report = SeedReport(events_requested=sum(c.events for c in cells), days=self.days, seed=self.seed)
        cells = sorted(cells, key=lambda c: c.hour_starts[0])
        buffer: list[tuple[float, dict]] = []
        next_cell = 0
        started = last_progress = time.perf_counter()
        horizon = self.start_ts
        while next_cell < len(cells) or buffer:
            # Generate every local day that starts before the horizon + 1 day: then every
            # event before the horizon is known and can be ingested in time order.
            horizon += 86400
            while next_cell < len(cells) and cells[next_cell].hour_starts[0] < horizon + 86400:
                buffer.extend(self._day(cells[next_cell]))
                next_cell += 1
            buffer.sort(key=_ts)
            done = next_cell >= len(cells)
            cut = len(buffer) if done else bisect.bisect_left(buffer, horizon, key=_ts)
            i = 0
            while i < cut:
                # A batch: up to 1,000 events, spanning at most BATCH_SPAN_SECONDS (quiet nights
                # make smaller batches, as a real-time platform would post them).
                span_end = buffer[i][0] + BATCH_SPAN_SECONDS
                j = bisect.bisect_right(buffer, span_end, lo=i, hi=min(i + MAX_BATCH, cut), key=_ts)
                if j - i < MAX_BATCH and span_end >= horizon and not done:
                    break  # the batch could still grow with events not generated yet
                self._ingest(buffer[i:j], report, v2_gate)
                if report.batches % 25 == 0:
                    self._retry(buffer[max(i, j - 20) : j], report)
                i = j
            buffer = buffer[i:]
            if time.perf_counter() - last_progress > 5:
                last_progress = time.perf_counter()
                rate = report.generated / max(last_progress - started, 1e-9)
                day_no = min(self.days, int((horizon - self.start_ts) // 86400))
                progress(f"day {day_no:>3}/{self.days}: {report.generated:>9,} events ({rate:,.0f}/s)")
        if not self.v2_passed:
            self.v2_passed = True
            v2_gate()  # every worker meets at the gate, even one whose events all came before it
        self._signals_flush(self.now_ts, report)
        return report

    def _ingest(self, batch: list[tuple[float, dict]], report: SeedReport, v2_gate: Callable[[], None]) -> None:
        if not self.v2_passed and batch[-1][0] >= self.v2_at:
            head = [item for item in batch if item[0] < self.v2_at]
            if head:
                self._ingest(head, report, v2_gate)
            self.v2_passed = True
            v2_gate()
            batch = batch[len(head) :]
        now_ts = min(batch[-1][0] + INGEST_LAG_SECONDS, self.now_ts)
        result = events_ingest(raw_events=[e for _, e in batch], now=datetime.fromtimestamp(now_ts, UTC))
        report.batches += 1
        report.generated += len(batch)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.conflicts += result.conflicts
        report.rejected += result.rejected
        for entry in result.results:
            if entry.get("status") == "rejected":
                report.rejections[entry["error"]["code"]] += 1
        self._signals_schedule(batch, now_ts)
        self._signals_flush(now_ts, report)

    def _retry(self, batch: list[tuple[float, dict]], report: SeedReport) -> None:
        """The platform re-sends a few events after a timeout: they come back as duplicates."""
        if batch:
            now_ts = min(batch[-1][0] + 2 * INGEST_LAG_SECONDS, self.now_ts)
            result = events_ingest(raw_events=[e for _, e in batch], now=datetime.fromtimestamp(now_ts, UTC))
            report.retried += len(batch)
            report.duplicates += result.duplicates

    def _signals_schedule(self, batch: list[tuple[float, dict]], ingested_ts: float) -> None:
        keys = [key for _, e in batch if (key := (self.account_pk[e["account"]], e["event_id"])) in self.planned]
        if not keys:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.id, e.account_id, e.event_id FROM {Event._meta.db_table} e "
                "JOIN unnest(%s::bigint[], %s::text[]) AS k(a, i) ON e.account_id = k.a AND e.event_id = k.i",
                [[a for a, _ in keys], [i for _, i in keys]],
            )
            for pk, account_id, event_id in cursor.fetchall():
                for plan in self.planned.pop((account_id, event_id), ()):
                    plan.pk, plan.ingested_at = pk, ingested_ts
                    self._tiebreak += 1
                    heapq.heappush(self.signal_heap, (plan.at, self._tiebreak, plan))

    def _signals_flush(self, until_ts: float, report: SeedReport) -> None:
        """Post every scheduled signal that has happened by ``until_ts``, in time order."""
        if not self.signal_heap or self.signal_heap[0][0] > until_ts:
            return
        started = time.perf_counter()
        # One transaction for the lot: each signal_record is a savepoint, not a commit.
        with transaction.atomic():
            while self.signal_heap and self.signal_heap[0][0] <= until_ts:
                _, _, plan = heapq.heappop(self.signal_heap)
                # Delivered 5 s to 2 min after it happened, and never before its event.
                received = max(plan.at + 5 + plan.at % 115, plan.ingested_at)
                try:
                    outcome = signal_record(
                        event=Event(pk=plan.pk),
                        type=plan.type,
                        occurred_at=datetime.fromtimestamp(round(plan.at, 3), UTC),
                        note=plan.note,
                        now=datetime.fromtimestamp(min(received, self.now_ts), UTC),
                    )
                    report.signals[outcome.signal.effect] += 1
                except WindowClosed:
                    report.signals["window_closed"] += 1
        report.signal_seconds += time.perf_counter() - started


# --- small helpers -----------------------------------------------------------------------------


def _ts(item: tuple[float, dict]) -> float:
    return item[0]
