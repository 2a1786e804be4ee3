"""A record of every job run, kept by the job itself (see JobRun)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.utils import timezone

from accounts.models import JobRun


@contextlib.contextmanager
def job_run_record(*, name: str, scope: str = "") -> Iterator[JobRun]:
    """Record a run: ``running`` now, then ``succeeded`` with its result or ``failed`` with the error.

    The body sets ``run.result``. The record is written outside the job's own transaction so
    that a failure (or a kill) leaves a trace.
    """
    run = JobRun.objects.create(name=name, scope=scope, started_at=timezone.now())
    try:
        yield run
    except BaseException as exc:
        run.status = JobRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "result", "finished_at"])
