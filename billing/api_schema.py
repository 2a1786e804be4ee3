"""Serializers that document billing's API answers in the OpenAPI schema: what the presenters write
(billing.presenters, metering.presenters, billing.credits.api), field by field, with the fields
that can be null said so. The views do not run them; tests/api/test_schema_fuzz.py holds every
answer to them.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from billing.credits.models import CreditKind
from billing.ledger.shown import REASONS, STATUSES
from metering import engine
from metering.models import SignalType
from metering.validation import COMPLEXITIES
from outcomeportal.api.fields import DecimalString
from outcomeportal.api.schema import ClosedDoc, ErrorSerializer
from outcomeportal.core.numbers import INTEGER_MAX
from outcomeportal.core.periods import PERIOD_PATTERN

_REASONS = list(REASONS)


def _decimal(**kwargs) -> DecimalString:
    return DecimalString(places=6, max_digits=30, **kwargs)


# --- Query parameters ------------------------------------------------------------------------------


class PageQuery(serializers.Serializer):
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, help_text="Default 100.")


class AccountQuery(serializers.Serializer):
    account = serializers.CharField(required=False, help_text="An account's external_id.")


class PeriodQuery(serializers.Serializer):
    period = serializers.RegexField(PERIOD_PATTERN, required=False, help_text="YYYY-MM; default the current period.")


class InvoicesQuery(AccountQuery):
    period = serializers.RegexField(PERIOD_PATTERN, required=False, help_text="YYYY-MM.")


class EventsQuery(PageQuery):
    account = serializers.CharField(required=False, help_text="An account's external_id.")
    status = serializers.ChoiceField(list(STATUSES), required=False)
    outcome_type = serializers.CharField(required=False, help_text="A catalogue code.")
    reason = serializers.ChoiceField(_REASONS, required=False, help_text="A non-billable reason word.")
    # "from" is a Python keyword: declared below.
    to = serializers.DateTimeField(required=False, help_text="Occurred before this instant (RFC 3339).")


EventsQuery._declared_fields["from"] = serializers.DateTimeField(
    required=False, help_text="Occurred at or after this instant (RFC 3339)."
)


# --- Events ----------------------------------------------------------------------------------------


class EventRow(serializers.Serializer):
    """One event as every list writes it: the facts as posted, metering's decision read with the
    event's charge (one status, one reason), what it adds to its invoice and the invoice it is on."""

    event_id = serializers.CharField()
    account = serializers.CharField(help_text="The account's external_id.")
    outcome_type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    success_criteria_met = serializers.BooleanField()
    human_handoff = serializers.BooleanField()
    channel = serializers.CharField(allow_blank=True)
    workflow = serializers.CharField(allow_blank=True)
    session_id = serializers.CharField(allow_blank=True)
    complexity = serializers.ChoiceField(sorted(COMPLEXITIES), allow_null=True)
    verification_method = serializers.CharField(allow_blank=True)
    source_url = serializers.CharField(allow_blank=True)
    sandbox = serializers.BooleanField()
    failure_reason = serializers.ChoiceField(list(engine.FAILURE_REASONS), allow_null=True)
    value_amount = _decimal(allow_null=True)
    attributes = serializers.DictField()
    status = serializers.ChoiceField(list(STATUSES))
    measurement_window_ends_at = serializers.DateTimeField()
    non_billable_reason = serializers.ChoiceField(_REASONS, allow_null=True)
    amount = _decimal(allow_null=True, help_text="What it adds to its invoice; null when it costs nothing.")
    currency = serializers.CharField()
    credits = _decimal(allow_null=True, help_text="Contracts priced in credits: the credits it uses.")
    invoice_id = serializers.IntegerField(allow_null=True)
    invoice_line_id = serializers.IntegerField(allow_null=True)
    rule_version = serializers.CharField()
    cost_amount = _decimal(
        allow_null=True, required=False, help_text="Vendor keys only: the vendor's cost (absent for account keys)."
    )


class EventPage(serializers.Serializer):
    results = EventRow(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")


class Criterion(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    outcome = serializers.ChoiceField([engine.PASSED, engine.FAILED, engine.NOT_APPLICABLE])


class Decision(serializers.Serializer):
    status = serializers.ChoiceField(list(STATUSES))
    non_billable_reason = serializers.ChoiceField(_REASONS, allow_null=True)
    reason_text = serializers.CharField(allow_null=True)
    rule_version = serializers.CharField()
    engine_version = serializers.IntegerField()
    decided_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)
    criteria = Criterion(many=True)
    state = serializers.DictField(help_text="The account-state facts the decision used.")


class Signal(serializers.Serializer):
    type = serializers.ChoiceField(SignalType.values)
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True)
    effect = serializers.ChoiceField(["applied", "window_closed", "no_effect"])


class EventDetail(EventRow):
    decision = Decision()
    signals = Signal(many=True)


class SignalResponse(serializers.Serializer):
    signal = Signal()
    event = EventRow()


class ClosedSignal(serializers.Serializer):
    type = serializers.ChoiceField(SignalType.values)
    occurred_at = serializers.DateTimeField()
    effect = serializers.ChoiceField(["window_closed"])


class WindowClosed(serializers.Serializer):
    error = ErrorSerializer()
    signal = ClosedSignal(help_text="The signal, recorded.")


# --- Invoices, their lines' events, credit notes -------------------------------------------------------


class InvoiceLine(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    outcome_type = serializers.CharField(allow_null=True)
    quantity = _decimal(help_text='e.g. "48".')
    unit_price = _decimal(allow_null=True, help_text='Unrounded, e.g. "0.99" or "0.0125".')
    amount = _decimal(help_text="Rounded once to the currency's minor unit; negative for a discount or credit.")
    kind = serializers.CharField()
    credits = _decimal(allow_null=True)
    unit_credits = _decimal(allow_null=True)
    period_of_events = serializers.CharField(allow_null=True)
    events_url = serializers.CharField(allow_null=True, help_text="The events behind the line, when it has any.")


class Party(serializers.Serializer):
    name = serializers.CharField(allow_blank=True)
    address = serializers.CharField(allow_blank=True, help_text="Lines separated by newlines.")
    country = serializers.CharField(allow_blank=True, help_text="ISO 3166-1 alpha-2, or empty.")
    tax_id = serializers.CharField(allow_blank=True)
    emails = serializers.ListField(child=serializers.CharField())
    payment_instructions = serializers.CharField(allow_blank=True, help_text="The seller's: how to pay.")


class Invoice(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True, help_text="null while a draft.")
    account = serializers.CharField()
    period = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=["draft", "finalized", "void"])
    currency = serializers.CharField()
    subtotal = _decimal()
    credits_applied = _decimal()
    total = _decimal()
    lines = InvoiceLine(many=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    finalized_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    refreshed_at = serializers.DateTimeField(allow_null=True)
    contract_version = serializers.IntegerField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField(), help_text="Notes printed on the invoice.")
    void_reason = serializers.CharField(allow_null=True, help_text="Why it was voided; null unless void.")
    replaces = serializers.IntegerField(
        allow_null=True, help_text="The id of the void invoice this one reissues (the same period); else null."
    )
    replaced_by = serializers.IntegerField(
        allow_null=True, help_text="A void invoice: the id of the invoice that reissues its period; else null."
    )
    issued_at = serializers.DateTimeField(allow_null=True, help_text="The issue date; null while a draft.")
    due_at = serializers.DateTimeField(allow_null=True, help_text="issued_at + payment_terms_days.")
    payment_terms_days = serializers.IntegerField(help_text="Net N days, from the contract.")
    seller = Party(allow_null=True)
    buyer = Party(allow_null=True)
    tax_rate = _decimal(help_text='A percentage, e.g. "20" or "0".')
    tax_amount = _decimal(help_text="On total, rounded once to the currency's minor unit.")
    tax_note = serializers.CharField(allow_blank=True, help_text="E.g. the reverse-charge mention; empty when none.")
    total_with_tax = _decimal(help_text="total + tax_amount: what the invoice asks for.")
    amount_credited = _decimal(help_text="Credit notes applied on this invoice (in credits_applied).")
    amount_paid = _decimal()
    amount_due = _decimal(help_text="total_with_tax − amount_paid; 0 when void.")
    payment_status = serializers.ChoiceField(
        choices=["open", "paid", "void", "uncollectible"], allow_null=True, help_text="Null while a draft."
    )
    paid_at = serializers.DateTimeField(allow_null=True)


class InvoiceList(serializers.Serializer):
    results = Invoice(many=True)


class LineEventRow(EventRow):
    line_amount = _decimal(allow_null=True, help_text="What the event adds to this line, in money.")
    line_credits = _decimal(allow_null=True, help_text="…or in credits.")
    included = serializers.BooleanField(help_text="Inside a platform fee's included outcomes.")


class LineEventPage(serializers.Serializer):
    invoice_id = serializers.IntegerField()
    line_id = serializers.IntegerField()
    results = LineEventRow(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")


class CreditNote(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    account = serializers.CharField()
    invoice_id = serializers.IntegerField(allow_null=True)
    amount = _decimal()
    currency = serializers.CharField()
    reason = serializers.CharField()
    event_ids = serializers.ListField(
        child=serializers.CharField(), help_text="The credited events' event_id (the platform's ids)."
    )
    dispute_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class CreditNoteList(serializers.Serializer):
    results = CreditNote(many=True)


# --- Prepaid credits ---------------------------------------------------------------------------------


class LedgerLine(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(CreditKind.values)
    credits = _decimal()
    amount = _decimal(allow_null=True)
    currency = serializers.CharField()
    period = serializers.CharField()
    invoice_id = serializers.IntegerField(allow_null=True)
    dispute_id = serializers.IntegerField(allow_null=True)
    reference = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    balance_after = _decimal()


class PeriodCredits(serializers.Serializer):
    included = _decimal()
    rollover = serializers.BooleanField()
    used_so_far = _decimal()
    billed = _decimal()
    pending = _decimal()


class AccountCredits(serializers.Serializer):
    account = serializers.CharField()
    currency = serializers.CharField()
    unit = serializers.ChoiceField(["money", "credits"])
    credit_price = _decimal(allow_null=True)
    balance = _decimal()
    balance_value = _decimal(allow_null=True)
    period = serializers.CharField()
    period_credits = PeriodCredits()
    results = LedgerLine(many=True)
    next_cursor = serializers.CharField(allow_null=True)


# --- Contracts: the document PUT takes and GET returns (billing.contracts) -----------------------------
#
# Every field as billing.contracts.terms_parse reads it: types, bounds, which may be null, and the
# fields each pricing model takes. What a JSON Schema cannot say is checked there and answered 400
# with the field named: an outcome type the catalogue does not have, one priced twice, bands whose
# bounds do not increase, money-only models or included outcomes in a credits contract, credits
# without a credit_price, a zero credit price or commitment.


def _amount(**kwargs) -> DecimalString:
    return DecimalString(places=6, max_digits=18, **kwargs)


class UnitPrice(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1)
    model = serializers.ChoiceField(["unit"], required=False, help_text="Default unit.")
    price = _amount()


class Tiers(ClosedDoc):
    simple = _amount()
    moderate = _amount()
    complex = _amount()


class ComplexityPrice(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1)
    model = serializers.ChoiceField(["complexity"])
    tiers = Tiers()
    default_tier = serializers.ChoiceField(sorted(COMPLEXITIES), required=False, help_text="Default simple.")


class Band(ClosedDoc):
    up_to = serializers.IntegerField(
        min_value=1, max_value=INTEGER_MAX, allow_null=True, required=False, help_text="null (or absent): the last."
    )
    price = _amount()


class BandedPrice(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1)
    model = serializers.ChoiceField(["graduated", "volume"])
    bands = serializers.ListField(
        child=Band(), min_length=1, help_text="Increasing up_to; the last band has none (open-ended)."
    )


class HelpdeskPrice(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1)
    model = serializers.ChoiceField(["helpdesk"])
    item_fee = _amount(help_text="On every ticket.")
    automation_fee = _amount(help_text="When the AI resolved it.")


class GainSharePrice(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1)
    model = serializers.ChoiceField(["gain_share"])
    percent = DecimalString(places=4, max_digits=7, help_text="Of the value above the baseline, at most 100.")
    baseline = _amount(required=False, allow_null=True, help_text="Per outcome; default 0.")


PRICE_DOCS = [UnitPrice, ComplexityPrice, BandedPrice, HelpdeskPrice, GainSharePrice]


class PlatformFee(ClosedDoc):
    amount = _amount(help_text="Per month.")
    name = serializers.CharField(min_length=1, max_length=120, required=False, help_text="Default “Platform fee”.")
    included_outcomes = serializers.IntegerField(min_value=0, max_value=INTEGER_MAX, required=False, allow_null=True)
    included_types = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The types the included outcomes cover; [] = all."
    )
    included_credits = DecimalString(places=4, max_digits=16, required=False, allow_null=True)
    rollover = serializers.BooleanField(required=False, allow_null=True)


class FeeShare(ClosedDoc):
    name = serializers.CharField(min_length=1, max_length=120, required=False)
    days = serializers.IntegerField(min_value=1, max_value=31)
    amount = _amount(help_text="This contract's fee for its days, rounded to the minor unit.")
    included_outcomes = serializers.IntegerField(min_value=0, max_value=INTEGER_MAX, required=False, allow_null=True)
    included_credits = DecimalString(places=4, max_digits=16, required=False, allow_null=True)


class Proration(ClosedDoc):
    changed_on = serializers.DateField(help_text="The new contract's first day, inside the month.")
    days_in_period = serializers.IntegerField(min_value=28, max_value=31)
    before = FeeShare(help_text="The earlier contract's share: the month's days before the change.")
    after = FeeShare(help_text="The new contract's share: the days from the change.")


class Commitment(ClosedDoc):
    amount = _amount(help_text="Committed spend over the term (greater than zero).")
    start = serializers.RegexField(PERIOD_PATTERN, help_text="The first period, YYYY-MM.")
    months = serializers.IntegerField(min_value=1, max_value=120, required=False, allow_null=True)
    prepaid = serializers.BooleanField(required=False, allow_null=True)


class Onboarding(ClosedDoc):
    starts = serializers.DateField(required=False, allow_null=True, help_text="Default effective_from.")
    training_days = serializers.IntegerField(min_value=0, max_value=3660, required=False, allow_null=True)
    pilot_free_outcomes = serializers.IntegerField(min_value=0, max_value=INTEGER_MAX, required=False, allow_null=True)
    implementation_fee = _amount(required=False, allow_null=True)


class PriceLock(ClosedDoc):
    starts = serializers.DateField(required=False, allow_null=True, help_text="Default effective_from.")
    days = serializers.IntegerField(min_value=1, max_value=3660, required=False, allow_null=True)
    previous_plan_cost = _amount()


class Guarantee(ClosedDoc):
    outcome_type = serializers.CharField(min_length=1, help_text="The outcome type whose attainment is guaranteed.")
    min_attainment = DecimalString(
        places=4, max_digits=16, help_text='billable ÷ attempted guaranteed each period: above 0, at most 1 ("0.85").'
    )
    credit_percent_per_point = DecimalString(
        places=4,
        max_digits=16,
        help_text="A period closing below: this % of the type's outcome charges credited per percentage point "
        "short, at most the charges (above 0, at most 100). Money contracts only.",
    )


class Term(ClosedDoc):
    starts = serializers.DateField(help_text="The first day of the first term (required).")
    months = serializers.IntegerField(min_value=1, max_value=120, required=False, help_text="Default 12.")
    renewal = serializers.ChoiceField(
        ["auto", "none"],
        required=False,
        help_text="auto (default): renews at each end unless notice is given; none: ends.",
    )
    renewal_months = serializers.IntegerField(
        min_value=1, max_value=120, required=False, allow_null=True, help_text="auto only; default: months."
    )
    notice_days = serializers.IntegerField(
        min_value=0,
        max_value=365,
        required=False,
        help_text="Notice of non-renewal is due this many days before an end (default 30).",
    )


@extend_schema_field(PolymorphicProxySerializer("TypePrice", PRICE_DOCS, resource_type_field_name=None))
class TypePriceField(serializers.DictField):
    """One outcome type's price: the fields of its model (billing/pricing/models/)."""


class ContractDocument(ClosedDoc):
    effective_from = serializers.DateField(help_text="The date this version takes effect (YYYY-MM-DD).")
    unit = serializers.ChoiceField(["money", "credits"], required=False, help_text="Default money.")
    credit_price = _amount(required=False, allow_null=True, help_text="Credits: money per credit (> 0).")
    basis = serializers.ChoiceField(["per_resolution", "per_conversation"], required=False)
    prices = serializers.ListField(child=TypePriceField(), required=False)
    platform_fee = PlatformFee(required=False, allow_null=True)
    commitment = Commitment(required=False, allow_null=True)
    onboarding = Onboarding(required=False, allow_null=True)
    price_lock = PriceLock(required=False, allow_null=True)
    monthly_minimum = _amount(required=False, allow_null=True)
    guarantee = Guarantee(required=False, allow_null=True)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    payment_terms_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, allow_null=True, help_text="Net N days (default 30)."
    )
    mid_period = serializers.ChoiceField(
        ["next_period", "prorate"],
        required=False,
        write_only=True,
        help_text="An effective_from inside a month another version governs: next_period (default) takes effect "
        "from the next month; prorate takes effect on that date — two versions are written, the month's (from its "
        "first day, fees prorated by days: `proration`) and the next month's.",
    )
    proration = Proration(
        required=False,
        allow_null=True,
        help_text="Set on the version written for the month of a prorated change: each contract's share of the fee.",
    )
    term = Term(
        required=False,
        allow_null=True,
        help_text="The contract's term and renewal. Informative: prices never depend on it; after an end without "
        "renewal the last version keeps governing until a new one is saved. An account's own deal (not a plan's).",
    )


class TermState(serializers.Serializer):
    number = serializers.IntegerField(help_text="1: the first term; 2: after the first renewal…")
    starts = serializers.DateField(help_text="The running term's first day.")
    ends = serializers.DateField(help_text="The running term's last day.")
    renewal = serializers.ChoiceField(["auto", "none"])
    renews_on = serializers.DateField(allow_null=True, help_text="The next term's first day (auto).")
    notice_by = serializers.DateField(allow_null=True, help_text="The last day to give notice of non-renewal (auto).")
    status = serializers.ChoiceField(["not_started", "running", "ended"])
    sentence = serializers.CharField(help_text="The term in plain words, as the plan page says it.")


class ContractVersion(serializers.Serializer):
    version = serializers.IntegerField()
    effective_from = serializers.DateField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()


class Contract(serializers.Serializer):
    account = serializers.CharField()
    currency = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="null: no contract yet.")
    effective_from = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    terms = serializers.DictField(
        allow_null=True, help_text="The version's document, normalised: every field written out, absent ones null."
    )
    plan = serializers.ListField(child=serializers.CharField(), help_text="The plan in plain words.")
    term = TermState(allow_null=True, help_text="The term as last agreed (the latest version's), today; null: none.")
    versions = ContractVersion(many=True)
