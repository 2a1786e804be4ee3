"""The rows the money log vouches for, one by one: which tables, which of their rows, which columns.

A money act that creates or settles such a row records the row's digest (the SHA-256 of its
canonical JSON, :func:`billing.moneylog.canonical.digest_of`) under the row's *view* name, in the
entry's ``data["tracked"]``: ``{"credit_note": [[12, "9f…"]]}``. ``verify_ledger`` recomputes
every such row and compares: a row changed, deleted, or added behind the services' back shows.

A *view* is a table, the condition a row meets once it must be in the log (a finalized invoice, a
resolved dispute), and the columns the log vouches for — those that never change after the act
(a finalized invoice's void fields are a view of their own, recorded when it is voided).
Disputes registers its views at start-up (:func:`tracked_register`): billing never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.db.models import Q

from billing.moneylog.canonical import digest_of, plain


@dataclass(frozen=True)
class Children:
    """Rows of another table that belong to a tracked row (an invoice's lines), in order."""

    model: str  # "app_label.Model"
    parent: str  # the column naming the parent row
    fields: tuple[str, ...]
    order: tuple[str, ...]


@dataclass(frozen=True)
class Tracked:
    name: str  # the view's name in entries
    model: str  # "app_label.Model"
    fields: tuple[str, ...]  # the id first
    condition: Q = field(default_factory=Q)  # rows that must be in the log
    children: tuple[tuple[str, Children], ...] = ()  # (key in the row's value, children)


_VIEWS: dict[str, Tracked] = {}


def tracked_register(view: Tracked) -> None:
    _VIEWS[view.name] = view


def tracked_views() -> tuple[Tracked, ...]:
    return tuple(_VIEWS[name] for name in sorted(_VIEWS))


def tracked_view(name: str) -> Tracked:
    return _VIEWS[name]


_LINE_FIELDS = (
    "id", "key", "position", "kind", "description", "outcome_type_id", "quantity", "unit_price", "amount", "credits",
    "unit_credits", "alloc", "credit_note_id",
)  # fmt: skip

for _view in (
    Tracked(
        "contract_version",
        "billing.ContractVersion",
        ("id", "account_id", "version", "effective_from", "terms", "created_at", "created_by"),
    ),
    Tracked(
        "credit_note",
        "billing.CreditNote",
        (
            "id",
            "account_id",
            "number",
            "invoice_id",
            "amount",
            "currency",
            "reason",
            "event_ids",
            "dispute_id",
            "created_at",
            "created_by",
        ),
    ),
    Tracked(
        "credit_entry",
        "billing.CreditLedgerEntry",
        (
            "id",
            "account_id",
            "created_at",
            "kind",
            "credits",
            "amount",
            "currency",
            "period",
            "invoice_id",
            "dispute_id",
            "reference",
            "note",
            "created_by",
        ),
    ),
    Tracked(
        "spend_control_change",
        "billing.SpendControlChange",
        ("id", "account_id", "changed_at", "changed_by", "old", "new"),
    ),
    # What finalizing fixed (a void invoice keeps it too), with its lines.
    Tracked(
        "invoice",
        "billing.Invoice",
        (
            "id",
            "account_id",
            "period",
            "period_start",
            "period_end",
            "number",
            "currency",
            "contract_version_id",
            "subtotal",
            "credits_applied",
            "total",
            "carry_in",
            "carry_out",
            "notes",
            "finalized_at",
        ),
        ~Q(status="draft"),
        (("lines", Children("billing.InvoiceLine", "invoice_id", _LINE_FIELDS, ("position", "id"))),),
    ),
    Tracked("invoice_void", "billing.Invoice", ("id", "status", "voided_at", "void_reason"), Q(status="void")),
    Tracked(
        "payment",
        "billing.Payment",
        (
            "id",
            "account_id",
            "invoice_id",
            "amount",
            "currency",
            "paid_at",
            "reference",
            "source",
            "created_at",
            "created_by",
        ),
    ),
    Tracked(
        "payment_status_change",
        "billing.PaymentStatusChange",
        ("id", "account_id", "invoice_id", "from_status", "to_status", "at", "by", "reason"),
    ),
):
    tracked_register(_view)


def _model(label: str, registry=None):
    return (registry or django_apps).get_model(label)


def tracked_values(view: Tracked, *, pks: Iterable[int] | None = None, registry=None) -> Iterator[tuple[int, dict]]:
    """``(id, canonical value)`` of the view's rows (those meeting its condition), in id order; only
    ``pks`` if given. Streams: a few thousand rows at a time. ``registry``: a migration's apps."""
    qs = _model(view.model, registry)._base_manager.filter(view.condition)
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    batch: list[tuple] = []
    for row in qs.order_by("pk").values_list(*view.fields).iterator(chunk_size=2000):
        batch.append(row)
        if len(batch) == 2000:
            yield from _with_children(view, batch, registry)
            batch = []
    yield from _with_children(view, batch, registry)


def _with_children(view: Tracked, rows: list[tuple], registry) -> Iterator[tuple[int, dict]]:
    if not rows:
        return
    kids: dict[str, dict[int, list[dict]]] = {}
    for key, child in view.children:
        found: dict[int, list[dict]] = {}
        qs = _model(child.model, registry)._base_manager.filter(**{f"{child.parent}__in": [r[0] for r in rows]})
        for values in qs.order_by(child.parent, *child.order).values_list(child.parent, *child.fields):
            found.setdefault(values[0], []).append(dict(zip(child.fields, values[1:], strict=True)))
        kids[key] = found
    for row in rows:
        value = dict(zip(view.fields, row, strict=True))
        for key, _ in view.children:
            value[key] = kids[key].get(row[0], [])
        yield row[0], plain(value)


def tracked_digests(name: str, pks: Iterable[int], *, registry=None) -> list[list]:
    """``[[id, digest], …]`` of the view's rows ``pks`` as they stand: what an entry records."""
    view = tracked_view(name)
    return [[pk, digest_of(value)] for pk, value in tracked_values(view, pks=pks, registry=registry)]


def tracked_row(name: str, pk: int) -> dict | None:
    """The canonical value of one row of the view (None if it does not meet the view's condition)."""
    for _, value in tracked_values(tracked_view(name), pks=[pk]):
        return value
    return None
