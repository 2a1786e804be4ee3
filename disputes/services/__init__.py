"""Operations that change disputes: file, assign, comment, resolve — and the credit job's steps.

Every state change goes through ``common.transition`` (the tables are in :mod:`disputes.states`)
and writes a history row; every event that moves gets its own history row too. Services
re-check who may do what (tenancy lives below HTTP), load and lock, write, and enqueue the
outbound work (emails, the credit job) with ``transaction.on_commit`` by dotted path.

=================  ==========================================================================
module             operations
=================  ==========================================================================
``filing``         :func:`dispute_file`, :func:`sla_hours_for`
``support``        :func:`dispute_assign`, :func:`dispute_comment_add`
``resolution``     :func:`dispute_resolve`
``credits``        :func:`dispute_credit_apply`, :func:`credits_issue` (the issue_credits job)
``sla``            :func:`sla_warnings_send`, :func:`sla_warning_email`
=================  ==========================================================================
"""

from disputes.services.common import JOB, MAX_EVENTS, MAX_TEXT, Actor, DisputeRefused
from disputes.services.credits import (
    CreditOutcome,
    CreditsRun,
    credit_notes_applied_record,
    credits_issue,
    dispute_credit_apply,
    disputes_sweep_invoiced,
)
from disputes.services.filing import dispute_file, sla_hours_for
from disputes.services.resolution import dispute_resolve
from disputes.services.sla import sla_warning_email, sla_warnings_send
from disputes.services.support import dispute_assign, dispute_comment_add
from disputes.states import IllegalTransition

__all__ = [
    "JOB",
    "MAX_EVENTS",
    "MAX_TEXT",
    "Actor",
    "CreditOutcome",
    "CreditsRun",
    "DisputeRefused",
    "IllegalTransition",
    "credit_notes_applied_record",
    "credits_issue",
    "dispute_assign",
    "dispute_comment_add",
    "dispute_credit_apply",
    "dispute_file",
    "dispute_resolve",
    "disputes_sweep_invoiced",
    "sla_hours_for",
    "sla_warning_email",
    "sla_warnings_send",
]
