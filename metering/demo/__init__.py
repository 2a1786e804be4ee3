"""The demo world: one vendor, its customers, and 90 days of their outcomes.

Used by ``manage.py seed_demo``. Everything goes through the real services — accounts and
keys through ``accounts.services``, the catalogue through ``outcome_type_create`` and
``criteria_version_create``, events through billing's ``events_ingest`` and signals through
``signal_record`` — so every decision, check and session claim in the demo is genuine and
replayable. Only time is simulated: events are ingested in chronological batches of up to
1,000 with ``now`` a minute or two after the batch's last event (the API refuses events
older than the late-event window), signals with ``now`` just after they happen, and
settlement runs at the end with the real clock. Accounts are independent, so two processes
ingest side by side by default (``workers``), each a group of accounts.

The world, in short (see :data:`~metering.demo.customers.ACCOUNTS`):

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
the hooks other apps register (see :mod:`metering.demo.hooks`).

The package, by module:

* ``catalogue``: the outcome types the vendor sells (:class:`OutcomeSpec`), the definition v2
  of a resolution and acme's override; :class:`Mix`, the weighted pick.
* ``customers``: the accounts (:class:`AccountSpec`, :data:`ACCOUNTS`) and the demo users
  (:class:`DemoUser`, :data:`DEMO_USERS`, :data:`DEMO_PASSWORD`).
* ``world``: the generator (``_World``): vendor, catalogue, accounts and users, then each
  account's days of events and their signals, ingested in time order.
* ``hooks``: what billing and disputes add to the world (:func:`demo_hook_register`,
  :class:`DemoContext`), and the ingestion the demo posts through (billing's:
  :func:`demo_ingestion_register`).
* ``seed``: :func:`demo_present`, :func:`demo_reset` and :func:`demo_seed` (with its worker
  processes and the closing summary).
* ``report``: :class:`SeedReport`, the ``Progress`` and ``Tick`` callbacks, and the one
  :class:`~metering.demo.report.ProgressBar` of the seed (the processes' counts added up).
* ``tour``: what ``seed_demo`` prints last — the real address (``HOST``/``PORT``), where emails
  go, one login per role and what to try first with it.

Everything ``seed_demo``, billing and disputes use is importable from ``metering.demo`` itself.
"""

from metering.demo.customers import DEMO_PASSWORD, DEMO_USERS
from metering.demo.hooks import (
    _HOOKS,
    DemoContext,
    DemoHook,
    demo_hook_register,
    demo_ingestion_register,
    demo_reset_hook_register,
)
from metering.demo.report import Progress, SeedReport
from metering.demo.seed import demo_present, demo_reset, demo_seed

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "_HOOKS",
    "DemoContext",
    "DemoHook",
    "Progress",
    "SeedReport",
    "demo_hook_register",
    "demo_ingestion_register",
    "demo_present",
    "demo_reset",
    "demo_reset_hook_register",
    "demo_seed",
]
