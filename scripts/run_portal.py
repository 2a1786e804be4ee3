#!/usr/bin/env python3
"""Run the web app and the django-q2 worker together; Ctrl-C stops both.

    python scripts/run_portal.py                        # runserver on 127.0.0.1:8000 + qcluster
    python scripts/run_portal.py --server gunicorn      # gunicorn instead of runserver
    python scripts/run_portal.py --port 8080 --no-worker
    python scripts/run_portal.py --no-banner            # make demo: the seed printed the logins

Each child runs in its own process group. On Ctrl-C (or SIGTERM) both are asked to stop
(SIGTERM to each main process), and their whole groups are killed if they have not stopped
within ``--grace`` seconds. If either child
exits on its own, the other is stopped too and the launcher exits with the child's code,
so a crash never leaves half a portal running. ``make demo`` and ``make run-all`` use it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _banner(host: str, port: int, worker: bool) -> str:
    lines = [
        "",
        f"OutcomePortal: http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/, admin: /admin/)",
        "Background jobs: django-q2 worker (qcluster) running" if worker else "Background jobs: worker not started",
        "Demo logins (password demo-pass-2026): acme-admin, acme-finance, acme-viewer, northwind-admin, "
        "vendor-support, vendor-finance, vendor-operator",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _commands(args: argparse.Namespace) -> dict[str, list[str]]:
    python = sys.executable
    if args.server == "gunicorn":
        web = [
            python,
            "-m",
            "gunicorn",
            "outcomeportal.wsgi:application",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.web_workers),
            "--access-logfile",
            "-",
        ]
    else:
        web = [python, "manage.py", "runserver", f"{args.host}:{args.port}"]
        if not args.reload:
            web.append("--noreload")
    commands = {"web": web}
    if args.worker:
        commands["worker"] = [python, "manage.py", "qcluster"]
    return commands


def _stop(children: dict[str, subprocess.Popen], grace: float) -> None:
    for child in children.values():
        if child.poll() is None:
            # The main process only: qcluster stops its own workers in order (a signal to
            # the whole group would hit them mid-shutdown).
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[run_portal] {name} did not stop within {grace:.0f} s; killing it.", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--server", choices=("runserver", "gunicorn"), default="runserver")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--reload", action="store_true", help="runserver: reload on code changes")
    parser.add_argument("--no-worker", dest="worker", action="store_false", help="web only, no qcluster")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds to wait for a clean stop")
    parser.add_argument(
        "--no-banner",
        dest="banner",
        action="store_false",
        help="no address-and-logins banner (make demo: the seed has just printed it, with its tour)",
    )
    args = parser.parse_args()

    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            print(f"\n[run_portal] {signal.Signals(signum).name}: stopping web and worker…", flush=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: dict[str, subprocess.Popen] = {}
    for name, command in _commands(args).items():
        # Own process group: the terminal's Ctrl-C reaches the launcher only, which stops
        # the children in order (and their own children: runserver's reloader, q workers).
        children[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
        print(f"[run_portal] started {name} (pid {children[name].pid}): {' '.join(command[1:])}", flush=True)
    if args.banner:
        print(_banner(args.host, args.port, args.worker), flush=True)
    else:
        both = "both" if len(children) > 1 else "it"
        print(f"[run_portal] {' and '.join(children)} running; Ctrl-C stops {both}.", flush=True)

    code = 0
    while not stopping:
        exited = {name: child.returncode for name, child in children.items() if child.poll() is not None}
        if exited:
            name, code = next(iter(exited.items()))
            print(f"[run_portal] {name} exited with code {code}; stopping the rest.", flush=True)
            break
        time.sleep(0.3)
    _stop(children, args.grace)
    print("[run_portal] stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
