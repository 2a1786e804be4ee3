"""Seeding and deleting the demo world: what exists, the reset, the seed and its parallel run."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from django.apps import apps
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, ForeignKey, ProtectedError, Q, RestrictedError
from django.utils import timezone

from accounts.models import Account, ApiKey, ApiKeyScope, User
from metering.demo.catalogue import OUTCOME_BY_CODE
from metering.demo.customers import ACCOUNTS, DEMO_USERS
from metering.demo.hooks import _hooks_run, _reset_hooks_run, demo_settle
from metering.demo.report import Progress, SeedReport, Tick
from metering.demo.world import DEMO_KEY_NAME, _Cell, _World
from metering.models import Event, OutcomeCost, OutcomeType, SessionClaim, Signal, SuccessCriteria

# --- What exists ---------------------------------------------------------------------------------


def demo_present() -> list[str]:
    """What of the demo world (or something in its way) is already in the database."""
    found = [
        f"account {ext}"
        for ext in Account.objects.filter(external_id__in=[a.external_id for a in ACCOUNTS]).values_list(
            "external_id", flat=True
        )
    ]
    found += [
        f"outcome type {code}"
        for code in OutcomeType.objects.filter(code__in=list(OUTCOME_BY_CODE)).values_list("code", flat=True)
    ]
    found += [
        f"user {name}"
        for name in User.objects.filter(username__in=[u.username for u in DEMO_USERS]).values_list(
            "username", flat=True
        )
    ]
    return found


def demo_reset(*, progress: Progress = lambda _: None) -> None:
    """Delete the demo world: its accounts and everything they own, its catalogue, users and key.

    Rows of downstream apps (billing, disputes) that point at demo accounts, events or outcome
    types are found through the app registry — metering imports nothing to its right — and
    deleted first. Events go by plain SQL: millions of rows, no per-row ORM work.

    Finalized invoices, credit notes and contract versions are guarded by triggers that refuse
    any delete — rightly, for real customers. A demo that ran ``build_invoices`` has them, so
    the reset switches triggers off for its own transaction (``session_replication_role``,
    which needs a superuser role: the embedded server's and CI's). Without that right, such a
    demo cannot be deleted and the error says so.
    """
    account_ids = list(
        Account.objects.filter(external_id__in=[a.external_id for a in ACCOUNTS]).values_list("pk", flat=True)
    )
    codes = list(OUTCOME_BY_CODE)
    with transaction.atomic():
        triggers_off = _triggers_off()
        _downstream_delete(account_ids=account_ids, codes=codes, triggers_off=triggers_off)
        with connection.cursor() as cursor:
            for model in (Signal, SessionClaim, Event):
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE account_id = ANY(%s)", [account_ids])
                if model is Event:
                    progress(f"Deleted {cursor.rowcount:,} demo events.")
        SuccessCriteria.objects.filter(account_id__in=account_ids).delete()
        Account.objects.filter(pk__in=account_ids).delete()  # users, keys, claims and rollups go with them
        used = set(Event.objects.filter(outcome_type__code__in=codes).values_list("outcome_type__code", flat=True))
        if used:
            raise RuntimeError(
                f"Outcome types {', '.join(sorted(used))} have events of non-demo accounts; "
                "use a fresh database for the demo."
            )
        SuccessCriteria.objects.filter(outcome_type__code__in=codes).delete()
        OutcomeCost.objects.filter(outcome_type__code__in=codes).delete()  # the vendor's costs protect their types
        OutcomeType.objects.filter(code__in=codes).delete()
        User.objects.filter(username__in=[u.username for u in DEMO_USERS]).delete()
        ApiKey.objects.filter(scope=ApiKeyScope.VENDOR, name=DEMO_KEY_NAME).delete()
        if account_ids:
            if triggers_off:  # what the hooks write is checked and chained as ever
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = origin")
            _reset_hooks_run(account_ids)


def _triggers_off() -> bool:
    """Switch triggers off until the end of the transaction, if this role may (see demo_reset)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def _downstream_delete(*, account_ids: list[int], codes: list[str], triggers_off: bool) -> None:
    """Delete rows of apps right of metering that reference demo accounts, events or outcome types."""
    lookups = {
        Account: lambda name: Q(**{f"{name}__in": account_ids}),
        Event: lambda name: Q(**{f"{name}__account_id__in": account_ids}),
        OutcomeType: lambda name: Q(**{f"{name}__code__in": codes}),
        SuccessCriteria: lambda name: Q(**{f"{name}__outcome_type__code__in": codes}),
    }
    pending = []
    tables = set(connection.introspection.table_names())
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ("accounts", "metering") or model._meta.db_table not in tables:
            continue
        query = Q()
        for f in model._meta.get_fields():
            if isinstance(f, ForeignKey) and f.related_model in lookups:
                query |= lookups[f.related_model](f.name)
        if query:
            pending.append((model, query))
    # Rows may protect each other; retry in rounds until nothing is left or nothing moves.
    errors: dict[str, str] = {}
    while pending:
        failed = []
        for model, query in pending:
            try:
                with transaction.atomic():
                    model._base_manager.filter(query).delete()
            except (DatabaseError, ProtectedError, RestrictedError) as exc:  # try again next round
                failed.append((model, query))
                errors[model._meta.label] = str(exc).splitlines()[0]
        if len(failed) == len(pending):
            break
        pending = failed
    if pending:
        details = "; ".join(f"{m._meta.label}: {errors[m._meta.label]}" for m, _ in pending)
        hint = "" if triggers_off else " (this database role may not switch triggers off)"
        raise RuntimeError(
            f"Could not delete the demo's rows of other apps{hint}: {details}. "
            "Use a fresh database for the demo (e.g. make db-stop && rm -rf .data/pg)."
        )


# --- The seed ----------------------------------------------------------------------------------


def demo_seed(
    *,
    events: int = 250_000,
    days: int = 90,
    seed: int = 42,
    now: datetime | None = None,
    workers: int = 2,
    progress: Progress = print,
    tick: Tick = lambda done, total, day: None,
) -> SeedReport:
    """Build the demo world. The database must not hold it already (see :func:`demo_reset`).

    Accounts are independent (their sessions, claims and rollups never meet), so ``workers``
    processes ingest disjoint groups of accounts side by side, each in time order; they meet
    once, when the product definition v2 of resolutions is rolled out. The world itself does
    not depend on ``workers``: every account has its own random stream.

    ``progress`` gets the messages of each step; ``tick`` how far the ingestion is (events
    ingested over all processes, events in all, the day the slowest process has reached).
    """
    started = time.perf_counter()
    now = now or timezone.now()
    world = _World(now=now, days=days, seed=seed)
    world.setup(progress)
    _hooks_run("before_events", world, progress)
    report = SeedReport(events_requested=events, days=days, seed=seed, vendor_key=world.vendor_key)
    cells = world.quota(events)
    groups = _partition(cells, max(1, min(workers, len(ACCOUNTS))))
    report.workers = len(groups)

    total = sum(cell.events for cell in cells)
    t = time.perf_counter()
    if len(groups) == 1:
        report.add(
            world.run(cells=groups[0], v2_gate=world.resolution_v2, tick=lambda done, day: tick(done, total, day))
        )
    else:
        for part in _run_parallel(world, groups, lambda done, day: tick(done, total, day)):
            report.add(part)
    report.run_seconds = time.perf_counter() - t

    t = time.perf_counter()
    report.settled = demo_settle(now=now)
    report.settle_seconds = time.perf_counter() - t
    _hooks_run("after_settlement", world, progress)
    _summarise(report, world)
    report.total_seconds = time.perf_counter() - started
    return report


def _partition(cells: list[_Cell], workers: int) -> list[list[_Cell]]:
    """Split the accounts into ``workers`` groups of about equal volume (largest first)."""
    volume = Counter()
    for cell in cells:
        volume[cell.spec.external_id] += cell.events
    loads = [0] * workers
    group_of = {}
    for external_id, n in volume.most_common():
        k = loads.index(min(loads))
        group_of[external_id] = k
        loads[k] += n
    groups: list[list[_Cell]] = [[] for _ in range(workers)]
    for cell in cells:
        groups[group_of[cell.spec.external_id]].append(cell)
    return [g for g in groups if g]


def _run_parallel(world: _World, groups: list[list[_Cell]], tick: Callable[[int, int], None]) -> list[SeedReport]:
    """Run one forked process per group; add up their progress into one ``tick(events ingested,
    day the slowest process is on)``, which only moves forward; return their reports."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(groups))
    messages = context.Queue()
    connections.close_all()  # each process opens its own connection

    def gate(index: int) -> None:
        # Everyone stops at the roll-out moment; one creates v2; everyone goes on with it.
        # No timeout: a process that fails or dies breaks the barrier for the others.
        barrier.wait()
        if index == 0:
            world.resolution_v2()
        barrier.wait()

    def work(index: int, cells: list[_Cell]) -> None:
        try:
            part = world.run(
                cells=cells,
                v2_gate=lambda: gate(index),
                tick=lambda done, day: messages.put(("tick", index, (done, day))),
            )
            messages.put(("done", index, part))
        except BaseException:
            barrier.abort()
            messages.put(("error", index, traceback.format_exc()))
        finally:
            connections.close_all()

    processes = [context.Process(target=work, args=(i, cells), daemon=True) for i, cells in enumerate(groups)]
    for process in processes:
        process.start()
    reports: dict[int, SeedReport] = {}
    latest: dict[int, tuple[int, int]] = {i: (0, 0) for i in range(len(groups))}
    errors: list[str] = []
    failed: set[int] = set()
    while len(reports) + len(failed) < len(processes):
        try:
            kind, index, payload = messages.get(timeout=5)
        except queue.Empty:
            for index, process in enumerate(processes):
                if not process.is_alive() and index not in reports and index not in failed:
                    failed.add(index)
                    errors.append(f"seeding process {index} died (exit code {process.exitcode})")
                    barrier.abort()
            continue
        if kind == "tick":
            latest[index] = payload
            tick(sum(done for done, _ in latest.values()), min(day for _, day in latest.values()))
        elif kind == "done":
            reports[index] = payload
        elif index not in failed:
            failed.add(index)
            errors.append(payload)
    for process in processes:
        process.join(timeout=30)
    if errors:
        raise RuntimeError("Seeding failed in a worker process:\n" + "\n".join(errors))
    return [reports[i] for i in sorted(reports)]


def _summarise(report: SeedReport, world: _World) -> None:
    events = Event.objects.filter(account_id__in=world.account_pk.values())
    report.by_status = dict(events.values_list("status").annotate(n=Count("id")).order_by("-n"))
    report.by_reason = dict(
        events.exclude(non_billable_reason="").values_list("non_billable_reason").annotate(n=Count("id")).order_by("-n")
    )
    rows = (
        events.values_list("account__external_id")
        .annotate(
            n=Count("id"),
            billable=Count("id", filter=Q(status="billable")),
        )
        .order_by("-n")
    )
    report.by_account = list(rows)
    report.criteria_versions = [
        c.label
        for c in SuccessCriteria.objects.filter(outcome_type__code__in=list(OUTCOME_BY_CODE))
        .select_related("outcome_type", "account")
        .order_by("outcome_type__code", "account_id", "version")
    ]
