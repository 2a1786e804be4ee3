"""Prepaid credits: the append-only ledger (``models``), top-ups and grants (``services``), and the
entry points ``api`` and ``urls``. How credits price is ``billing.pricing``."""
