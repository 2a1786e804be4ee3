"""Summarise a fuzz run's report (``make fuzz`` writes it: key, operation, status, requests per line).

python bench/fuzz_report.py .data/fuzz-report.tsv
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict


def main(path: str) -> None:
    by_key: dict[str, Counter] = defaultdict(Counter)
    operations: dict[str, set] = defaultdict(set)
    with open(path, encoding="utf-8") as report:
        for line in report:
            key, operation, status, count = line.rstrip("\n").split("\t")
            by_key[key][int(status)] += int(count)
            operations[key].add(operation)
    for key in sorted(by_key):
        statuses = by_key[key]
        total = sum(statuses.values())
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        spread = ", ".join(f"{status}: {n:,}" for status, n in sorted(statuses.items()))
        print(
            f"{key:9} {len(operations[key])} operations, {total:,} requests, {server_errors} server errors ({spread})"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".data/fuzz-report.tsv")
