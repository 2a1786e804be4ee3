"""What of disputes the money log vouches for (billing.moneylog.tracked), registered at start-up.

* ``dispute_resolution`` — a resolved dispute's decision: status, when, by whom, the note the
  customer reads, and each event's decision (recorded by ``dispute_resolve``);
* ``dispute_credit`` — what an approved dispute gave back: money, credits, the credit note
  (recorded by the credit job, ``dispute_credit_apply``).

Both are fixed once recorded; migration 0003's triggers refuse to change them.
"""

from __future__ import annotations

from django.db.models import Q

from billing.moneylog.tracked import Children, Tracked, tracked_register

RESOLUTION = Tracked(
    "dispute_resolution",
    "disputes.Dispute",
    ("id", "account_id", "status", "resolved_at", "resolved_by", "resolution_note"),
    ~Q(status="open"),
    (("items", Children("disputes.DisputeItem", "dispute_id", ("id", "event_id", "amount", "decision"), ("id",))),),
)
CREDIT = Tracked(
    "dispute_credit",
    "disputes.Dispute",
    ("id", "account_id", "credit_state", "credited_amount", "credited_credits", "credited_at", "credit_note_id"),
    Q(credit_state="issued"),
)


def moneylog_views_register() -> None:
    tracked_register(RESOLUTION)
    tracked_register(CREDIT)
