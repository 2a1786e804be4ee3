"""Failures and pauses injected half-way through a service, from the test side only.

Production code carries no hooks for tests: these helpers wrap, for the duration of a ``with``
block, the step a service has just taken (``unittest.mock.patch.object`` on the name the service
calls it by) and call ``hook(name)`` right after it — or right before, for the last step — so a
test can raise there (a crash), block there (a lock held), or run something meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from unittest.mock import patch

# invoice_finalize, in order: lines priced and saved, events frozen on them, numbered, credits posted.
FINALIZE_STEPS = {
    "lines_saved": "_refresh_locked",
    "events_billed": "_events_freeze",
    "numbered": "number_take",
    "credits_posted": "_credits_post",
}
# The dispute credit job, for one dispute: unbilled events excluded, credit note issued, billed
# events credited, drafts refreshed (just before the dispute's own transition).
CREDIT_STEPS = {
    "excluded": ("charges_credit_unbilled", "after"),
    "credit_note_issued": ("credit_note_issue", "after"),
    "events_credited": ("charges_credit_invoiced", "after"),
    "drafts_refreshed": ("transition", "before"),
}


def _wrapped(original: Callable, name: str, hook: Callable[[str], None], when: str) -> Callable:
    def step(*args, **kwargs):
        if when == "before":
            hook(name)
            return original(*args, **kwargs)
        result = original(*args, **kwargs)
        hook(name)
        return result

    return step


@contextmanager
def _steps(module, steps: dict[str, tuple[str, str]], hook: Callable[[str], None]) -> Iterator[None]:
    with ExitStack() as stack:
        for name, (function, when) in steps.items():
            original = getattr(module, function)
            stack.enter_context(patch.object(module, function, _wrapped(original, name, hook, when)))
        yield


def finalize_steps(hook: Callable[[str], None]):
    """``hook(step)`` after each step of :func:`billing.services.invoice_finalize`."""
    from billing import services

    return _steps(services, {name: (function, "after") for name, function in FINALIZE_STEPS.items()}, hook)


def credit_steps(hook: Callable[[str], None]):
    """``hook(step)`` at each step of the dispute credit job (disputes.services.credits)."""
    from disputes.services import credits

    return _steps(credits, CREDIT_STEPS, hook)
