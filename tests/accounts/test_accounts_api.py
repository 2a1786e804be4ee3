"""`/api/v1/accounts`: create (vendor key), read (vendor: any; account key: its own; else 404)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.admin import AccountForm
from accounts.models import Account, Role
from accounts.services import CurrencyInvalid, account_create, vendor_get_default
from tests import factories
from tests.conftest import key_client

URL = "/api/v1/accounts"
NOT_FOUND = {"error": {"code": "not_found", "message": "No such account."}}
FORBIDDEN = {
    "error": {"code": "permission_denied", "message": "This key or user is not allowed to do this (accounts.manage)."}
}
CUSTOMER_ROLES = [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER]


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def account_body(account: Account) -> dict:
    return {
        "external_id": account.external_id,
        "name": account.name,
        "currency": account.currency,
        "timezone": account.timezone,
        "segment": {"tier": account.tier, "industry": account.industry, "use_case": account.use_case},
        "created_at": iso(account.created_at),
        "billing": {
            "billing_name": "",
            "billing_address": "",
            "billing_country": "",
            "tax_id": "",
            "billing_emails": [],
        },
    }


def post(client: Client, body) -> object:
    return client.post(URL, body, content_type="application/json")


# --- POST /api/v1/accounts -------------------------------------------------------------------


def test_vendor_creates_an_account_with_the_contract_fields(vendor_client):
    response = post(
        vendor_client,
        {
            "external_id": "initech",
            "name": "Initech",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "segment": {"tier": "enterprise", "industry": "software", "use_case": "support"},
        },
    )

    assert response.status_code == 201
    account = Account.objects.get(external_id="initech")
    assert response.json() == {
        "external_id": "initech",
        "name": "Initech",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "segment": {"tier": "enterprise", "industry": "software", "use_case": "support"},
        "created_at": iso(account.created_at),
        # The buyer on its invoices: empty until the account's customer admin (or the vendor) sets it.
        "billing": {
            "billing_name": "",
            "billing_address": "",
            "billing_country": "",
            "tax_id": "",
            "billing_emails": [],
        },
    }
    assert (account.currency, account.timezone, account.tier, account.industry, account.use_case) == (
        "EUR",
        "Europe/Paris",
        "enterprise",
        "software",
        "support",
    )


def test_create_defaults_to_usd_utc_and_an_empty_segment(vendor_client):
    response = post(vendor_client, {"external_id": "hooli", "name": "Hooli"})
    assert response.status_code == 201
    body = response.json()
    del body["created_at"]
    assert body == {
        "external_id": "hooli",
        "name": "Hooli",
        "currency": "USD",
        "timezone": "UTC",
        "segment": {"tier": "", "industry": "", "use_case": ""},
        "billing": {
            "billing_name": "",
            "billing_address": "",
            "billing_country": "",
            "tax_id": "",
            "billing_emails": [],
        },
    }


def test_same_external_id_again_is_409_and_changes_nothing(vendor_client, account_a):
    response = post(vendor_client, {"external_id": "acme", "name": "Another Acme", "currency": "EUR"})

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "account_exists", "message": "An account with external_id 'acme' exists."}
    }
    assert list(Account.objects.values_list("external_id", "name", "currency")) == [("acme", "Acme Support", "USD")]


CURRENCY = ["A three-letter ISO 4217 code, e.g. USD."]
NOT_ISO = ["Not an active ISO 4217 currency code, e.g. USD, EUR or JPY."]
TIMEZONE = ["An IANA time zone name, e.g. Europe/Paris."]
REQUIRED = ["This field is required."]
BLANK = ["This field may not be blank."]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"external_id": "x1", "name": "X", "currency": "usd"}, {"currency": CURRENCY}),
        ({"external_id": "x1", "name": "X", "currency": "EURO"}, {"currency": CURRENCY}),
        ({"external_id": "x1", "name": "X", "currency": 840}, {"currency": CURRENCY}),
        ({"external_id": "x1", "name": "X", "currency": "QQQ"}, {"currency": NOT_ISO}),  # no such code
        ({"external_id": "x1", "name": "X", "currency": "XXX"}, {"currency": NOT_ISO}),  # "no currency"
        ({"external_id": "x1", "name": "X", "currency": "XTS"}, {"currency": NOT_ISO}),  # for testing
        ({"external_id": "x1", "name": "X", "currency": "XAU"}, {"currency": NOT_ISO}),  # gold
        ({"external_id": "x1", "name": "X", "currency": "HRK"}, {"currency": NOT_ISO}),  # withdrawn in 2023
        ({"external_id": "x1", "name": "X", "timezone": "Mars/Olympus"}, {"timezone": TIMEZONE}),
        ({"external_id": "x1", "name": "X", "timezone": ""}, {"timezone": BLANK}),
        (
            {"external_id": "x1", "name": "X", "currency": "dollars", "timezone": "CET+1"},
            {"currency": CURRENCY, "timezone": TIMEZONE},
        ),
        ({}, {"external_id": REQUIRED, "name": REQUIRED}),
        (
            {"external_id": "has space", "name": "X"},
            {"external_id": ["This value does not match the required pattern."]},
        ),
        (
            {"external_id": "x" * 129, "name": "X"},
            {"external_id": ["Ensure this field has no more than 128 characters."]},
        ),
        ({"external_id": "x1", "name": ""}, {"name": BLANK}),
        (
            {"external_id": "x1", "name": "X", "segment": "gold"},
            {"segment.non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (
            {"external_id": "x1", "name": "X", "segment": {"tier": "t" * 65}},
            {"segment.tier": ["Ensure this field has no more than 64 characters."]},
        ),
        ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    ],
)
def test_invalid_account_is_400_with_fields(vendor_client, body, fields):
    response = post(vendor_client, body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "validation_error", "message": "The request has invalid fields.", "fields": fields}
    }
    assert Account.objects.count() == 0


@pytest.mark.parametrize("currency", ["JPY", "KWD", "CLF", "CHF", "ZWG"])
def test_any_active_iso_4217_currency_is_accepted(vendor_client, currency):
    response = post(vendor_client, {"external_id": "x1", "name": "X", "currency": currency})
    assert response.status_code == 201
    assert Account.objects.get().currency == currency


@pytest.mark.parametrize("code", ["QQQ", "XXX", "xts"])
def test_the_service_refuses_a_code_that_is_not_a_currency(db, code):
    # Below HTTP too: the seed, the admin and every other caller get the same answer.
    with pytest.raises(CurrencyInvalid):
        account_create(external_id="x1", name="X", currency=code)
    assert Account.objects.count() == 0


def test_the_service_keeps_codes_in_upper_case(db):
    assert account_create(external_id="x1", name="X", currency="eur").currency == "EUR"


@pytest.mark.parametrize(("code", "valid"), [("EUR", True), ("QQQ", False), ("XXX", False), ("usd", True)])
def test_the_admin_form_checks_the_currency(db, code, valid):
    form = AccountForm(
        data={"vendor": vendor_get_default().pk, "external_id": "x1", "name": "X", "currency": code, "timezone": "UTC"}
    )
    assert form.is_valid() is valid, form.errors
    if valid:
        assert form.cleaned_data["currency"] == code.upper()
    else:
        assert form.errors["currency"] == [f"{code!r} is not an active ISO 4217 currency code (e.g. USD, EUR, JPY)."]


def test_the_admin_form_lets_an_old_account_keep_its_code(db):
    account = factories.make_account("old")
    Account.objects.filter(pk=account.pk).update(currency="HRK")  # from before codes were checked
    account.refresh_from_db()
    data = {"vendor": account.vendor_id, "external_id": "old", "name": "Renamed", "currency": "HRK", "timezone": "UTC"}
    form = AccountForm(data=data, instance=account)
    assert form.is_valid(), form.errors
    form = AccountForm(data={**data, "currency": "XXX"}, instance=account)
    assert not form.is_valid()


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
@pytest.mark.parametrize("external_id", ["newco", "acme", "globex"])
def test_account_keys_cannot_create_accounts(account_a, account_b, role, external_id):
    # 403 whatever the external_id, so an existing account's id is not revealed by a 409.
    response = post(key_client(account_a, role), {"external_id": external_id, "name": "X"})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert sorted(Account.objects.values_list("external_id", "name")) == [
        ("acme", "Acme Support"),
        ("globex", "Globex"),
    ]


def test_create_without_a_key_is_401(db):
    response = post(Client(), {"external_id": "newco", "name": "X"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }
    assert Account.objects.count() == 0


# --- GET /api/v1/accounts/{external_id} and the list -----------------------------------------


def test_vendor_reads_any_account(vendor_client, account_a, account_b):
    for account in (account_a, account_b):
        response = vendor_client.get(f"{URL}/{account.external_id}")
        assert response.status_code == 200
        assert response.json() == account_body(account)


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_account_key_reads_its_own_account(account_a, account_b, role):
    response = key_client(account_a, role).get(f"{URL}/acme")
    assert response.status_code == 200
    assert response.json() == account_body(account_a)


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_another_accounts_object_is_404_like_a_missing_one(account_a, account_b, role):
    client = key_client(account_a, role)
    other = client.get(f"{URL}/globex")
    missing = client.get(f"{URL}/no-such-account")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json() == missing.json() == NOT_FOUND
    assert b"Globex" not in other.content


def test_vendor_gets_404_for_a_missing_account(vendor_client):
    response = vendor_client.get(f"{URL}/no-such-account")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_list_vendor_sees_all_account_key_sees_its_own(vendor_client, account_a, account_b):
    vendor = vendor_client.get(URL)
    own = key_client(account_b, Role.VIEWER).get(URL)
    assert vendor.json() == {"results": [account_body(account_a), account_body(account_b)]}
    assert own.json() == {"results": [account_body(account_b)]}


def test_signed_in_customer_user_sees_only_their_account_over_the_api(account_a, account_b):
    client = Client()
    client.force_login(factories.make_user(Role.VIEWER, account_a))
    assert client.get(f"{URL}/acme").json() == account_body(account_a)
    assert client.get(f"{URL}/globex").json() == NOT_FOUND
    assert client.get(URL).json() == {"results": [account_body(account_a)]}
