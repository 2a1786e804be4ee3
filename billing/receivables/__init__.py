"""Collecting invoices: payments (by operators, over the API, from a processor's webhook), write-offs,
overdue reminders, and the receivables the vendor is owed."""
