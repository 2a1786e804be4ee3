"""The issue_credits job: idempotent, crash-safe, never credits twice; SLA warnings once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import JobRun, Notification
from billing.invoices.models import CreditNote, Invoice, NumberSeries
from billing.ledger.models import Charge
from billing.services import credit_note_issue
from disputes import services
from disputes.models import Dispute, DisputeCredit, DisputeHistory, DisputeTerms
from disputes.services import credits_issue, dispute_file, dispute_resolve
from disputes.tasks import issue_credits
from metering.models import Event
from tests.disputes.conftest import JULY_12, JULY_13
from tests.faults import credit_steps

CHECKPOINTS = ["excluded", "credit_note_issued", "events_credited", "drafts_refreshed"]


def two_approved(world) -> tuple[Dispute, Dispute]:
    """D1: two invoiced June events (→ a credit note); D2: two open-period July events (→ off the draft)."""
    admin, support = world.principal("admin_a"), world.principal("support")
    d1 = dispute_file(
        principal=admin, account=world.a, reason_code="other", message="x", event_ids=["jun-0", "jun-1"], now=JULY_12
    )
    d2 = dispute_file(
        principal=admin, account=world.a, reason_code="other", message="y", event_ids=["jul-0", "jul-1"], now=JULY_12
    )
    dispute_resolve(principal=support, dispute=d1, decision="approved", now=JULY_12)
    dispute_resolve(principal=support, dispute=d2, decision="approved", now=JULY_12 + timedelta(minutes=1))
    return d1, d2


def state(world) -> tuple:
    """Every row the job writes, and what the customer would be billed."""
    july = Invoice.objects.filter(account=world.a, period="2026-07").first()
    return (
        sorted(Dispute.objects.values_list("pk", "credit_state", "credited_amount", "credit_note__number")),
        sorted(DisputeCredit.objects.values_list("dispute_id", "event__event_id", "method", "amount")),
        sorted(CreditNote.objects.values_list("number", "amount", "dispute_id")),
        sorted(Event.objects.filter(account=world.a).values_list("event_id", "status", "non_billable_reason")),
        sorted(Charge.objects.filter(account=world.a).values_list("event__event_id", "state", "reason", "amount")),
        (july.subtotal, july.credits_applied, july.total) if july else None,
        NumberSeries.objects.filter(name="credit_note").values_list("next_value", flat=True).first(),
    )


EXPECTED_EVENTS = {
    "jun-0": ("credited", ""),
    "jun-1": ("credited", ""),
    "jun-2": ("invoiced", ""),
    "jul-0": ("non_billable", "dispute_credited"),
    "jul-1": ("non_billable", "dispute_credited"),
    "jul-2": ("billable", ""),
}


def assert_credited_once(world, d1, d2) -> None:
    d1.refresh_from_db()
    d2.refresh_from_db()
    assert (d1.credit_state, d1.credited_amount, d1.credit_note.number) == ("issued", Decimal("1.9800"), "CN-000001")
    assert (d2.credit_state, d2.credited_amount, d2.credit_note_id) == ("issued", Decimal("1.9800"), None)
    assert CreditNote.objects.count() == 1
    assert DisputeCredit.objects.count() == 4
    events = {e: (world.event(e).shown_status, world.event(e).shown_reason) for e in EXPECTED_EVENTS}
    assert {k: events[k] for k in EXPECTED_EVENTS} == EXPECTED_EVENTS
    july = Invoice.objects.get(account=world.a, period="2026-07")
    # 2 of 4 July outcomes left (1.98), minus the credit note (1.98).
    assert (july.subtotal, july.credits_applied, july.total) == (Decimal("1.9800"), Decimal("1.9800"), Decimal(0))


def test_running_twice_credits_once(world):
    d1, d2 = two_approved(world)
    first = credits_issue(now=JULY_13)
    assert (first.credited, first.credit_notes, first.failed) == ([d1.pk, d2.pk], ["CN-000001"], {})
    after_first = state(world)
    second = credits_issue(now=JULY_13 + timedelta(minutes=5))
    assert (second.credited, second.credit_notes, second.failed) == ([], [], {})
    assert state(world) == after_first
    assert_credited_once(world, d1, d2)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_a_failure_half_way_leaves_nothing_half_done_and_a_rerun_completes(world, monkeypatch, checkpoint):
    d1, d2 = two_approved(world)
    before = state(world)
    failures = []

    def fail_once(name: str) -> None:
        if name == checkpoint and not failures:
            failures.append(name)
            raise RuntimeError(f"injected at {name}")

    with credit_steps(fail_once):
        run = credits_issue(now=JULY_13)

    # The first dispute to reach the checkpoint failed and is exactly as before; the job went on.
    (failed_id,) = run.failed
    assert run.failed[failed_id] == f"RuntimeError: injected at {checkpoint}"
    failed = Dispute.objects.get(pk=failed_id)
    assert (failed.credit_state, failed.credited_amount) == ("pending", None)
    assert DisputeCredit.objects.filter(dispute=failed).count() == 0
    assert failed.history.filter(subject__in=["credit_note", "event"], actor="issue_credits job").count() == 0
    assert set(run.credited) == {d1.pk, d2.pk} - {failed_id}
    assert state(world) != before

    rerun = credits_issue(now=JULY_13 + timedelta(minutes=5))
    assert (rerun.credited, rerun.failed) == ([failed_id], {})
    assert_credited_once(world, d1, d2)
    assert NumberSeries.objects.get(name="credit_note").next_value == 2  # gapless: CN-000001 only, once


class Killed(BaseException):
    """A worker killed mid-job (SIGKILL, OOM): not an Exception the job could catch."""


def test_a_crash_mid_job_then_a_rerun_credits_everything_once(world, monkeypatch):
    d1, d2 = two_approved(world)
    before = state(world)

    def kill(name: str) -> None:
        if name == "credit_note_issued":
            raise Killed

    with credit_steps(kill), pytest.raises(Killed):
        issue_credits(JULY_13)
    assert state(world) == before  # d1 rolled back (note number returned), d2 never reached
    run = JobRun.objects.get(name="issue_credits")
    assert (run.status, run.error) == ("failed", "Killed: ")

    result = issue_credits(JULY_13 + timedelta(minutes=5))
    assert (result["credited"], result["credit_notes"]) == ([d1.pk, d2.pk], ["CN-000001"])
    assert_credited_once(world, d1, d2)


def test_the_database_refuses_a_second_credit_of_an_event_and_a_second_note_per_dispute(world):
    d1, d2 = two_approved(world)
    credits_issue(now=JULY_13)
    with pytest.raises(IntegrityError), transaction.atomic():
        DisputeCredit.objects.create(
            dispute=d2,
            account=world.a,
            event=world.event("jun-0"),
            method="credit_note",
            amount=Decimal("0.99"),
            created_at=JULY_13,
        )
    # Billing's credit-note service is idempotent per dispute: the same note comes back.
    again = credit_note_issue(account=world.a, amount=Decimal("5"), reason="again", dispute_id=d1.pk)
    assert (again.number, again.amount) == ("CN-000001", Decimal("1.9800"))
    assert CreditNote.objects.count() == 1


def test_the_ledger_and_the_audit_trail_are_append_only(world):
    two_approved(world)
    credits_issue(now=JULY_13)
    rows = (
        (DisputeCredit.objects.filter(pk=DisputeCredit.objects.first().pk), {"amount": Decimal(0)}),
        (DisputeHistory.objects.filter(pk=DisputeHistory.objects.first().pk), {"note": "rewritten"}),
    )
    for qs, change in rows:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            qs.update(**change)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            qs.delete()


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_credit_once(world):
    d1, d2 = two_approved(world)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(credits_issue(now=JULY_13))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(pk for r in results for pk in r.credited) == [d1.pk, d2.pk]
    assert [f for r in results for f in r.failed] == []
    assert_credited_once(world, d1, d2)


# --- SLA warnings -------------------------------------------------------------------------------


def test_support_is_warned_once_before_the_sla_ends(
    world, tasks_inline, django_capture_on_commit_callbacks, monkeypatch
):
    # The email goes out (in-line) at the job's time: 5 h before the deadline, not months after it.
    monkeypatch.setattr("django.utils.timezone.now", lambda: JULY_12 + timedelta(hours=43))
    dispute = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="other",
        message="x",
        event_ids=["jun-0"],
        now=JULY_12,
    )
    assert dispute.sla_due_at == JULY_12 + timedelta(hours=48)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert credits_issue(now=JULY_12 + timedelta(hours=41)).sla_warned == []  # 7 h left: not yet
        assert credits_issue(now=JULY_12 + timedelta(hours=43)).sla_warned == [dispute.pk]  # 5 h left
        assert credits_issue(now=JULY_12 + timedelta(hours=44)).sla_warned == []  # once
    (note,) = Notification.objects.filter(kind="dispute_sla")
    assert (note.title, note.roles) == (f"SLA due in 5 h: dispute #{dispute.pk} of Acme Support", ["vendor_support"])
    (email,) = mail.outbox
    assert email.subject == f"[OutcomePortal] SLA of dispute #{dispute.pk} (Acme Support) ends 14 Jul 2026, 12:00 UTC"
    assert sorted(email.to) == ["sam@example.com", "sue@example.com"]
    # Customers never see support's notifications.
    from accounts.notify import notifications_for

    assert not notifications_for(account_id=world.a.pk, role="customer_admin").filter(kind="dispute_sla").exists()


def test_the_warning_goes_to_the_assignee_when_there_is_one(
    world, tasks_inline, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: JULY_12 + timedelta(hours=50))  # 2 h past due
    dispute = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="other",
        message="x",
        event_ids=["jun-0"],
        now=JULY_12,
    )
    services.dispute_assign(principal=world.principal("support"), dispute=dispute, assignee=world.people["support2"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        credits_issue(now=JULY_12 + timedelta(hours=50))
    (email,) = mail.outbox
    assert email.to == ["sue@example.com"]
    assert Notification.objects.get(kind="dispute_sla").title.startswith(f"SLA breached: dispute #{dispute.pk}")


def test_an_account_can_have_its_own_sla(world):
    DisputeTerms.objects.create(account=world.a, sla_hours=24)
    dispute = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="other",
        message="x",
        event_ids=["jun-0"],
        now=JULY_12,
    )
    other = dispute_file(
        principal=world.principal("admin_b"),
        account=world.b,
        reason_code="other",
        message="x",
        event_ids=["b-jun-0"],
        now=JULY_12,
    )
    assert (dispute.sla_hours, dispute.sla_due_at) == (24, JULY_12 + timedelta(hours=24))
    assert (other.sla_hours, other.sla_due_at) == (48, JULY_12 + timedelta(hours=48))


def test_the_job_is_scheduled(db):
    from django.core.management import call_command

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    schedule = Schedule.objects.get(name="issue_credits")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "disputes.tasks.issue_credits",
        Schedule.MINUTES,
        5,
        -1,
    )


def test_approval_enqueues_the_credit_on_commit(world, tasks_inline, django_capture_on_commit_callbacks):
    dispute = dispute_file(
        principal=world.principal("admin_a"),
        account=world.a,
        reason_code="other",
        message="x",
        event_ids=["jun-0"],
        now=JULY_12,
    )
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(principal=world.principal("support"), dispute=dispute, decision="approved", now=JULY_12)
    assert ("disputes.tasks.dispute_credit", dispute.pk) in tasks_inline
    dispute.refresh_from_db()
    assert (dispute.credit_state, dispute.credited_amount) == ("issued", Decimal("0.9900"))
    assert dispute.credited_at <= timezone.now()


def test_the_demo_hook_files_resolves_and_credits_through_the_services(world):
    from disputes.demo import disputes_demo_file
    from metering.demo import _HOOKS, DemoContext

    assert disputes_demo_file in _HOOKS["after_settlement"]  # registered at start-up
    said = []
    context = DemoContext(
        accounts={"acme": world.a.pk}, specs=(), period_start=JULY_12, now=JULY_13, progress=said.append
    )
    disputes_demo_file(context)
    # Two credited disputes are on the July draft: their outcomes leave it (dispute_credited), no credit note.
    assert said == [
        "disputes: 8 filed, 4 answered (4 within the SLA), 4 credited (2 credit notes), "
        "4 open in the queue (1 due within the warning time)"
    ]
    assert sorted(Dispute.objects.values_list("status", "credit_state", "credited_amount")) == [
        ("approved", "issued", Decimal("0.9900")),
        ("approved", "issued", Decimal("0.9900")),
        ("approved", "issued", Decimal("0.9900")),
        *[("open", "none", None)] * 4,
        ("partially_approved", "issued", Decimal("0.9900")),
    ]
    # Believable times: filed after the window closed and in number order, answered after filing and
    # before the seed's now, within the SLA; none open past its SLA, one due within the warning time.
    disputes = list(Dispute.objects.order_by("pk").prefetch_related("items__event"))
    assert [d.filed_at for d in disputes] == sorted(d.filed_at for d in disputes)
    for d in disputes:
        assert d.filed_at > max(i.event.window_ends_at for i in d.items.all())
        if d.resolved_at:
            assert d.filed_at < d.resolved_at <= min(d.sla_due_at, JULY_13)
    assert sorted(d.sla_due_at - JULY_13 for d in disputes if d.status == "open") == [
        timedelta(hours=h) for h in (3, 20, 33, 45)
    ]
