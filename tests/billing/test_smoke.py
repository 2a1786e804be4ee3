from decimal import Decimal

from billing.ledger.models import Charge
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize


def test_48_resolutions_at_099(db):
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(acme, 48)
    invoice = settle_and_finalize(acme)
    assert invoice.total == Decimal("47.52")
    assert invoice.number == "INV-000001"
    assert [(ln.quantity, ln.unit_price, ln.amount) for ln in invoice.lines.all()] == [
        (Decimal(48), Decimal("0.99"), Decimal("47.52"))
    ]
    line = invoice.lines.get()
    assert Charge.objects.filter(invoice_line_id=line.pk, state="invoiced", amount=Decimal("0.99")).count() == 48
