"""Two-factor sign-in (TOTP): required for vendor staff, optional for customers.

The password step never signs anyone in who needs a second factor; the code step does, once,
for a code not used before, within a few minutes of the password, inside the sign-in guard.
"""

from __future__ import annotations

import threading
from binascii import unhexlify
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import Role
from accounts.views import ENROL_SESSION_KEY, PENDING_SECONDS
from tests import factories
from tests.threads import in_thread

LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"
SETTINGS = "/accounts/two-factor/"
PASSWORD = "pw-Secret-123"  # tests.factories.make_user


def code_of(key: str, *, steps_ahead: int = 0) -> str:
    return f"{totp(unhexlify(key), drift=steps_ahead):06d}"


def device_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def signed_in_as(client: Client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def sam(db):
    return factories.make_user(Role.VENDOR_SUPPORT, None, username="sam")


@pytest.fixture
def ada(account_a):
    return factories.make_user(Role.CUSTOMER_ADMIN, account_a, username="ada")


def password_step(username: str, next_url: str = "") -> tuple[Client, object]:
    client = Client()
    data = {"username": username, "password": PASSWORD} | ({"next": next_url} if next_url else {})
    return client, client.post(LOGIN, data)


# --- Staff ----------------------------------------------------------------------------------------


def test_staff_with_an_authenticator_are_asked_for_a_code_after_the_password(sam):
    device = device_for(sam)
    client, response = password_step("sam", next_url="/disputes/queue/")
    assert (response.status_code, response["Location"]) == (302, CODE)
    assert signed_in_as(client) is None  # not yet
    assert client.get("/").status_code == 302

    page = client.get(CODE)
    assert page.status_code == 200
    assert "Enter your code" in page.content.decode()
    wrong = client.post(CODE, {"code": "000000" if code_of(device.key) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert signed_in_as(client) is None

    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # (django-otp's own delay)
    device.save()
    right = client.post(CODE, {"code": code_of(device.key)})
    assert (right.status_code, right["Location"]) == (302, "/disputes/queue/")
    assert signed_in_as(client) == str(sam.pk)
    assert client.session["otp_device_id"] == device.persistent_id
    assert ENROL_SESSION_KEY not in client.session


def test_staff_without_an_authenticator_set_one_up_before_they_are_signed_in(sam):
    client, response = password_step("sam")
    assert response["Location"] == CODE
    page = client.get(CODE)
    html = page.content.decode()
    assert "Set up two-factor sign-in" in html
    key = client.session[ENROL_SESSION_KEY]
    secret = two_factor.totp_secret_text(key)
    assert secret in html
    assert "otpauth://totp/OutcomePortal%3Asam?secret=" in html
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, made here
    assert client.get(CODE).content.decode().count(secret) == 1  # reloading keeps the same secret
    assert not TOTPDevice.objects.exists()  # nothing stored before a code proves the app has it

    code = code_of(key)
    response = client.post(CODE, {"code": code})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert signed_in_as(client) == str(sam.pk)
    device = TOTPDevice.objects.get(user=sam)
    assert (device.key, device.confirmed) == (key, True)

    # The code that confirmed it cannot sign in a second time.
    again, _ = password_step("sam")
    assert again.post(CODE, {"code": code}).status_code == 400
    assert signed_in_as(again) is None


def test_staff_sign_in_with_the_password_alone_where_the_operator_turned_the_requirement_off(sam, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    client, response = password_step("sam")
    assert response["Location"] == "/"
    assert signed_in_as(client) == str(sam.pk)
    device_for(sam)  # but whoever has an authenticator is always asked for its code
    client, response = password_step("sam")
    assert response["Location"] == CODE


def test_superusers_are_staff_whatever_their_role(db):
    operator = factories.make_user(Role.VENDOR_OPERATOR, None, username="op")
    operator.is_superuser = operator.is_staff = True
    operator.save()
    assert two_factor.two_factor_required(user=operator)
    _, response = password_step("op")
    assert response["Location"] == CODE


# --- Customers ------------------------------------------------------------------------------------


def test_customers_sign_in_with_the_password_alone_until_they_turn_it_on(ada):
    assert not two_factor.two_factor_required(user=ada)
    client, response = password_step("ada")
    assert signed_in_as(client) == str(ada.pk)

    page = client.get(SETTINGS)
    assert "Turn on" in page.content.decode()
    key = client.session[ENROL_SESSION_KEY]
    turned_on = client.post(SETTINGS, {"code": code_of(key)})
    assert turned_on.status_code == 302
    device = TOTPDevice.objects.get(user=ada)

    client, response = password_step("ada")
    assert response["Location"] == CODE
    assert signed_in_as(client) is None
    client.post(CODE, {"code": code_of(device.key, steps_ahead=1)})  # the confirming code is used up
    assert signed_in_as(client) == str(ada.pk)

    turned_off = client.post(SETTINGS, {"code": code_of(device.key, steps_ahead=-1)})  # older than the last one
    assert turned_off.status_code == 400
    assert TOTPDevice.objects.filter(user=ada).exists()
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 2, throttling_failure_count=0)
    assert client.post(SETTINGS, {"code": code_of(device.key)}).status_code == 302
    assert not TOTPDevice.objects.filter(user=ada).exists()
    assert password_step("ada")[1]["Location"] == "/"


def test_staff_who_must_use_it_cannot_turn_it_off(sam):
    device = device_for(sam)
    client = Client()
    client.force_login(sam)
    page = client.get(SETTINGS)
    assert "Your role must use it" in page.content.decode()
    assert client.post(SETTINGS, {"code": code_of(device.key)}).status_code == 403
    assert TOTPDevice.objects.filter(user=sam).exists()


def test_an_enrolment_without_a_secret_of_the_session_stores_nothing(ada):
    client = Client()
    client.force_login(ada)  # never opened the page: no secret in the session
    assert client.post(SETTINGS, {"code": "123456"}).status_code == 400
    assert not TOTPDevice.objects.exists()


# --- The code step --------------------------------------------------------------------------------


def test_the_code_step_needs_the_password_step_first(sam):
    response = Client().get(CODE)
    assert (response.status_code, response["Location"]) == (302, LOGIN)


def test_the_code_step_expires(sam, monkeypatch):
    device_for(sam)
    client, _ = password_step("sam")
    import accounts.views

    later = accounts.views.time.time() + PENDING_SECONDS + 1
    monkeypatch.setattr(accounts.views.time, "time", lambda: later)
    response = client.post(CODE, {"code": "123456"})
    assert (response.status_code, response["Location"]) == (302, LOGIN)
    assert signed_in_as(client) is None


def test_codes_are_counted_by_the_sign_in_guard(sam, settings):
    settings.LOGIN_FAILURES_PER_USER_ADDRESS = 3
    device = device_for(sam)
    client, _ = password_step("sam")
    wrong = "000000" if code_of(device.key) != "000000" else "111111"
    for _ in range(3):
        assert "That code is not right" in client.post(CODE, {"code": wrong}).content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # only the guard left in the way
    refused = client.post(CODE, {"code": code_of(device.key)})
    assert "Too many failed sign-ins" in refused.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db(transaction=True)
def test_one_code_signs_in_once_however_many_requests_carry_it():
    sam = factories.make_user(Role.VENDOR_SUPPORT, None, username="sam")
    device = device_for(sam)
    code, start, results = code_of(device.key), threading.Barrier(6), []

    def verify():
        start.wait(timeout=10)
        results.append(two_factor.totp_verify(user=sam, code=code) is not None)

    threads = [in_thread(verify) for _ in range(6)]
    for thread, errors in threads:
        thread.join(timeout=30)
        assert not errors
    assert sorted(results) == [False] * 5 + [True]


# --- The admin and the operator -------------------------------------------------------------------


def test_the_admin_signs_in_through_the_portal(db):
    response = Client().get("/admin/login/?next=/admin/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=%2Fadmin%2F")
    assert Client().get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_an_operator_resets_a_lost_authenticator(sam):
    device_for(sam)
    out = StringIO()
    call_command("two_factor_reset", "sam", stdout=out)
    assert out.getvalue() == "Removed 1 authenticator of sam; sam sets up a new one at the next sign-in.\n"
    assert not TOTPDevice.objects.exists()


def test_signing_in_as_someone_else_drops_an_unfinished_sign_in(sam, ada):
    device_for(sam)
    client, _ = password_step("sam")
    assert "login_pending" in client.session
    client.post(LOGIN, {"username": "ada", "password": PASSWORD})
    assert signed_in_as(client) == str(ada.pk)
    assert "login_pending" not in client.session
    assert client.get(CODE)["Location"] == LOGIN  # nothing left to finish


@pytest.mark.parametrize("typed", ["12345²", "١٢٣٤٥٦", "12 34 5⁶"])
def test_a_code_of_other_digits_is_simply_wrong(sam, typed):
    device_for(sam)
    client, _ = password_step("sam")
    response = client.post(CODE, {"code": typed})
    assert response.status_code == 400
    assert signed_in_as(client) is None
