import pytest
from django.utils.module_loading import import_string


@pytest.fixture
def tasks_inline(monkeypatch) -> list[tuple]:
    """Background tasks enqueued by accounts.people run in-line (the emails); returns what ran."""
    ran: list[tuple] = []

    def run(path: str, *args, **kwargs):
        ran.append((path, *args))
        return import_string(path)(*args)

    monkeypatch.setattr("accounts.people.async_task", run)
    return ran
