"""Every code the portal shows, in words: one table, read by the ``label`` template filter.

Codes stay codes in the API, the CSV exports and the database; people read these labels. Each kind
of code has one source — metering's words for what metering decides or receives
(:mod:`metering.labels`), billing's models' choices for billing's states — gathered here so that a
page never words a code on its own. A code no table holds reads as itself made readable
(``sdr_review`` → "Sdr review"), never as a raw identifier. The disputes app words its own codes
(its models' choices, ``disputes.templatetags.dispute_tags``): billing does not import it.
"""

from __future__ import annotations

from collections.abc import Mapping

from billing.delivery.models import DeliveryKind, DeliveryStatus
from billing.invoices.models import InvoiceStatus, PaymentStatus
from billing.ledger.models import ChargeReason, ChargeState
from billing.ledger.shown import REASONS, STATUS_LABELS
from metering.labels import CHANNELS, VERIFICATION_METHODS, humanized

LABELS: Mapping[str, Mapping[str, str]] = {
    "reason": REASONS,  # non-billable reasons: metering's, then billing's (api-v1.md's words)
    "status": STATUS_LABELS,  # an event's status as customers see it
    "method": VERIFICATION_METHODS,
    "channel": CHANNELS,
    "charge_state": dict(ChargeState.choices),
    "charge_reason": dict(ChargeReason.choices),
    "invoice_status": dict(InvoiceStatus.choices),
    "payment_status": dict(PaymentStatus.choices),
    "delivery_status": dict(DeliveryStatus.choices),
    "delivery_kind": dict(DeliveryKind.choices),
    "webhook_status": {"delivered": "Delivered", "failed": "Failed", "pending": "Retrying"},
    # An account's segment values (tier, industry, use case) are the operators' own words, stored as
    # they typed them ("mid_market"): shown made readable ("Mid market").
    "segment": {},
}


def segment_words(segment) -> str:
    """A segment — (dimension, value) pairs — in words: "Enterprise · Customer support"; the whole
    book "All accounts". An account is named by its id, an outcome type by its code made readable."""
    words = [(value if dim == "account" else label(value, "segment")) or "(none)" for dim, value in segment]
    return " · ".join(words) or "All accounts"


def label(code: str | None, kind: str) -> str:
    """The words for ``code`` of ``kind`` (a key of :data:`LABELS`); "" for no code."""
    if not code:
        return ""
    table = LABELS.get(kind)
    if table is None:
        raise KeyError(f"No labels for {kind!r}; the kinds are {', '.join(LABELS)}.")
    return table.get(code) or humanized(code)
