"""The kernel: what every app needs and no app owns — money, periods, cursors.

Pure Python, no Django and no import of any app (tests/test_architecture.py keeps it so): the
apps build on it, it builds on nothing of theirs.

* :mod:`outcomeportal.core.money` — Decimal amounts and the one rounding rule, per currency.
* :mod:`outcomeportal.core.currencies` — ISO 4217: the accepted codes and the minor unit of each.
* :mod:`outcomeportal.core.periods` — billing periods: whole months in an account's time zone.
* :mod:`outcomeportal.core.cursors` — the opaque keyset cursors of every paginated list.
* :mod:`outcomeportal.core.formatting` — how numbers, dates, periods and nouns read (every page).
* :mod:`outcomeportal.core.csvsafe` — CSV cells a spreadsheet will not evaluate (every export).
"""
