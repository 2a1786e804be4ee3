"""Who a page speaks to: customers read "you", vendor staff read "the customer" on the same page.

One table of the phrases a page words by its reader, each written as the customer reads it and as
vendor staff read it. The ``voice`` template tag (``billing/templatetags/portal.py``) picks the
reader's from the request's principal; Python code calls :func:`voice` with ``vendor=``. A phrase
not in the table is an error, never a guess: add it here.
"""

from __future__ import annotations

# The customer's words → vendor staff's words (same meaning, third person).
VENDOR_WORDS: dict[str, str] = {
    "you": "the customer",
    "You": "The customer",
    "your": "the customer's",
    "Your": "The customer's",
    "you are": "the customer is",
    "You are": "The customer is",
    "you recognise": "the customer recognises",
    "you can": "the customer can",
    "You will be able to": "The customer will be able to",
    "Your agreed definition": "The customer's agreed definition",
    "Your plan": "Plan",  # the page and its navigation link: the account in view is in the header
    "What you are charged for": "What the customer is charged for",
    "You are not charged when…": "The customer is not charged when…",
    "you are not charged": "the customer is not charged",
    "You are not charged": "The customer is not charged",
    "You are charged": "The customer is charged",
    "your next invoice": "the customer's next invoice",
    "your upcoming or next invoice": "the customer's upcoming or next invoice",
    "your plan may set another": "the customer's plan may set another",
    "your currency's minor unit": "the account's currency's minor unit",
    "your events": "the account's events",
    "your outcomes": "the customer's outcomes",
    "your team": "the customer's team",
    "Your current plan": "The customer's current plan",
}


def voice(phrase: str, *, vendor: bool) -> str:
    """``phrase`` as the reader reads it: itself for customers, the table's words for vendor staff."""
    if phrase not in VENDOR_WORDS:
        raise KeyError(f"No vendor wording for {phrase!r}: add it to billing.wording.VENDOR_WORDS.")
    return VENDOR_WORDS[phrase] if vendor else phrase
