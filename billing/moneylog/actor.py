"""Who does a money act, as the money log records it: a user, an API key or a system task.

Services do not pass the actor down their call chains: the log asks :func:`actor_current`, which
answers, in order,

1. the actor set by :func:`acting_as` (a service that was handed a principal, a task);
2. the principal of the request being served (:class:`MoneyActorMiddleware` keeps it: an API
   key authenticated by DRF, or the signed-in user);
3. the system task running: the django-q2 task's function (``billing.apps`` hooks the worker's
   signals) or the management command (``manage.py build_invoices``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from accounts.access import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # "user" | "api_key" | "system"
    id: int | None
    label: str

    def as_dict(self) -> dict:
        return {"type": self.type, "id": self.id, "label": self.label[:150]}


_acting: ContextVar[Actor | None] = ContextVar("moneylog_actor", default=None)
_request: ContextVar[object | None] = ContextVar("moneylog_request", default=None)


def actor_of(principal: Principal) -> Actor:
    if principal.api_key_id is not None:
        return Actor("api_key", principal.api_key_id, principal.label)
    if principal.user_id is not None:
        return Actor("user", principal.user_id, principal.label)
    return Actor("system", None, principal.label)


def system(label: str) -> Actor:
    return Actor("system", None, label)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def actor_current() -> Actor:
    actor = _acting.get()
    if actor is not None:
        return actor
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    if isinstance(user, Principal):  # an API key (DRF sets the request's user once it authenticates)
        return actor_of(user)
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor("user", user.pk, user.get_username())
    return system(_program())


def _program() -> str:
    """The process's own name: ``manage.py <command>``, else the program's file name."""
    argv = sys.argv or [""]
    name = os.path.basename(argv[0])
    if name == "manage.py" and len(argv) > 1:
        return f"manage.py {argv[1]}"
    return name or "python"


class MoneyActorMiddleware:
    """Keeps the request being served, so that a money act done while serving it names its
    principal (read when the act is recorded: after DRF has authenticated an API key)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def task_started(sender=None, func=None, task=None, **kwargs) -> None:
    """django-q2's ``pre_execute``: acts of the task are the task's (its function's dotted name)."""
    name = func if isinstance(func, str) else getattr(func, "__qualname__", None) or str(func)
    if not isinstance(func, str) and getattr(func, "__module__", None):
        name = f"{func.__module__}.{name}"
    _acting.set(system(f"task {name}"))


def task_finished(sender=None, **kwargs) -> None:
    _acting.set(None)
