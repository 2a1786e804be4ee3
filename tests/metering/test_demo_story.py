"""`make demo` tells a good story, quietly and truthfully (issue 16, point 5).

The seeded disputes have believable timings (every state, answered within the SLA but for a few,
one or two at risk now, none open past its SLA); the output has one progress display that only
moves forward, the real address (``PORT``), no emails, and ends with the sign-in banner and a tour
per role; emails go to files unless the console is asked for.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command

from disputes import conf
from disputes.models import Dispute
from metering.demo.customers import DEMO_USERS
from metering.demo.report import ProgressBar
from metering.demo.tour import TOUR, demo_banner, email_destination, site_url

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # mid-month: a closed month invoiced, the current one on its draft


@pytest.mark.django_db(transaction=True)
def test_the_seed_tells_a_believable_dispute_story_and_ends_with_the_banner(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    out = StringIO()
    call_command("seed_demo", events=8000, workers=1, seed=42, now=NOW.isoformat(), stdout=out)

    disputes = list(Dispute.objects.order_by("pk").prefetch_related("items__event"))
    assert {d.status for d in disputes} == {"open", "approved", "partially_approved", "rejected"}
    assert {d.credit_state for d in disputes} == {"none", "issued"}  # the approved ones are credited
    assert {d.invoice_id is None for d in disputes if d.credit_state == "issued"} == {True, False}  # draft, invoice
    opened = [d for d in disputes if d.status == "open"]
    answered = [d for d in disputes if d.status != "open"]
    # None open past its SLA (let alone weeks past); one or two at risk now.
    assert all(d.sla_due_at > NOW for d in opened)
    at_risk = [d for d in opened if d.sla_due_at - NOW <= conf.sla_warning()]
    assert 1 <= len(at_risk) <= 2
    # Most answered within the SLA, a few late; all before the seed's now, after filing.
    late = [d for d in answered if d.resolved_at > d.sla_due_at]
    assert 1 <= len(late) <= len(answered) // 5
    for d in disputes:
        assert d.filed_at > max(i.event.window_ends_at for i in d.items.all())
        assert d.filed_at < (d.resolved_at or NOW) <= NOW
    assert [d.filed_at for d in disputes] == sorted(d.filed_at for d in disputes)  # numbered as filed

    text = out.getvalue()
    # The real address, wherever one is printed.
    assert "127.0.0.1:8000" not in text
    assert "Sign in at http://127.0.0.1:8123/accounts/login/" in text
    assert '"http://127.0.0.1:8123/api/v1/events?account=acme&limit=5"' in text
    # One progress display, only forward (not two processes' lines interleaving).
    shares = [int(m) for m in re.findall(r"^  \[[#.]+\]\s+(\d+) %", text, re.M)]
    assert shares == sorted(set(shares)) and shares[-1] == 100
    assert not re.search(r"^\s*day\s+\d+/\d+:", text, re.M)
    # No emails in the output; the tour is the last thing printed.
    assert "Subject:" not in text and mail.outbox == []
    lines = text.rstrip().splitlines()
    banner = lines[lines.index("What to try first, by role:") :]
    assert "Sign in at http://127.0.0.1:8123/accounts/login/" in lines[lines.index(banner[0]) - 1]
    assert [line.split()[0] for line in banner[1:] if not line.startswith(" " * 19)] == [u.username for u in DEMO_USERS]
    assert banner[-1].strip().startswith("http://127.0.0.1:8123/")

    # Seeded a while ago (the worker down since): the old open disputes are not emailed about.
    from disputes.services import credits_issue

    assert credits_issue(now=NOW + timedelta(days=20)).sla_warned == []


# --- The banner, the address, where emails go --------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "environ", "url"),
    [
        (None, None, {}, "http://127.0.0.1:8000"),
        (None, None, {"PORT": "8080"}, "http://127.0.0.1:8080"),
        (None, None, {"HOST": "localhost", "PORT": "9000"}, "http://localhost:9000"),
        ("0.0.0.0", 8001, {"PORT": "8080"}, "http://127.0.0.1:8001"),  # noqa: S104 - arguments win; a wildcard is 127.0.0.1
        ("::1", "8002", {}, "http://[::1]:8002"),
    ],
)
def test_the_printed_address_follows_host_and_port(host, port, environ, url):
    assert site_url(host=host, port=port, environ=environ) == url


def test_the_banner_uses_the_real_address_and_ends_with_a_tour_per_role():
    lines = demo_banner(url="http://127.0.0.1:8080", key="op_v_k", emails="Emails (…) are written to .data/mail/.")
    text = "\n".join(lines)
    assert ":8000" not in text
    assert 'curl -H "Authorization: Bearer op_v_k" "http://127.0.0.1:8080/api/v1/events?account=acme&limit=5"' in text
    assert "Sign in at http://127.0.0.1:8080/accounts/login/ — every demo user's password is demo-pass-2026" in text
    start = lines.index("What to try first, by role:")
    assert lines.index("Emails (…) are written to .data/mail/.") < start  # the logins and tour come last
    for user in DEMO_USERS:
        assert f"  {user.username:<16} {user.note}" in lines[start:]
        for path in TOUR[user.username][1]:
            assert f"http://127.0.0.1:8080{path}" in text
    assert all(len(line) <= 104 for line in lines[start:])
    tour = " ".join(lines[start:])
    for words in ("dispute", "cap on Spend", "queue", "contract", "void and reissue", "plan", "scenarios", "margin"):
        assert words in tour, words
    assert "shown only when seeded" in "\n".join(demo_banner(url="http://x:1"))  # no key: says how to make one


@pytest.mark.parametrize(
    ("backend", "says"),
    [
        ("django.core.mail.backends.filebased.EmailBackend", "are written to .data/mail/, one file each"),
        ("django.core.mail.backends.console.EmailBackend", "are printed in this terminal"),
        ("django.core.mail.backends.smtp.EmailBackend", "sent through django.core.mail.backends.smtp.EmailBackend"),
    ],
)
def test_one_line_says_where_emails_go(backend, says):
    assert says in email_destination(backend=backend, file_path=".data/mail")


def test_a_progress_bar_only_moves_forward():
    written: list[str] = []
    clock = iter(range(100))
    bar = ProgressBar(write=written.append, tty=False, days=90, clock=lambda: next(clock))
    # Two processes report in turn; their sum and the slower one's day are shown, never going back.
    for done, total, day in [(500, 10_000, 5), (1_200, 10_000, 9), (1_100, 10_000, 7), (5_000, 10_000, 40)]:
        bar.update(done, total, day)
    bar.update(10_000, 10_000, 90)
    shares = [int(re.search(r"\]\s+(\d+) %", line).group(1)) for line in written]
    assert shares == [12, 50, 100]
    assert written[-1].startswith("  [########################] 100 %  10,000 of 10,000 events, day 90/90")

    on_terminal: list[str] = []
    bar = ProgressBar(write=on_terminal.append, tty=True, days=90, clock=lambda: 1.0)
    bar.update(10, 100, 3)
    bar.close()
    bar.close()
    assert on_terminal[0].startswith("\r  [##") and on_terminal[1:] == ["\n"]  # one line, redrawn, ended once


# --- Emails: to files by default, to the console when asked ---------------------------------------------


def _make(*args: str) -> str:
    probe = "probe-demo-emails: ; @echo $(DEMO_EMAIL_BACKEND)"
    result = subprocess.run(  # noqa: S603
        ["make", "-s", "--no-print-directory", "--eval", probe, "probe-demo-emails", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def test_make_demo_writes_emails_to_files_unless_the_console_is_asked_for():
    assert _make() == "django.core.mail.backends.filebased.EmailBackend"
    assert _make("DEMO_EMAILS=console") == "django.core.mail.backends.console.EmailBackend"
    makefile = (ROOT / "Makefile").read_text()
    assert "demo run run-all worker seed: export EMAIL_BACKEND ?= $(DEMO_EMAIL_BACKEND)" in makefile
    # The seed is told the real host and port; the launcher prints no second banner after it.
    assert "seed_demo --if-empty --events $(EVENTS) --days $(DAYS) --seed $(SEED) --host $(HOST) --port $(PORT)" in (
        makefile
    )
    assert "@$(PY) scripts/run_portal.py --host $(HOST) --port $(PORT) --no-banner" in makefile


def test_the_file_backend_writes_under_the_data_folder_and_prints_nothing(settings, tmp_path, capsys):
    assert Path(django_settings.EMAIL_FILE_PATH) == django_settings.DATA_DIR / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    mail.send_mail("[OutcomePortal] SLA of dispute #1", "1 outcome", None, ["sam@example.com"])
    assert capsys.readouterr().out == ""
    (written,) = tmp_path.iterdir()
    assert "Subject: [OutcomePortal] SLA of dispute #1" in written.read_text()


# --- Migrations: one line, not one per migration ---------------------------------------------------


def _migrate_quietly():
    import importlib.util

    spec = importlib.util.spec_from_file_location("migrate_quietly", ROOT / "scripts" / "migrate_quietly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.migrate_quietly


@pytest.mark.django_db
def test_make_demo_says_in_one_line_that_the_database_is_up_to_date():
    said: list[str] = []
    assert _migrate_quietly()(write=said.append) == 0
    assert said == ["Database up to date."]  # not "Operations to perform:", not an "Applying …" line each
    # make demo runs it instead of the verbose migrate target (which make migrate keeps).
    makefile = (ROOT / "Makefile").read_text()
    demo = makefile[makefile.index("\ndemo:") :].split("\n\n")[0]
    assert demo.startswith("\ndemo: install ##")
    assert "\t@$(PY) scripts/migrate_quietly.py\n" in demo and "migrate --noinput" not in demo
