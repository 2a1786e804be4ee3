"""The log's first entries on a database that already holds money: the state as found.

Run by the migrations that start the log (billing 0013; disputes 0003 for its own views). One
entry ``genesis`` for the start, then one per account with what verify_ledger will check:

* ``charges`` — the account's charges: currency, count, Σ amount, Σ credits;
* ``invoices`` — per final invoice with charges on its lines: their count, sums and digest (each
  charge as stamped: state ``invoiced``), as a ``charges_invoiced`` entry records them;
* ``charge_states`` — those charges that are ``disputed`` or ``credited`` now;
* ``tracked`` — the digest of every row of the views given (billing.moneylog.tracked).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from billing.moneylog import kinds
from billing.moneylog.actor import system
from billing.moneylog.canonical import charges_digest_sql, digest_of
from billing.moneylog.services import money_act_record
from billing.moneylog.tracked import tracked_values, tracked_view

_TOTALS_SQL = (
    "SELECT account_id, currency, count(*), coalesce(sum(amount), 0), coalesce(sum(credits), 0) "
    "FROM billing_charge GROUP BY account_id, currency ORDER BY account_id, currency"
)
_INVOICED_SQL = (
    "SELECT c.account_id, l.invoice_id, count(*), coalesce(sum(c.amount), 0), coalesce(sum(c.credits), 0), "
    f"{charges_digest_sql('c', state='invoiced')} FROM billing_charge c "
    "JOIN billing_invoiceline l ON l.id = c.invoice_line_id GROUP BY c.account_id, l.invoice_id ORDER BY 1, 2"
)
_STATES_SQL = (
    "SELECT account_id, event_id, state FROM billing_charge WHERE invoice_line_id IS NOT NULL "
    "AND state <> 'invoiced' ORDER BY event_id"
)


def genesis_record(*, registry, views: tuple[str, ...], label: str, charges: bool) -> int:
    """Record the state as found, per account (see the module docstring). Returns the entries."""
    found: dict[int, dict] = defaultdict(dict)
    if charges:
        with connection.cursor() as cursor:
            cursor.execute(_TOTALS_SQL)
            for account_id, currency, n, amount, credits in cursor.fetchall():
                found[account_id]["charges"] = {"currency": currency, "count": n, "amount": amount, "credits": credits}
            cursor.execute(_INVOICED_SQL)
            for account_id, invoice_id, n, amount, credits, digest in cursor.fetchall():
                found[account_id].setdefault("invoices", {})[str(invoice_id)] = {
                    "count": n, "amount": amount, "credits": credits, "digest": digest,
                }  # fmt: skip
            cursor.execute(_STATES_SQL)
            for account_id, event_id, state in cursor.fetchall():
                found[account_id].setdefault("charge_states", []).append([event_id, state])
    for name in views:
        view = tracked_view(name)
        model = registry.get_model(view.model)
        account_of = dict(model._base_manager.filter(view.condition).values_list("pk", "account_id"))
        for pk, value in tracked_values(view, registry=registry):
            found[account_of[pk]].setdefault("tracked", {}).setdefault(name, []).append([pk, digest_of(value)])
    actor = system(f"migration {label}")
    recorded = 0
    if charges:  # the log's first entry
        money_act_record(
            kind=kinds.GENESIS,
            account_id=None,
            data={"accounts": len(found), "note": "the money log begins: the state as found follows, per account"},
            actor=actor,
        )
        recorded += 1
    for account_id in sorted(found):
        money_act_record(kind=kinds.GENESIS, account_id=account_id, data=found[account_id], actor=actor)
        recorded += 1
    return recorded
