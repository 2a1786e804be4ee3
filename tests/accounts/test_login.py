"""Login and logout pages, and how long a session lasts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from tests import factories

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
PASSWORD = "pw-Secret-123"  # tests.factories.make_user
INVALID_LOGIN = "Please enter a correct username and password. Note that both fields may be case-sensitive."


@pytest.fixture
def user(account_a):
    return factories.make_user(Role.CUSTOMER_ADMIN, account_a, username="ada")


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_login_page_renders(db):
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["accounts/login.html", "base.html"]
    html = response.content.decode()
    assert '<input id="id_username" name="username" autocomplete="username" required autofocus value="">' in html
    assert '<input id="id_password" name="password" type="password" autocomplete="current-password" required>' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_good_login_lands_on_home(user):
    client = Client()
    response = client.post(LOGIN, {"username": "ada", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)
    home = client.get("/", follow=True)  # home may send a customer on to their account's page
    assert home.status_code == 200
    assert home.wsgi_request.user == user
    assert [url for url, _ in home.redirect_chain if url.startswith(LOGIN)] == []


def test_login_follows_a_local_next_but_never_an_external_one(user):
    local = Client().post(LOGIN, {"username": "ada", "password": PASSWORD, "next": "/accounts/api-keys/"})
    external = Client().post(LOGIN, {"username": "ada", "password": PASSWORD, "next": "https://evil.example/"})
    assert local["Location"] == "/accounts/api-keys/"
    assert external["Location"] == "/"


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong-password"), ("nobody", PASSWORD), ("ADA ", PASSWORD), ("ada", "")]
)
def test_bad_login_shows_an_error_and_signs_nobody_in(user, username, password):
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": password})

    assert response.status_code == 200
    html = response.content.decode()
    if password:
        assert f'<div class="error" role="alert">{INVALID_LOGIN}</div>' in html
    assert signed_in_user_id(client) is None
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_log_in(user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    client = Client()
    response = client.post(LOGIN, {"username": "ada", "password": PASSWORD})
    assert response.status_code == 200
    assert INVALID_LOGIN in response.content.decode()
    assert signed_in_user_id(client) is None


def test_login_form_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    assert client.post(LOGIN, {"username": "ada", "password": PASSWORD}).status_code == 403
    assert signed_in_user_id(client) is None


def test_signed_in_user_visiting_login_goes_home(user):
    client = Client()
    client.force_login(user)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_home_needs_a_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_logout_is_a_post_that_ends_the_session(user):
    client = Client()
    client.post(LOGIN, {"username": "ada", "password": PASSWORD})
    session_key = client.session.session_key

    refused = client.get(LOGOUT)
    assert refused.status_code == 405
    assert signed_in_user_id(client) == str(user.pk)

    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert signed_in_user_id(client) is None
    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get("/")["Location"] == "/accounts/login/?next=/"


def test_session_expiry_settings():
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_session_cookie_ends_with_the_browser_and_the_server_session_after_the_cookie_age(user):
    client = Client()
    before = timezone.now()
    response = client.post(LOGIN, {"username": "ada", "password": PASSWORD})
    after = timezone.now()

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (cookie["max-age"], cookie["expires"], cookie["httponly"]) == ("", "", True)
    session = Session.objects.get(session_key=client.session.session_key)
    age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert before + age <= session.expire_date <= after + age


def test_an_expired_session_is_signed_out(user):
    client = Client()
    client.post(LOGIN, {"username": "ada", "password": PASSWORD})
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_too_many_failed_sign_ins_stop_password_checks_for_a_while(db, monkeypatch):
    from accounts import ratelimit
    from accounts.login_guard import login_failures
    from tests import factories

    MAX_FAILURES, WINDOW_SECONDS = settings.LOGIN_FAILURES_PER_USER_ADDRESS, settings.LOGIN_FAILURE_WINDOW_SECONDS

    start = 1_795_000_000.0  # a fixed clock
    monkeypatch.setattr(ratelimit, "_clock", lambda: start)
    user = factories.make_user("viewer", factories.make_account("guarded"), username="guarded-user")
    client = Client()
    for _ in range(MAX_FAILURES):
        response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
        assert b"Too many failed sign-ins" not in response.content
    response = client.post("/accounts/login/", {"username": user.username, "password": "pw-Secret-123"})
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    # Another web worker sees the same count: it lives in the database, not in a process.
    assert login_failures(username=user.username, address="127.0.0.1") == MAX_FAILURES
    assert login_failures(username=user.username) == MAX_FAILURES

    monkeypatch.setattr(ratelimit, "_clock", lambda: start + WINDOW_SECONDS)  # a quarter of an hour later
    response = client.post("/accounts/login/", {"username": user.username, "password": "pw-Secret-123"})
    assert response.status_code == 302
