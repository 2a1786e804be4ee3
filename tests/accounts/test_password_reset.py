"""Password reset by email: the link works once and ends the other sessions; asking tells nothing
about who has an account, and asking too often sends nothing more."""

from __future__ import annotations

import re

import pytest
from django.core.checks import run_checks
from django.test import Client

from accounts.models import PeopleChange, Role, User
from tests import factories

RESET = "/accounts/password-reset/"
SENT = "/accounts/password-reset/sent/"
NEW_PASSWORD = "Correct-Horse-41"
LINK = re.compile(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def ada(account_a):
    user = factories.make_user(Role.FINANCE_ADMIN, account_a, "ada")
    User.objects.filter(pk=user.pk).update(email="ada@acme.example")
    return User.objects.get(pk=user.pk)


@pytest.fixture
def ask(tasks_inline, django_capture_on_commit_callbacks):
    def ask(email: str, client: Client | None = None, address: str = "203.0.113.7"):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or Client()).post(RESET, {"email": email}, REMOTE_ADDR=address)

    return ask


def test_sign_in_page_links_to_reset(db):
    assert f'href="{RESET}"' in Client().get("/accounts/login/").content.decode()


def test_reset_flow_sets_the_password_once_and_ends_other_sessions(ada, ask, mailoutbox):
    elsewhere = Client()
    elsewhere.force_login(ada)
    assert elsewhere.get("/account/acme/spend/").status_code == 200

    response = ask("ADA@acme.example")
    assert response.status_code == 302 and response["Location"] == SENT
    [mail] = mailoutbox
    assert mail.to == ["ada@acme.example"]
    assert mail.subject == "Reset your OutcomePortal password"
    assert "the username ada" in mail.body and "within 60 minutes" in mail.body
    link = LINK.search(mail.body).group(1)

    browser = Client()
    form = browser.get(link, follow=True)
    assert form.status_code == 200
    assert "Set a new password" in form.content.decode()
    set_url = form.redirect_chain[-1][0]  # Django moves the token into the session
    done = browser.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/password-reset/done/"

    assert Client().post("/accounts/login/", {"username": "ada", "password": NEW_PASSWORD}).status_code == 302
    assert elsewhere.get("/account/acme/spend/").status_code == 302  # the other session ended
    again = Client().get(link, follow=True)
    assert "This link cannot be used" in again.content.decode()
    change = PeopleChange.objects.get()
    assert (change.account, change.actor_name, change.action, change.subject) == (
        ada.account,
        "ada",
        "password_reset",
        "ada",
    )


def test_the_same_answer_for_an_unknown_address(ada, ask, mailoutbox):
    known, unknown = ask("ada@acme.example"), ask("nobody@acme.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == (302, SENT)
    assert [m.to for m in mailoutbox] == [["ada@acme.example"]]
    assert Client().get(SENT).content.decode().count("If that address belongs to someone") == 1


def test_a_deactivated_person_gets_no_link(ada, ask, mailoutbox):
    User.objects.filter(pk=ada.pk).update(is_active=False)
    assert ask("ada@acme.example")["Location"] == SENT
    assert mailoutbox == []


def test_a_link_that_was_tampered_with_is_refused(ada, ask, mailoutbox):
    ask("ada@acme.example")
    link = LINK.search(mailoutbox[0].body).group(1)
    response = Client().get(link[:-3] + "xx/", follow=True)
    assert "This link cannot be used" in response.content.decode()


def test_one_address_gets_a_few_links_an_hour_whoever_asks(ada, ask, mailoutbox, settings):
    settings.PASSWORD_RESETS_PER_EMAIL = 3
    answers = [ask("ada@acme.example", address=f"198.51.100.{i}") for i in range(5)]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, SENT)}
    assert len(mailoutbox) == 3


def test_one_client_address_may_ask_only_so_often(ada, ask, mailoutbox, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS = 4
    for i in range(4):
        ask(f"someone-{i}@example.com")
    answer = ask("ada@acme.example")
    assert (answer.status_code, answer["Location"]) == (302, SENT)
    assert mailoutbox == []  # the fifth request from that address: nothing sent
    ask("ada@acme.example", address="192.0.2.1")
    assert len(mailoutbox) == 1


def test_a_malformed_address_is_asked_again(db):
    response = Client().post(RESET, {"email": "not-an-address"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_a_reset_forgives_the_failed_sign_ins_of_that_username(ada, ask, mailoutbox, settings):
    """Locked out by failed sign-ins (accounts.login_guard), the owner proves the address and is let in."""
    settings.LOGIN_FAILURES_PER_USER_ADDRESS = 3
    owner = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        owner.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    locked = owner.post("/accounts/login/", {"username": "ada", "password": "pw-Secret-123"})
    assert "Too many failed sign-ins." in locked.content.decode()

    ask("ada@acme.example")
    link = LINK.search(mailoutbox[0].body).group(1)
    set_url = owner.get(link, follow=True).redirect_chain[-1][0]
    owner.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    signed_in = owner.post("/accounts/login/", {"username": "ada", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302


@pytest.mark.parametrize(
    "name",
    [
        "PASSWORD_RESETS_PER_EMAIL",
        "PASSWORD_RESETS_PER_ADDRESS",
        "PASSWORD_RESET_WINDOW_SECONDS",
        "INVITATION_MAX_AGE_DAYS",
    ],
)
def test_start_up_refuses_a_limit_below_one(settings, name):
    setattr(settings, name, 0)
    errors = [e for e in run_checks() if e.id == "outcomeportal.E005"]
    assert [e.msg for e in errors] == [f"{name} must be 1 or more."]
