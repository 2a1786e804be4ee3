"""API of the vendor's finance area: the account lifecycle, attainment (and growing).

Vendor principals only: the lifecycle is changed with ``accounts.manage`` (the vendor key, vendor
operators), the figures are read with ``finance.read``; account keys and customer users get 403.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.models import Account, LifecycleStatus
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal, account_lifecycle_history, account_status_at
from accounts.services import LifecycleMoveRefused, account_lifecycle_set
from finance import scenarios
from finance.attainment import DIMENSIONS, group_by_parse
from finance.margin import MARGIN_DIMENSIONS
from finance.revenue_report import revenue_currencies, revenue_report
from finance.scenario_inputs import SCOPE_DIMENSIONS, UnknownAccount, scenario_inputs
from finance.selectors import (
    DEFAULT_MONTHS,
    MAX_MONTHS,
    attainment_report,
    default_period,
    margin_report,
)
from metering.api_schema import ErrorBodyDoc
from outcomeportal.api.errors import ApiError
from outcomeportal.api.fields import DecimalString, PatternedCharField
from outcomeportal.api.schema import ClosedDoc
from outcomeportal.core.periods import PERIOD_PATTERN, period_parse
from outcomeportal.core.times import rfc3339_parse

ERRORS = {400: ErrorBodyDoc, 401: ErrorBodyDoc, 403: ErrorBodyDoc, 404: ErrorBodyDoc}


# --- The account lifecycle ------------------------------------------------------------------------


class LifecycleInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(LifecycleStatus.values)
    effective_at = PatternedCharField(
        # RFC 3339 with an offset, or a date (outcomeportal.core.times; the day then must exist).
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$",
        max_length=40,
        help_text="From when: an RFC 3339 timestamp with an offset, or a date (YYYY-MM-DD), which means its "
        "midnight in the account's time zone. Not before the account's last change.",
    )


class LifecycleChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(LifecycleStatus.values)
    effective_at = serializers.DateTimeField()
    changed_by = serializers.CharField()
    changed_at = serializers.DateTimeField()


class LifecycleOutSerializer(serializers.Serializer):
    account = serializers.CharField()
    status = serializers.ChoiceField(LifecycleStatus.values, help_text="The status in force now.")
    history = LifecycleChangeSerializer(many=True, help_text="Every change, oldest first.")


def _effective_at(value: str, account: Account) -> datetime:
    parsed = rfc3339_parse(value)
    if parsed is not None:
        return parsed
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        message = "An RFC 3339 timestamp with an offset, or a date YYYY-MM-DD."
        raise ApiError("validation_error", message, fields={"effective_at": [message]})
    return datetime.combine(day, time(), tzinfo=ZoneInfo(account.timezone))


class AccountLifecycleView(APIView):
    def get_permissions(self):
        return [require(Perm.ACCOUNTS_MANAGE)()]

    @extend_schema(
        request=LifecycleInSerializer,
        responses={200: LifecycleOutSerializer, 409: ErrorBodyDoc, **ERRORS},
        summary="Set the account's lifecycle: active, suspended or churned from an instant (409: a refused move)",
    )
    def put(self, request, external_id: str):
        principal = principal_of(request)
        account = account_get_for_principal(principal=principal, external_id=external_id)
        data = LifecycleInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            account_lifecycle_set(
                account=account,
                status=values["status"],
                effective_at=_effective_at(values["effective_at"], account),
                changed_by=principal.label,
            )
        except LifecycleMoveRefused as exc:
            raise ApiError(exc.code, str(exc), status.HTTP_409_CONFLICT) from exc
        body = {
            "account": account.external_id,
            "status": account_status_at(account_id=account.pk, at=timezone.now()),
            "history": account_lifecycle_history(account=account),
        }
        return Response(LifecycleOutSerializer(body).data)


# --- Attainment -----------------------------------------------------------------------------------


# None, one, or two different dimensions, comma-separated (as finance.attainment.group_by_parse reads them).
_GROUP_BY_PATTERN = (
    "^(" + "|".join([*DIMENSIONS, *(f"{a},{b}" for a in DIMENSIONS for b in DIMENSIONS if a != b)]) + ")?$"
)


def _query(request) -> dict:
    """The query as a plain dict: DRF reads a QueryDict like a form, where ``?period=`` (empty) means
    "not given"; here an empty value is refused like any other the schema does not allow."""
    return request.query_params.dict()


class AttainmentQuery(serializers.Serializer):
    period = PatternedCharField(
        pattern=PERIOD_PATTERN,
        required=False,
        help_text="The last month shown, YYYY-MM (default: the last closed month, UTC).",
    )
    months = serializers.IntegerField(
        min_value=1, max_value=MAX_MONTHS, default=DEFAULT_MONTHS, help_text="How many months, ending with period."
    )
    group_by = PatternedCharField(
        pattern=_GROUP_BY_PATTERN,
        required=False,
        allow_blank=True,
        default="",
        help_text=f"Up to two of {', '.join(DIMENSIONS)}, comma-separated, each once (none: the whole book).",
    )

    def validate_period(self, value: str) -> str:
        if period_parse(value) is None:
            raise serializers.ValidationError("A month, YYYY-MM.")
        return value

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        try:
            return group_by_parse(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class NotAttemptedDoc(serializers.Serializer):
    training_window = serializers.IntegerField()
    pilot_free = serializers.IntegerField()
    cap_reached = serializers.IntegerField()
    dispute_credited = serializers.IntegerField()
    account_suspended = serializers.IntegerField()
    account_churned = serializers.IntegerField()
    sandbox = serializers.IntegerField()
    duplicate_in_session = serializers.IntegerField()
    pending = serializers.IntegerField()


class AttainmentRowDoc(serializers.Serializer):
    segment = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text='Keyed by the group_by dimensions, e.g. {"tier": "enterprise", "outcome_type": "qualified_lead"}.',
    )
    period = serializers.CharField(help_text="YYYY-MM, each account's local month.")
    attempted = serializers.IntegerField(help_text="Billable plus the outcomes the AI failed on.")
    billable = serializers.IntegerField()
    attainment_rate = serializers.CharField(
        allow_null=True, help_text='billable ÷ attempted, 4 decimals ("0.5385"); null when nothing was attempted.'
    )
    not_attempted = NotAttemptedDoc(help_text="Outcomes counted apart, by reason word, and pending ones.")
    trailing_rate = serializers.CharField(
        allow_null=True, help_text="The mean of the rates of the three months before (those that have one)."
    )
    falling = serializers.BooleanField(help_text="More than drop_points points below trailing_rate.")


class AttainmentDoc(serializers.Serializer):
    period = serializers.CharField()
    months = serializers.IntegerField()
    group_by = serializers.ListField(child=serializers.ChoiceField(DIMENSIONS))
    drop_points = serializers.CharField(help_text="FINANCE_ATTAINMENT_DROP_POINTS: the falling flag's threshold.")
    rows = AttainmentRowDoc(many=True, help_text="One per segment and month: by segment, then oldest month first.")


class AttainmentView(APIView):
    def get_permissions(self):
        return [require(Perm.FINANCE_READ)()]

    @extend_schema(
        parameters=[AttainmentQuery],
        responses={200: AttainmentDoc, **ERRORS},
        summary="Attainment by segment and month (billable ÷ attempted; docs/finance.md)",
    )
    def get(self, request):
        query = AttainmentQuery(data=_query(request))
        query.is_valid(raise_exception=True)
        values = query.validated_data
        report = attainment_report(
            period=values.get("period") or default_period(), months=values["months"], group_by=values["group_by"]
        )
        return Response(report.as_api())


# --- Cost and margin ------------------------------------------------------------------------------


class MarginQuery(AttainmentQuery):
    months = serializers.IntegerField(
        min_value=1, max_value=MAX_MONTHS, default=1, help_text="How many months, ending with period."
    )
    group_by = serializers.ChoiceField(
        MARGIN_DIMENSIONS, default="outcome_type", help_text="One of " + ", ".join(MARGIN_DIMENSIONS) + "."
    )

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        return (value,)


class MarginRowDoc(serializers.Serializer):
    segment = serializers.DictField(child=serializers.CharField(allow_blank=True))
    period = serializers.CharField()
    currency = serializers.CharField(help_text="Money of one currency per row.")
    charged = DecimalString(places=6, allow_negative=True, help_text="What the outcomes earned (docs/finance.md).")
    cost = DecimalString(places=6, help_text="What delivering every event cost.")
    gross_margin = serializers.CharField(allow_null=True, help_text="(charged − cost) ÷ charged, 4 decimals.")
    margin_floor = serializers.CharField(help_text="The floor it is held to, 4 decimals.")
    below_floor = serializers.BooleanField()
    loss_outcomes = serializers.IntegerField(help_text="Charged outcomes that cost more than they earned.")
    uncosted_outcomes = serializers.IntegerField(help_text="Events with no reported nor catalogue cost (cost 0).")


class MarginDoc(serializers.Serializer):
    period = serializers.CharField()
    months = serializers.IntegerField()
    group_by = serializers.ListField(child=serializers.ChoiceField(MARGIN_DIMENSIONS))
    default_margin_floor = serializers.CharField()
    rows = MarginRowDoc(many=True)


class MarginView(APIView):
    def get_permissions(self):
        return [require(Perm.FINANCE_READ)()]

    @extend_schema(
        parameters=[MarginQuery],
        responses={200: MarginDoc, **ERRORS},
        summary="Charged, cost and gross margin by outcome type, account or segment and month (docs/finance.md)",
    )
    def get(self, request):
        query = MarginQuery(data=_query(request))
        query.is_valid(raise_exception=True)
        values = query.validated_data
        report = margin_report(
            period=values.get("period") or default_period(), months=values["months"], group_by=values["group_by"]
        )
        return Response(report.as_api())


# --- Revenue --------------------------------------------------------------------------------------


class RevenueQuery(serializers.Serializer):
    months = serializers.IntegerField(
        min_value=1, max_value=MAX_MONTHS, default=MAX_MONTHS, help_text="How many months, ending with this one."
    )
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", required=False, help_text="ISO 4217 (default: the currency most accounts are billed in)."
    )


class RevenueMonthDoc(serializers.Serializer):
    period = serializers.CharField()
    revenue = DecimalString(places=2, help_text="The invoices' subtotals of the period.")
    credits = DecimalString(places=2, help_text="The credit notes issued in the period.")
    net = DecimalString(places=2, allow_negative=True, help_text="revenue − credits.")
    draft = serializers.BooleanField(help_text="From live drafts: the month is not closed.")


class CohortDoc(serializers.Serializer):
    cohort = serializers.CharField(help_text="The accounts' first invoiced month.")
    compared_with = serializers.CharField(help_text="The latest closed month, or 12 months after the cohort's first.")
    accounts = serializers.IntegerField()
    start = DecimalString(places=2, allow_negative=True)
    nrr = serializers.CharField(allow_null=True, help_text="4-decimal ratio.")
    grr = serializers.CharField(allow_null=True, help_text="4-decimal ratio.")
    expansion = DecimalString(places=2)
    contraction = DecimalString(places=2)
    churn = DecimalString(places=2)


class RevenueDoc(serializers.Serializer):
    currency = serializers.CharField()
    last_closed = serializers.CharField()
    months = RevenueMonthDoc(many=True)
    mrr = DecimalString(places=2, allow_negative=True, help_text="The last closed month's net.")
    arr = DecimalString(places=2, allow_negative=True, help_text="12 × MRR.")
    contracted_arr = DecimalString(places=2, help_text="12 × the monthly platform fees and commitments in force.")
    cohorts = CohortDoc(many=True)


class RevenueView(APIView):
    def get_permissions(self):
        return [require(Perm.FINANCE_READ)()]

    @extend_schema(
        parameters=[RevenueQuery],
        responses={200: RevenueDoc, **ERRORS},
        summary="Revenue by month, MRR, ARR, contracted ARR and cohort retention, in one currency (docs/finance.md)",
    )
    def get(self, request):
        query = RevenueQuery(data=_query(request))
        query.is_valid(raise_exception=True)
        values = query.validated_data
        currency = values.get("currency") or next(iter(revenue_currencies()), "USD")
        return Response(revenue_report(months=values["months"], currency=currency).as_api())


# --- Attainment scenarios -------------------------------------------------------------------------


def _known_keys(data, known: tuple[str, ...], what: str) -> None:
    """400 for a key the object does not have (a typo would otherwise be read as "not given")."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise serializers.ValidationError({k: [f"Not {what}: one of {', '.join(known)}."] for k in unknown})


class ScenarioScopeIn(ClosedDoc):  # unknown keys refused (and closed in the schema)
    account = serializers.CharField(required=False, max_length=128, help_text="An account's external ID.")
    tier = serializers.CharField(required=False, allow_blank=True, max_length=64)
    industry = serializers.CharField(required=False, allow_blank=True, max_length=64)
    use_case = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def to_internal_value(self, data):
        _known_keys(data, SCOPE_DIMENSIONS, "a scope dimension")
        return super().to_internal_value(data)


class ScenarioParamsIn(ClosedDoc):  # unknown keys refused (and closed in the schema)
    depth_points = DecimalString(
        places=2,
        max_digits=5,
        required=False,
        help_text=f"dip: points below the baseline, 0–100 (default {scenarios.DEFAULT_DEPTH_POINTS}).",
    )
    months = serializers.IntegerField(
        min_value=1,
        max_value=scenarios.MAX_MONTHS,
        required=False,
        help_text=f"dip: how long, in months (default {scenarios.DEFAULT_DIP_MONTHS}).",
    )
    points_per_month = DecimalString(
        places=2,
        max_digits=5,
        required=False,
        help_text="decline: points lost each month, 0–100 "
        f"(default {scenarios.DEFAULT_POINTS_PER_MONTH}); churn: the same, default 0.",
    )
    threshold = DecimalString(
        places=4,
        max_digits=5,
        required=False,
        help_text="churn: a ratio 0–1 for every account (default: each account's min_attainment).",
    )

    def to_internal_value(self, data):
        _known_keys(data, ("depth_points", "months", "points_per_month", "threshold"), "a scenario parameter")
        return super().to_internal_value(data)

    def validate_depth_points(self, value):
        return _at_most(value, 100)

    def validate_points_per_month(self, value):
        return _at_most(value, 100)

    def validate_threshold(self, value):
        return _at_most(value, 1)


def _at_most(value, limit: int):
    if value > limit:
        raise serializers.ValidationError(f"At most {limit}.")
    return value


class ScenarioIn(serializers.Serializer):
    scope = ScenarioScopeIn(
        required=False,
        help_text='Which accounts: {"account": "acme"}, segment fields ({"tier": "enterprise"}, several '
        "narrow it), or {} (the default) for the whole book. Churned accounts are left out.",
    )
    scenario = serializers.ChoiceField(scenarios.SCENARIOS)
    months = serializers.IntegerField(
        min_value=scenarios.MIN_MONTHS,
        max_value=scenarios.MAX_MONTHS,
        default=scenarios.DEFAULT_MONTHS,
        help_text="How many months to project, from the month after the last closed one.",
    )
    params = ScenarioParamsIn(required=False, help_text="The scenario's parameters; each reads its own.")


class ScenarioRevenueDoc(serializers.Serializer):
    currency = serializers.CharField()
    amount = DecimalString(places=2, allow_negative=True, help_text="With the currency's places.")


class ScenarioMonthDoc(serializers.Serializer):
    period = serializers.CharField()
    attempted = serializers.IntegerField()
    billable = serializers.IntegerField()
    attainment_rate = serializers.CharField(allow_null=True, help_text='billable ÷ attempted, 4 decimals ("0.5385").')
    revenue = ScenarioRevenueDoc(
        many=True, help_text="What the accounts' invoices would charge for the month, per currency."
    )
    churned_accounts = serializers.IntegerField(help_text="Accounts churned in this month or before (churn).")


class ScenarioHistoryDoc(serializers.Serializer):
    period = serializers.CharField()
    attempted = serializers.IntegerField()
    billable = serializers.IntegerField()
    attainment_rate = serializers.CharField(allow_null=True)


class ScenarioChurnDoc(serializers.Serializer):
    account = serializers.CharField()
    period = serializers.CharField(help_text="The first month it counts nothing.")
    attainment_rate = serializers.CharField(help_text="Its projected rate that month.")
    threshold = serializers.CharField()


class ScenarioParamsDoc(serializers.Serializer):
    depth_points = serializers.CharField(required=False)
    months = serializers.IntegerField(required=False)
    points_per_month = serializers.CharField(required=False)
    threshold = serializers.CharField(required=False, allow_null=True, help_text="null: each account's own.")


class ScenarioDoc(serializers.Serializer):
    scope = serializers.DictField(child=serializers.CharField(allow_blank=True))
    scenario = serializers.ChoiceField(scenarios.SCENARIOS)
    months = serializers.IntegerField()
    params = ScenarioParamsDoc(help_text="The parameters the projection used, defaults filled in.")
    last_closed = serializers.CharField(help_text="The history's last month; the projection starts after it.")
    accounts = serializers.IntegerField(help_text="Accounts in the scope (not churned).")
    currencies = serializers.ListField(child=serializers.CharField())
    history = ScenarioHistoryDoc(many=True, help_text="The six closed months the projection is drawn from.")
    projection = ScenarioMonthDoc(many=True)
    churned = ScenarioChurnDoc(many=True, help_text="churn: each account that churns, and when.")


class ScenariosView(APIView):
    def get_permissions(self):
        return [require(Perm.FINANCE_READ)()]

    @extend_schema(
        request=ScenarioIn,
        responses={200: ScenarioDoc, **ERRORS},
        summary="Project outcome volume, attainment and revenue under a scenario: baseline, dip, decline, churn "
        "(docs/finance.md)",
    )
    def post(self, request):
        data = ScenarioIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        scenario = scenarios.scenario_of(values["scenario"], values["months"], values.get("params", {}))
        try:
            inputs = scenario_inputs(scope=values.get("scope", {}), months=values["months"])
        except UnknownAccount as exc:
            message = "No such account."
            raise ApiError("validation_error", message, fields={"scope.account": [message]}) from exc
        return Response(inputs.as_api(inputs.project(scenario)))
