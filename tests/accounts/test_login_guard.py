"""The sign-in guard: failed sign-ins counted atomically, per username and per (username, address)."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client

from accounts.models import Role, User
from tests import factories
from tests.threads import in_thread

LOGIN = "/accounts/login/"
PASSWORD = "pw-Secret-123"  # tests.factories.make_user


@pytest.mark.django_db(transaction=True)
def test_forty_parallel_wrong_passwords_get_only_the_limit_checked(monkeypatch):
    user = factories.make_user(Role.VIEWER, factories.make_account("raced"), username="raced-user")
    checked, lock, real_check = [], threading.Lock(), User.check_password

    def counting_check(self, raw_password):
        with lock:
            checked.append(raw_password)
        time.sleep(0.05)  # a real hash takes a while: the window in which parallel guesses overlap
        return real_check(self, raw_password)

    monkeypatch.setattr(User, "check_password", counting_check)
    start = threading.Barrier(40)

    def guess(n: int):
        def run():
            start.wait(timeout=30)
            Client().post(LOGIN, {"username": user.username, "password": f"wrong-{n}"})

        return run

    threads = [in_thread(guess(n)) for n in range(40)]
    for thread, errors in threads:
        thread.join(timeout=60)
        assert not errors, errors
    assert len(checked) == 10


# --- One guesser cannot lock out everyone ---------------------------------------------------------


@pytest.fixture
def ada(account_a):
    return factories.make_user(Role.CUSTOMER_ADMIN, account_a, username="ada")


def sign_in(username: str, password: str, **meta) -> Client:
    client = Client(**meta)
    client.post(LOGIN, {"username": username, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(times: int, username: str, **meta) -> None:
    for _ in range(times):
        assert not signed_in(sign_in(username, "wrong-password", **meta))


def test_failures_at_one_name_do_not_lock_out_other_people_at_the_same_address(ada, account_a):
    factories.make_user(Role.VIEWER, account_a, username="target")
    fail(10, "target")  # all from 127.0.0.1, the test client's address
    locked = sign_in("target", PASSWORD)
    assert not signed_in(locked)
    assert b"Too many failed sign-ins" in Client().post(LOGIN, {"username": "target", "password": PASSWORD}).content
    assert signed_in(sign_in("ada", PASSWORD))  # the old per-address lock refused her too


def test_a_guesser_at_one_address_does_not_lock_the_name_out_elsewhere(ada):
    fail(10, "ada", REMOTE_ADDR="203.0.113.9")
    assert not signed_in(sign_in("ada", PASSWORD, REMOTE_ADDR="203.0.113.9"))  # that pair is locked
    assert signed_in(sign_in("ada", PASSWORD, REMOTE_ADDR="198.51.100.7"))  # ada at her own address is not


def test_guessers_spread_over_many_addresses_meet_the_per_name_limit(ada, settings):
    settings.LOGIN_FAILURES_PER_USER_ADDRESS, settings.LOGIN_FAILURES_PER_USER = 3, 7
    for n in range(3):
        fail(3, "ada", REMOTE_ADDR=f"203.0.113.{n}")  # 9 tries at 3 addresses: only 7 reach the password
    assert not signed_in(sign_in("ada", PASSWORD, REMOTE_ADDR="198.51.100.7"))
    from accounts.login_guard import login_failures

    assert login_failures(username="ada") == 7
    assert [login_failures(username="ada", address=f"203.0.113.{n}") for n in range(3)] == [3, 3, 1]


def test_a_right_password_gives_its_slot_back(ada):
    from accounts.login_guard import login_failures

    fail(9, "ada")
    assert signed_in(sign_in("ada", PASSWORD))
    assert login_failures(username="ada", address="127.0.0.1") == 9
    assert signed_in(sign_in("ADA ", PASSWORD)) is False  # not the user's name (usernames are exact)...
    assert login_failures(username="ada", address="127.0.0.1") == 10  # ...but the same name to the guard


# --- Behind the operator's proxy ------------------------------------------------------------------

PROXY = "10.0.0.2"  # REMOTE_ADDR of every request that came through the TLS proxy


def via_proxy(client_address: str, spoofed: str = "") -> dict:
    forwarded = f"{spoofed}, {client_address}" if spoofed else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def test_behind_a_trusted_proxy_each_client_is_counted_apart(ada, settings):
    settings.TRUSTED_PROXIES = 1
    fail(10, "ada", **via_proxy("203.0.113.9"))
    assert not signed_in(sign_in("ada", PASSWORD, **via_proxy("203.0.113.9")))
    assert signed_in(sign_in("ada", PASSWORD, **via_proxy("198.51.100.7")))
    # What the client itself wrote into X-Forwarded-For does not move it to another counter.
    assert not signed_in(sign_in("ada", PASSWORD, **via_proxy("203.0.113.9", spoofed="192.0.2.1")))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(ada):
    for n in range(10):  # a guesser inventing a new "address" for every try
        assert not signed_in(sign_in("ada", "wrong", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"))
    assert not signed_in(sign_in("ada", PASSWORD, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99"))
