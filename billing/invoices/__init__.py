"""Invoices: contract versions, invoices, lines, credit notes and their numbers (``models``), and
which closed periods still need their invoice (``catchup``). Building, finalizing and correcting
them is ``billing.services``."""
