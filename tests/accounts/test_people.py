"""People: invitations (invite → accept → sign in; expired, used, revoked, replaced links refused),
role changes, deactivation ending sessions, the last admin who must stay (also under concurrent
requests on real connections), the record of changes, and the vendor staff's own page."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts import people
from accounts.models import Invitation, PeopleChange, Role, User
from tests import factories
from tests.threads import in_thread

PASSWORD = "pw-Secret-123"
NEW_PASSWORD = "Correct-Horse-41"
BASE = "http://testserver"
LINK = re.compile(r"http://testserver(/accounts/invitation/[^/\s]+/)")


@pytest.fixture
def admin_a(account_a):
    return factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice")


@pytest.fixture
def admin_client(admin_a):
    client = Client()
    client.force_login(admin_a)
    return client


def _link(message) -> str:
    return LINK.search(message.body).group(1)


def _changes(account) -> list[tuple[str, str, str, str]]:
    return [(c.actor_name, c.action, c.subject, c.detail) for c in PeopleChange.objects.filter(account=account)]


# --- Invite → accept → sign in -----------------------------------------------------------


def test_invite_accept_and_sign_in(
    account_a, admin_client, admin_a, mailoutbox, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/account/acme/people/invite", {"email": " Nina@Example.COM ", "role": Role.FINANCE_ADMIN}
        )
    assert response.status_code == 302
    assert response["Location"] == "/account/acme/people/"
    [mail] = mailoutbox
    assert mail.to == ["nina@example.com"]
    assert mail.subject == "You are invited to Acme Support on OutcomePortal"
    assert "alice invited you to Acme Support on OutcomePortal, as Finance admin." in mail.body
    page = admin_client.get("/account/acme/people/").content.decode()
    assert "Invitation sent to nina@example.com." in page
    assert "nina@example.com" in page and "pending" in page

    link = _link(mail)
    visitor = Client()
    form = visitor.get(link)
    assert form.status_code == 200
    assert "Join Acme Support" in form.content.decode()
    assert 'value="nina@example.com"' in form.content.decode()  # the username suggested
    accepted = visitor.post(
        link,
        {"username": "nina", "first_name": "Nina", "last_name": "Ng", "password1": NEW_PASSWORD,
         "password2": NEW_PASSWORD},
    )  # fmt: skip
    assert accepted.status_code == 302 and accepted["Location"] == "/accounts/login/"

    nina = User.objects.get(username="nina")
    assert (nina.email, nina.role, nina.account_id, nina.get_full_name()) == (
        "nina@example.com",
        Role.FINANCE_ADMIN,
        account_a.pk,
        "Nina Ng",
    )
    invitation = Invitation.objects.get()
    assert invitation.accepted_user == nina and invitation.accepted_at is not None
    login = visitor.post("/accounts/login/", {"username": "nina", "password": NEW_PASSWORD})
    assert login.status_code == 302 and login["Location"] == "/"
    assert visitor.session["_auth_user_id"] == str(nina.pk)
    assert _changes(account_a) == [
        ("nina", "invitation_accepted", "nina", "nina@example.com as Finance admin, invited by alice"),
        ("alice", "invited", "nina@example.com", "as Finance admin"),
    ]


def test_accepting_refuses_a_weak_password_or_a_taken_username_and_keeps_the_link(
    account_a, admin_a, mailoutbox, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        people.invitation_create(actor=admin_a, account=account_a, email="nina@example.com", role="viewer",
                                 base_url=BASE)  # fmt: skip
    link = _link(mailoutbox[0])
    weak = Client().post(link, {"username": "nina", "password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 400
    assert "This password is too common." in weak.content.decode()
    taken = Client().post(link, {"username": "ALICE", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert taken.status_code == 400
    assert "The username ALICE is taken: choose another." in taken.content.decode()
    assert User.objects.filter(account=account_a).count() == 1
    assert Invitation.objects.get().accepted_at is None
    assert _accept(link).status_code == 302


@pytest.fixture
def invited(account_a, admin_a, mailoutbox, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = people.invitation_create(
            actor=admin_a, account=account_a, email="nina@example.com", role=Role.VIEWER, base_url=BASE
        )
    return invitation, _link(mailoutbox[-1])


def _accept(link: str, username: str = "nina"):
    return Client().post(link, {"username": username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


def test_a_used_link_is_refused(invited):
    _invitation, link = invited
    assert _accept(link).status_code == 302
    again = _accept(link, "nina2")
    assert again.status_code == 410
    assert "This invitation was used already." in again.content.decode()
    assert Client().get(link).status_code == 410
    assert not User.objects.filter(username="nina2").exists()


def test_an_expired_link_is_refused(invited, settings):
    invitation, link = invited
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _accept(link)
    assert response.status_code == 410
    assert "This invitation has expired." in response.content.decode()
    assert not User.objects.filter(username="nina").exists()


def test_the_signature_expires_too(invited):
    invitation = invited[0]
    later = timezone.now() + timedelta(days=7, seconds=1)
    with pytest.raises(people.InvitationInvalid) as refused:
        people.invitation_from_token(token=people.invitation_token(invitation), now=later)
    assert refused.value.reason == "expired"


def test_a_revoked_link_is_refused(invited, admin_client, account_a):
    invitation, link = invited
    response = admin_client.post(f"/account/acme/people/invitations/{invitation.pk}/revoke")
    assert response.status_code == 302
    refused = _accept(link)
    assert refused.status_code == 410
    assert "This invitation was withdrawn." in refused.content.decode()
    assert not User.objects.filter(username="nina").exists()
    assert _changes(account_a)[0] == ("alice", "invitation_revoked", "nina@example.com", "")


def test_sending_again_replaces_the_link(invited, admin_client, mailoutbox, django_capture_on_commit_callbacks):
    invitation, first = invited
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/account/acme/people/invitations/{invitation.pk}/resend")
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    second = _link(mailoutbox[1])
    assert second != first
    old = _accept(first)
    assert old.status_code == 410
    assert "A newer invitation was sent to you" in old.content.decode()
    assert _accept(second).status_code == 302
    invitation.refresh_from_db()
    assert invitation.send_count == 2


def test_an_expired_invitation_can_be_sent_again(invited, admin_a, account_a, mailoutbox):
    invitation, _first = invited
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    renewed = people.invitation_resend(actor=admin_a, account=account_a, invitation_id=invitation.pk, base_url=BASE)
    assert renewed.expires_at > timezone.now() + timedelta(days=6)
    assert people.invitation_from_token(token=people.invitation_token(renewed)) == renewed


@pytest.mark.parametrize(
    "token",
    ["nonsense", "eyJpIjoxLCJuIjoiYWJjIn0:1vQx0a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_a_forged_link_is_404(invited, token):
    response = Client().get(f"/accounts/invitation/{token}/")
    assert response.status_code == 404
    assert "This invitation link is not valid." in response.content.decode()


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("ALICE@example.com", Role.VIEWER, "alice@example.com is already here as alice."),
        ("nina@example.com", Role.VIEWER, "nina@example.com has an open invitation already: send that one again."),
        ("olga@example.com", Role.VENDOR_OPERATOR, "Vendor operator is not a role here."),
    ],
)
def test_invitations_refused(invited, admin_a, account_a, email, role, message):
    User.objects.filter(pk=admin_a.pk).update(email="alice@example.com")
    admin_a.refresh_from_db()
    before = Invitation.objects.count()
    with pytest.raises(people.PeopleRefused) as refused:
        people.invitation_create(actor=admin_a, account=account_a, email=email, role=role, base_url=BASE)
    assert str(refused.value) == message
    assert Invitation.objects.count() == before


def test_the_invite_form_shows_a_refusal_on_the_field(invited, admin_client):
    response = admin_client.post("/account/acme/people/invite", {"email": "nina@example.com", "role": "viewer"})
    assert response.status_code == 400
    assert "nina@example.com has an open invitation already" in response.content.decode()
    assert Invitation.objects.count() == 1


# --- Roles and deactivation ---------------------------------------------------------------


def test_role_change_is_recorded(account_a, admin_a, admin_client):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    response = admin_client.post(f"/account/acme/people/{victor.pk}/role", {"role": Role.FINANCE_ADMIN})
    assert response.status_code == 302
    victor.refresh_from_db()
    assert victor.role == Role.FINANCE_ADMIN
    assert _changes(account_a) == [("alice", "role_changed", "victor", "Viewer → Finance admin")]
    page = admin_client.get("/account/acme/people/").content.decode()
    assert "victor is now Finance admin." in page
    assert "role changed" in page and "Viewer → Finance admin" in page


def test_a_customer_role_only(account_a, admin_a, admin_client):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    response = admin_client.post(f"/account/acme/people/{victor.pk}/role", {"role": Role.VENDOR_OPERATOR}, follow=True)
    assert "Vendor operator is not a role here." in response.content.decode()
    victor.refresh_from_db()
    assert victor.role == Role.VIEWER and victor.account == account_a
    assert _changes(account_a) == []


def test_role_change_over_htmx_answers_with_the_panel(account_a, admin_a, admin_client):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    response = admin_client.post(
        f"/account/acme/people/{victor.pk}/role", {"role": Role.CUSTOMER_ADMIN}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="people-panel">')
    assert "<html" not in body
    assert "victor is now Customer admin." in body


def test_deactivation_ends_every_session_at_once(account_a, admin_client):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    laptop, phone = Client(), Client()
    for client in (laptop, phone):
        assert client.post("/accounts/login/", {"username": "victor", "password": PASSWORD}).status_code == 302
        assert client.get("/account/acme/events/").status_code == 200

    response = admin_client.post(f"/account/acme/people/{victor.pk}/deactivate")
    assert response.status_code == 302
    for client in (laptop, phone):
        gone = client.get("/account/acme/events/")
        assert gone.status_code == 302 and gone["Location"].startswith("/accounts/login/")
        assert gone.wsgi_request.user.is_authenticated is False
    assert client.post("/accounts/login/", {"username": "victor", "password": PASSWORD}).status_code == 200

    # Reactivated, victor signs in again with the password; the old sessions stay ended.
    admin_client.post(f"/account/acme/people/{victor.pk}/reactivate")
    for client in (laptop, phone):
        assert client.get("/account/acme/events/").status_code == 302
        assert "_auth_user_id" not in client.session  # the stale session's hash failed: flushed
    fresh = Client()
    assert fresh.post("/accounts/login/", {"username": "victor", "password": PASSWORD}).status_code == 302
    assert fresh.get("/account/acme/events/").status_code == 200
    assert [c[1] for c in _changes(account_a)] == ["reactivated", "deactivated"]


def test_sessions_from_before_the_epoch_existed_stay_valid(account_a):
    """Epoch 0 keeps Django's own hash: sessions signed in before this release are not ended."""
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    django_hash = salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", victor.password, algorithm="sha256"
    ).hexdigest()
    assert victor.session_epoch == 0
    assert victor.get_session_auth_hash() == django_hash
    victor.session_epoch = 1
    assert victor.get_session_auth_hash() != django_hash


def test_api_keys_stay_with_the_account_when_their_creator_is_deactivated(account_a, admin_a):
    other = factories.make_user(Role.CUSTOMER_ADMIN, account_a, "carol")
    key = factories.account_key(account_a)
    people.person_deactivate(actor=admin_a, account=account_a, user_id=other.pk)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/accounts/acme").status_code == 200


# --- The last admin ----------------------------------------------------------------------


def test_the_last_customer_admin_cannot_be_demoted_or_deactivated(account_a, admin_a, admin_client):
    demote = admin_client.post(f"/account/acme/people/{admin_a.pk}/role", {"role": Role.VIEWER}, follow=True)
    assert "alice is the last customer admin of this account: make someone else one first." in demote.content.decode()
    deactivate = admin_client.post(f"/account/acme/people/{admin_a.pk}/deactivate", follow=True)
    assert "alice is the last customer admin of this account" in deactivate.content.decode()
    admin_a.refresh_from_db()
    assert (admin_a.role, admin_a.is_active) == (Role.CUSTOMER_ADMIN, True)
    assert _changes(account_a) == []


def test_a_deactivated_admin_does_not_count(account_a, admin_a):
    carol = factories.make_user(Role.CUSTOMER_ADMIN, account_a, "carol")
    people.person_deactivate(actor=admin_a, account=account_a, user_id=carol.pk)
    with pytest.raises(people.LastAdmin):
        people.person_role_change(actor=admin_a, account=account_a, user_id=admin_a.pk, role=Role.VIEWER)


def test_with_two_admins_one_may_step_down(account_a, admin_a):
    factories.make_user(Role.CUSTOMER_ADMIN, account_a, "carol")
    people.person_role_change(actor=admin_a, account=account_a, user_id=admin_a.pk, role=Role.VIEWER)
    admin_a.refresh_from_db()
    assert admin_a.role == Role.VIEWER


def test_admins_of_another_account_do_not_count(account_a, account_b, admin_a):
    factories.make_user(Role.CUSTOMER_ADMIN, account_b, "bob")
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    with pytest.raises(people.LastAdmin):
        people.person_deactivate(actor=admin_a, account=account_a, user_id=admin_a.pk)


def _race(steps) -> list[BaseException]:
    """Run each step on its own connection, released together; the check is slowed down (a second) so that,
    without the scope's lock, both would pass it before either wrote."""
    start = threading.Barrier(len(steps))
    results: list[BaseException] = []
    threads = []
    for step in steps:

        def run(step=step):
            start.wait()
            try:
                step()
            except people.PeopleRefused as exc:
                results.append(exc)

        threads.append(in_thread(run))
    for thread, errors in threads:
        thread.join(timeout=30)
        assert errors == []
    return results


@pytest.fixture
def slow_check(monkeypatch):
    check = people._keep_an_admin

    def slowly(account, leaving):
        check(account, leaving)
        time.sleep(1.0)  # long enough that, without the lock, both would count before either wrote

    monkeypatch.setattr(people, "_keep_an_admin", slowly)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["demote", "deactivate"])
@pytest.mark.parametrize("actors", ["each_other", "an_operator"])
def test_two_admins_removed_at_once_leave_one(slow_check, how, actors):
    account = factories.make_account("acme", name="Acme Support")
    alice = factories.make_user(Role.CUSTOMER_ADMIN, account, "alice")
    carol = factories.make_user(Role.CUSTOMER_ADMIN, account, "carol")
    olga = factories.make_user(Role.VENDOR_OPERATOR, None, "olga")

    def remove(actor, target):
        if how == "demote":
            return lambda: people.person_role_change(actor=actor, account=account, user_id=target.pk, role="viewer")
        return lambda: people.person_deactivate(actor=actor, account=account, user_id=target.pk)

    first, second = (alice, carol) if actors == "each_other" else (olga, olga)
    refused = _race([remove(first, carol), remove(second, alice)])

    assert len(refused) == 1 and isinstance(refused[0], people.LastAdmin)
    admins = User.objects.filter(account=account, role=Role.CUSTOMER_ADMIN, is_active=True)
    assert admins.count() == 1
    assert PeopleChange.objects.filter(account=account).count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_scope_lock_the_race_is_lost(slow_check, monkeypatch):
    """The race test can fail: with the lock taken away, both demotions pass the check."""
    monkeypatch.setattr(people, "_scope_lock", lambda account: None)
    account = factories.make_account("acme", name="Acme Support")
    alice = factories.make_user(Role.CUSTOMER_ADMIN, account, "alice")
    carol = factories.make_user(Role.CUSTOMER_ADMIN, account, "carol")
    olga = factories.make_user(Role.VENDOR_OPERATOR, None, "olga")  # one actor: no row locks cross
    refused = _race(
        [
            lambda: people.person_role_change(actor=olga, account=account, user_id=carol.pk, role="viewer"),
            lambda: people.person_role_change(actor=olga, account=account, user_id=alice.pk, role="viewer"),
        ]
    )
    assert refused == []
    assert User.objects.filter(account=account, role=Role.CUSTOMER_ADMIN).count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_acceptances_make_one_person():
    account = factories.make_account("acme", name="Acme Support")
    alice = factories.make_user(Role.CUSTOMER_ADMIN, account, "alice")
    invitation = people.invitation_create(
        actor=alice, account=account, email="nina@example.com", role="viewer", base_url=BASE
    )
    token = people.invitation_token(invitation)
    refused: list[BaseException] = []
    start = threading.Barrier(2)

    def accept(username):
        def run():
            start.wait()
            try:
                people.invitation_accept(token=token, username=username, password=NEW_PASSWORD)
            except people.InvitationInvalid as exc:
                refused.append(exc)

        return run

    threads = [in_thread(accept("nina")), in_thread(accept("nina2"))]
    for thread, errors in threads:
        thread.join(timeout=30)
        assert errors == []
    assert [exc.reason for exc in refused] == ["used"]
    assert User.objects.filter(email="nina@example.com").count() == 1


# --- Vendor staff --------------------------------------------------------------------------


@pytest.fixture
def olga(db):
    return factories.make_user(Role.VENDOR_OPERATOR, None, "olga")


@pytest.fixture
def olga_client(olga):
    client = Client()
    client.force_login(olga)
    return client


def test_vendor_operators_invite_staff(olga_client, mailoutbox, tasks_inline, django_capture_on_commit_callbacks):
    factories.make_user(Role.CUSTOMER_ADMIN, factories.make_account("acme"), "alice")
    page = olga_client.get("/vendor/people/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "olga" in body and "alice" not in body  # vendor staff only
    assert '<option value="vendor_support"' in body and '<option value="viewer"' not in body
    with django_capture_on_commit_callbacks(execute=True):
        response = olga_client.post("/vendor/people/invite", {"email": "sam@vendor.example", "role": "vendor_support"})
    assert response.status_code == 302 and response["Location"] == "/vendor/people/"
    [mail] = mailoutbox
    assert "(vendor staff)" in mail.subject
    assert _accept(_link(mail), "sam").status_code == 302
    sam = User.objects.get(username="sam")
    assert (sam.role, sam.account_id) == (Role.VENDOR_SUPPORT, None)
    assert [c[1] for c in _changes(None)] == ["invitation_accepted", "invited"]


def test_the_last_vendor_operator_stays(olga, olga_client):
    sam = factories.make_user(Role.VENDOR_SUPPORT, None, "sam")
    refused = olga_client.post(f"/vendor/people/{olga.pk}/deactivate", follow=True)
    assert "olga is the last vendor operator: make someone else one first." in refused.content.decode()
    olga_client.post(f"/vendor/people/{sam.pk}/role", {"role": Role.VENDOR_OPERATOR})
    olga_client.post(f"/vendor/people/{olga.pk}/deactivate")
    olga.refresh_from_db()
    assert olga.is_active is False
    assert olga_client.get("/vendor/people/").status_code == 302  # olga was signed out


def test_vendor_operators_manage_an_accounts_people(olga_client, account_a):
    """The first customer admin of a new account comes from the vendor."""
    invite = {"email": "first@acme.example", "role": "customer_admin"}
    response = olga_client.post("/account/acme/people/invite", invite)
    assert response.status_code == 302
    assert Invitation.objects.get().account == account_a


def test_an_account_name_on_two_lines_makes_a_one_line_subject(account_a, admin_a, mailoutbox):
    type(account_a).objects.filter(pk=account_a.pk).update(name="Acme\nSupport")
    invitation = people.invitation_create(
        actor=admin_a, account=account_a, email="nina@example.com", role=Role.VIEWER, base_url=BASE
    )
    assert people.invitation_email(invitation_id=invitation.pk, base_url=BASE) == 1
    assert mailoutbox[0].subject == "You are invited to Acme Support on OutcomePortal"


def test_the_admin_lists_invitations_and_changes_read_only(account_a, admin_a):
    people.invitation_create(actor=admin_a, account=account_a, email="nina@example.com", role="viewer", base_url=BASE)
    superuser = User.objects.create_superuser("root", "root@example.com", PASSWORD, role=Role.VENDOR_OPERATOR)
    client = Client()
    client.force_login(superuser)
    invitations = client.get("/admin/accounts/invitation/")
    assert invitations.status_code == 200 and "nina@example.com" in invitations.content.decode()
    changes = client.get("/admin/accounts/peoplechange/")
    assert changes.status_code == 200 and "nina@example.com" in changes.content.decode()
    assert client.get("/admin/accounts/invitation/add/").status_code == 403
