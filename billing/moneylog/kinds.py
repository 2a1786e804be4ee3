"""The money acts the log records — an entry's ``kind`` — and what each entry's data holds.

Charges, one entry per batch or statement (never per charge): ``count``, ``sums`` per currency,
``accounts`` (per account: currency, count, Σ amount, Σ credits) and the ``digest`` of the charges
(canonical.charges_digest: event id, amount, credits, state, in event-id order).
"""

GENESIS = "genesis"  # the state found when the log began (migration 0013), per account

CHARGES_RATED = "charges_rated"  # an ingestion batch's new charges, priced as the period stands
CHARGES_SETTLED = "charges_settled"  # a settlement chunk: estimated → rated
CHARGES_VOIDED = "charges_voided"  # ruled out by a signal inside the window (+ event_ids)
CHARGES_INVOICED = "charges_invoiced"  # stamped on a final invoice's lines, exact amounts (+ invoice_id, before)
CHARGES_DISPUTED = "charges_disputed"  # invoiced → disputed (+ event_ids)
CHARGES_DISPUTE_REJECTED = "charges_dispute_rejected"  # disputed → invoiced (+ event_ids)
CHARGES_CREDITED = "charges_credited"  # invoiced | disputed → credited by a credit note (+ event_ids)
CHARGES_CREDITED_UNBILLED = "charges_credited_unbilled"  # not yet invoiced, credited after a dispute (+ event_ids)
CHARGES_RELEASED = "charges_released"  # a voided invoice's charges left its lines: invoiced → rated (+ invoice_id)

INVOICE_FINALIZED = "invoice_finalized"  # totals, lines, the credit-ledger entries it posted
INVOICE_VOIDED = "invoice_voided"
INVOICE_PAID = "invoice_paid"  # a payment recorded against a final invoice (whole or part)
INVOICE_PAYMENT_STATUS = "invoice_payment_status"  # open → paid | uncollectible | void, and back
CREDIT_NOTE_ISSUED = "credit_note_issued"
CREDITS_GRANTED = "credits_granted"  # prepaid credits: a top-up, a dispute credit, a positive adjustment
CREDITS_DEDUCTED = "credits_deducted"  # a negative adjustment
CREDITS_REVERSED = "credits_reversed"  # a voided invoice's credit-ledger entries, each reversed (+ invoice_id)
SPEND_CONTROLS_CHANGED = "spend_controls_changed"  # caps, thresholds, what happens at the cap
CONTRACT_VERSION_CREATED = "contract_version_created"
DISPUTE_RESOLVED = "dispute_resolved"  # approved, partially approved or rejected, with its events' decisions
CHARGES_DEDUCTED = "charges_deducted"  # an outcome deducted after its window left the draft
DISPUTE_CREDITED = "dispute_credited"  # the money and credits an approved dispute gave back
# Accounts deleted with all they owned (``seed_demo --reset``, as a superuser): what the log
# recorded of them before is no longer checked against rows.
ACCOUNTS_REMOVED = "accounts_removed"

# Moves of charges already on a final invoice: verify_ledger replays them to know each one's state.
INVOICED_CHARGE_STATES = {
    CHARGES_DISPUTED: "disputed",
    CHARGES_DISPUTE_REJECTED: "invoiced",
    CHARGES_CREDITED: "credited",
}

ALL = frozenset(
    {
        GENESIS,
        CHARGES_RATED,
        CHARGES_SETTLED,
        CHARGES_VOIDED,
        CHARGES_INVOICED,
        CHARGES_DISPUTED,
        CHARGES_DISPUTE_REJECTED,
        CHARGES_CREDITED,
        CHARGES_CREDITED_UNBILLED,
        CHARGES_DEDUCTED,
        CHARGES_RELEASED,
        INVOICE_FINALIZED,
        INVOICE_VOIDED,
        INVOICE_PAID,
        INVOICE_PAYMENT_STATUS,
        CREDIT_NOTE_ISSUED,
        CREDITS_GRANTED,
        CREDITS_DEDUCTED,
        CREDITS_REVERSED,
        SPEND_CONTROLS_CHANGED,
        CONTRACT_VERSION_CREATED,
        DISPUTE_RESOLVED,
        DISPUTE_CREDITED,
        ACCOUNTS_REMOVED,
    }
)
