"""API keys: shown once, stored hashed, last use recorded, revocation; the command and the portal page."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey, Role
from accounts.services import api_key_create, api_key_revoke
from tests import factories

ACCOUNTS_URL = "/api/v1/accounts"
KEYS_PAGE = "/accounts/api-keys/"
SECRET_RE = re.compile(r'<code class="secret">(op_[av]_[A-Za-z0-9_-]{43})</code>')

UNKNOWN_OR_REVOKED = {"error": {"code": "not_authenticated", "message": "The API key is unknown or revoked."}}
BAD_HEADER = {"error": {"code": "not_authenticated", "message": "Use the header 'Authorization: Bearer <api key>'."}}


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_nothing_stored_in_clear(api_key: ApiKey, secret: str) -> None:
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert [name for name, value in row.items() if secret in str(value)] == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM accounts_apikey k WHERE id = %s", [api_key.pk])
        (raw,) = cursor.fetchone()
    assert secret not in raw
    assert secret[14:] not in raw  # not even the secret part after the prefix
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:14]


# --- Storage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["vendor", "account"])
def test_key_is_stored_as_a_hash_with_its_prefix(account_a, scope):
    created = (
        api_key_create(name="CRM sync")
        if scope == "vendor"
        else api_key_create(name="CRM sync", account=account_a, role=Role.VIEWER)
    )
    secret = created.secret
    assert re.fullmatch(r"op_[av]_[A-Za-z0-9_-]{43}", secret)
    assert secret.startswith("op_v_" if scope == "vendor" else "op_a_")
    assert_nothing_stored_in_clear(created.api_key, secret)
    stored = ApiKey.objects.get(pk=created.api_key.pk)
    assert (stored.scope, stored.name, stored.last_used_at, stored.revoked_at) == (scope, "CRM sync", None, None)


def test_two_keys_never_share_a_secret_or_prefix(account_a):
    one, two = api_key_create(name="one"), api_key_create(name="one")
    assert one.secret != two.secret
    assert one.api_key.prefix != two.api_key.prefix


# --- Use -------------------------------------------------------------------------------------


def test_last_used_at_is_set_on_first_use(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    before = timezone.now()
    assert bearer(created.secret).get(ACCOUNTS_URL).status_code == 200
    after = timezone.now()
    created.api_key.refresh_from_db()
    assert before <= created.api_key.last_used_at <= after


def test_last_used_at_is_not_rewritten_within_a_minute(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    client = bearer(created.secret)
    assert client.get(ACCOUNTS_URL).status_code == 200
    first = ApiKey.objects.get(pk=created.api_key.pk).last_used_at

    with CaptureQueriesContext(connection) as queries:
        assert client.get(ACCOUNTS_URL).status_code == 200
    assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")] == []
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == first

    fifty_nine_seconds_ago = timezone.now() - timedelta(seconds=59)
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=fifty_nine_seconds_ago)
    assert client.get(ACCOUNTS_URL).status_code == 200
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == fifty_nine_seconds_ago


def test_last_used_at_is_rewritten_after_a_minute(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=timezone.now() - timedelta(seconds=61))
    before = timezone.now()
    assert bearer(created.secret).get(ACCOUNTS_URL).status_code == 200
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at >= before


def test_revoked_key_gets_401_with_the_contract_body(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.CUSTOMER_ADMIN)
    client = bearer(created.secret)
    assert client.get(ACCOUNTS_URL).status_code == 200
    api_key_revoke(api_key=created.api_key)
    an_hour_ago = timezone.now() - timedelta(hours=1)  # so that a recorded use would rewrite it
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=an_hour_ago)

    response = client.get(ACCOUNTS_URL)

    assert response.status_code == 401
    assert response.json() == UNKNOWN_OR_REVOKED
    assert response["WWW-Authenticate"] == "Bearer"
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == an_hour_ago  # a refused use is not recorded


def test_revoking_twice_keeps_the_first_revocation_time(account_a):
    created = api_key_create(name="sync")
    api_key_revoke(api_key=created.api_key)
    first = ApiKey.objects.get(pk=created.api_key.pk).revoked_at
    api_key_revoke(api_key=created.api_key)
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at == first


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("Bearer", BAD_HEADER),
        ("Bearer ", BAD_HEADER),
        ("Bearer    ", BAD_HEADER),
        ("Token {key}", BAD_HEADER),
        ("Basic dXNlcjpwYXNzd29yZA==", BAD_HEADER),
        ("{key}", BAD_HEADER),
        ("Bearer op_v_not-a-key", UNKNOWN_OR_REVOKED),
        ("Bearer {key}x", UNKNOWN_OR_REVOKED),
        ("Bearer {key} {key}", UNKNOWN_OR_REVOKED),
        ("Bearer é", UNKNOWN_OR_REVOKED),
    ],
)
def test_malformed_or_unknown_authorization_gets_401(db, header, body):
    key = factories.vendor_key()
    response = Client(HTTP_AUTHORIZATION=header.format(key=key)).get(ACCOUNTS_URL)
    assert response.status_code == 401
    assert response.json() == body
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer {key}", "bearer {key}", "BEARER {key}", "Bearer  {key} "])
def test_bearer_scheme_is_case_insensitive_and_whitespace_tolerant(account_a, header):
    key = factories.vendor_key()
    response = Client(HTTP_AUTHORIZATION=header.format(key=key)).get(f"{ACCOUNTS_URL}/acme")
    assert response.status_code == 200
    assert response.json()["external_id"] == "acme"


# --- manage.py create_api_key ----------------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_creates_a_vendor_key_printed_alone_on_the_last_line(account_a, account_b):
    out, err = run_command("--vendor", "--name", "Platform")

    secret = out.splitlines()[-1]
    assert out == f"{secret}\n"
    api_key = ApiKey.objects.get()
    assert (api_key.scope, api_key.name, api_key.account, api_key.role) == ("vendor", "Platform", None, "")
    assert err == f"Created vendor key {api_key.prefix}… (Platform).\n"
    assert_nothing_stored_in_clear(api_key, secret)
    response = bearer(secret).get(ACCOUNTS_URL)
    assert response.status_code == 200
    assert [a["external_id"] for a in response.json()["results"]] == ["acme", "globex"]


def test_command_creates_an_account_key_with_its_role(account_a, account_b):
    out, _ = run_command("--account", "acme", "--role", "viewer")

    secret = out.splitlines()[-1]
    assert out == f"{secret}\n"
    api_key = ApiKey.objects.get()
    assert (api_key.scope, api_key.name, api_key.account, api_key.role) == (
        "account",
        "viewer key",
        account_a,
        "viewer",
    )
    client = bearer(secret)
    listing = client.get(ACCOUNTS_URL)
    assert listing.status_code == 200
    assert [a["external_id"] for a in listing.json()["results"]] == ["acme"]
    assert client.get(f"{ACCOUNTS_URL}/globex").status_code == 404
    # A viewer key reads but does not manage.
    refused = client.post(ACCOUNTS_URL, {"external_id": "x", "name": "X"}, content_type="application/json")
    assert refused.status_code == 403


def test_command_default_vendor_key_name(db):
    run_command("--vendor")
    assert ApiKey.objects.get().name == "vendor key"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--account", "acme", "--role", "owner"), "argument --role: invalid choice: 'owner'"),
        (("--account", "acme", "--role", "vendor_operator"), "argument --role: invalid choice: 'vendor_operator'"),
        (("--account", "nope", "--role", "viewer"), "No account with external_id 'nope'."),
        (("--account", "acme"), "--account needs --role"),
        (("--vendor", "--role", "viewer"), "--role is for account keys only."),
        ((), "one of the arguments --vendor --account is required"),
        (("--vendor", "--account", "acme"), "argument --account: not allowed with argument --vendor"),
    ],
)
def test_command_refuses_bad_arguments(account_a, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run_command(*args)
    assert ApiKey.objects.count() == 0


# --- The portal page /accounts/api-keys/ -----------------------------------------------------


def test_customer_admin_creates_a_key_for_their_own_account_shown_once(account_a, account_b):
    admin = factories.make_user(Role.CUSTOMER_ADMIN, account_a)
    client = logged_in(admin)

    response = client.post(
        KEYS_PAGE, {"name": "CRM sync", "scope": "account", "role": "finance_admin", "account": account_b.pk}
    )

    assert response.status_code == 200
    html = response.content.decode()
    (secret,) = SECRET_RE.findall(html)
    assert html.count(secret) == 1
    assert "Key created. Copy it now: it will not be shown again." in html
    api_key = ApiKey.objects.get()
    assert (api_key.scope, api_key.account, api_key.role, api_key.name, api_key.created_by) == (
        "account",
        account_a,  # the posted account is ignored: a customer admin's keys are their own account's
        "finance_admin",
        "CRM sync",
        admin,
    )
    assert_nothing_stored_in_clear(api_key, secret)
    # The secret works, as a finance admin key of A.
    assert bearer(secret).get(f"{ACCOUNTS_URL}/acme").status_code == 200
    assert bearer(secret).get(f"{ACCOUNTS_URL}/globex").status_code == 404
    # Shown once: the page lists the key by its prefix, never the secret again.
    again = client.get(KEYS_PAGE).content.decode()
    assert secret not in again
    assert SECRET_RE.findall(again) == []
    assert f"{api_key.prefix}…" in again


def test_customer_admin_cannot_create_a_vendor_key(account_a):
    client = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    response = client.post(KEYS_PAGE, {"name": "sneaky", "scope": "vendor", "role": "viewer"})
    assert response.status_code == 200
    assert "Select a valid choice. vendor is not one of the available choices." in response.content.decode()
    assert ApiKey.objects.count() == 0


def test_customer_admin_sees_only_their_accounts_keys(account_a, account_b):
    mine = api_key_create(name="mine", account=account_a, role=Role.VIEWER).api_key
    theirs = api_key_create(name="theirs", account=account_b, role=Role.VIEWER).api_key
    vendor = api_key_create(name="platform").api_key
    html = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_a)).get(KEYS_PAGE).content.decode()
    assert f"{mine.prefix}…" in html
    assert f"{theirs.prefix}…" not in html
    assert f"{vendor.prefix}…" not in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE_ADMIN, Role.VENDOR_SUPPORT])
def test_roles_without_key_management_get_403(account_a, role):
    user = factories.make_user(role, None if role == Role.VENDOR_SUPPORT else account_a)
    existing = api_key_create(name="existing", account=account_a, role=Role.VIEWER).api_key
    client = logged_in(user)

    page = client.get(KEYS_PAGE)
    create = client.post(KEYS_PAGE, {"name": "x", "scope": "account", "role": "customer_admin"})
    revoke = client.post(f"/accounts/api-keys/{existing.pk}/revoke/")

    assert [page.status_code, create.status_code, revoke.status_code] == [403, 403, 403]
    assert "errors/403.html" in [t.name for t in page.templates]
    assert list(ApiKey.objects.values_list("pk", "revoked_at")) == [(existing.pk, None)]


def test_anonymous_is_sent_to_login(db):
    response = Client().get(KEYS_PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/api-keys/"


def test_vendor_operator_creates_vendor_and_account_keys(account_a, account_b):
    client = logged_in(factories.make_user(Role.VENDOR_OPERATOR))

    vendor_page = client.post(KEYS_PAGE, {"name": "platform", "scope": "vendor", "role": "viewer"})
    account_page = client.post(
        KEYS_PAGE, {"name": "globex finance", "scope": "account", "role": "finance_admin", "account": account_b.pk}
    )
    missing_account = client.post(KEYS_PAGE, {"name": "nowhere", "scope": "account", "role": "viewer"})

    assert (vendor_page.status_code, account_page.status_code, missing_account.status_code) == (200, 200, 200)
    assert "Choose the account this key belongs to." in missing_account.content.decode()
    keys = {k.name: (k.scope, k.account, k.role) for k in ApiKey.objects.all()}
    assert keys == {"platform": ("vendor", None, ""), "globex finance": ("account", account_b, "finance_admin")}
    (vendor_secret,) = SECRET_RE.findall(vendor_page.content.decode())
    assert bearer(vendor_secret).get(f"{ACCOUNTS_URL}/acme").status_code == 200


def test_customer_admin_revokes_their_accounts_key(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    client = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_a))

    response = client.post(f"/accounts/api-keys/{created.api_key.pk}/revoke/")

    assert response.status_code == 302
    assert response["Location"] == KEYS_PAGE
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is not None
    assert bearer(created.secret).get(ACCOUNTS_URL).json() == UNKNOWN_OR_REVOKED
    page = client.get(KEYS_PAGE).content.decode()
    assert f"Key {created.api_key.prefix}… revoked." in page
    assert '<span class="badge muted">revoked</span>' in page


def test_customer_admin_of_b_cannot_revoke_a_key_of_a(account_a, account_b):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    client = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_b))

    response = client.post(f"/accounts/api-keys/{created.api_key.pk}/revoke/")
    missing = client.post("/accounts/api-keys/999999999/revoke/")

    assert response.status_code == 404
    assert "errors/404.html" in [t.name for t in response.templates]
    # The same answer as for a key that does not exist.
    assert missing.status_code == 404
    assert response.context["message"] == missing.context["message"] == "There is nothing here."
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is None
    assert bearer(created.secret).get(ACCOUNTS_URL).status_code == 200


def test_customer_admin_cannot_revoke_a_vendor_key(account_a):
    created = api_key_create(name="platform")
    client = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    assert client.post(f"/accounts/api-keys/{created.api_key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is None


def test_revoke_is_post_only(account_a):
    created = api_key_create(name="sync", account=account_a, role=Role.VIEWER)
    client = logged_in(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    assert client.get(f"/accounts/api-keys/{created.api_key.pk}/revoke/").status_code == 405
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is None
