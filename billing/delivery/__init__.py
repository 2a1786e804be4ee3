"""Sending invoices and credit notes: email (PDF attached) and signed webhooks, each logged as a Delivery."""
