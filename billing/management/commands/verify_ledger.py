import json as _json
import re

from django.core.management.base import BaseCommand, CommandError

from billing.moneylog.verify import ledger_verify
from outcomeportal.core import formatting

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Recompute the money log's hash chain and check the money rows against it (invoices, their charges, "
        "credit notes, credits, caps, contracts, disputes). Exit 0 when whole; 1 naming the first broken entry."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="ID:HASH",
            help="An entry's hash kept outside the database (e.g. a head printed by an earlier run): "
            "the log must still hold it. Repeatable.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON (the API's body).")
        parser.add_argument("--limit", type=int, default=20, help="Problems listed at most (default 20).")

    def handle(self, *args, anchor=(), json=False, limit=20, **options):
        anchors = []
        for value in anchor:
            match = _ANCHOR.match(value.strip().lower())
            if match is None:
                raise CommandError(f"--anchor is ID:HASH (64 hex digits), not {value!r}.")
            anchors.append((int(match.group(1)), match.group(2)))
        result = ledger_verify(anchors=anchors, limit=max(limit, 1))
        if json:
            self.stdout.write(_json.dumps(result.as_dict(), indent=2))
        elif result.ok:
            head = f"head #{result.head_id} {result.head_hash}" if result.head_id else "empty"
            self.stdout.write(
                f"The money log is whole: {result.entries} entries, {head}. Checked {result.invoices} invoices, "
                f"{result.credit_notes} credit notes, {result.rows} recorded rows, {result.charges} charges of "
                f"{result.accounts} accounts."
            )
        else:
            for problem in result.problems:
                where = f"entry #{problem.entry_id} {problem.entry_hash}" if problem.entry_id else "no entry"
                self.stdout.write(f"  [{problem.code}] {where}: {problem.message}")
            if result.problem_count > len(result.problems):
                self.stdout.write(f"  … and {result.problem_count - len(result.problems)} more.")
        if not result.ok:
            first = result.first
            where = f"entry #{first.entry_id} ({first.entry_hash})" if first.entry_id else "a row no entry recorded"
            raise CommandError(
                f"The money log is broken: {formatting.plural(result.problem_count, 'problem')}; "
                f"the first at {where}: {first.message}",
                returncode=1,
            )
