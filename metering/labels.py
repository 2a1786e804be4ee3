"""Metering's codes in words: verification methods, channels and non-billable reasons.

The codes come from the vendor's platform (``verification_method``, ``channel``) or from the engine
(reasons); the API and CSV exports keep them as codes, pages show these words (through
``billing.labels``, the portal's one table of labels). A code not in a table reads as itself made
readable (``sdr_review`` → "Sdr review"), never as a raw identifier. Pure: no Django.
"""

from __future__ import annotations

from metering.engine import REASONS

VERIFICATION_METHODS: dict[str, str] = {
    "customer_confirmed": "Confirmed by the customer",
    "inactivity_timeout": "No reply before the timeout",
    "llm_verified": "Checked by a language model",
    "crm_accepted": "Accepted in the CRM",
    "sdr_review": "Reviewed by a sales rep",
    "sales_review": "Reviewed by sales",
    "ats_recorded": "Recorded in the applicant tracking system",
    "recruiter_confirmed": "Confirmed by a recruiter",
    "billing_system": "Recorded by the billing system",
    "agent_self_report": "Reported by the AI agent itself",
    "self_reported": "Self-reported",
}
CHANNELS: dict[str, str] = {
    "chat": "Chat",
    "email": "Email",
    "voice": "Voice",
    "sms": "SMS",
    "api": "API",
    "web": "Web",
    "phone": "Phone",
}

__all__ = ["CHANNELS", "REASONS", "VERIFICATION_METHODS", "humanized"]


def humanized(code: str) -> str:
    """A code nobody has worded yet, readable: ``sdr_review`` → "Sdr review"."""
    text = code.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]
