"""seed_demo builds a world whose every decision comes from the real pipeline."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, User
from billing.ledger.models import Charge
from billing.ledger.shown import BILLING_REASONS
from metering import engine
from metering.models import Event


@pytest.mark.django_db(transaction=True)
def test_a_small_demo_world_has_every_reason_and_refuses_a_second_seed():
    out = StringIO()
    call_command("seed_demo", events=6000, workers=1, seed=42, stdout=out)
    assert Account.objects.count() == 6
    assert set(User.objects.values_list("username", flat=True)) >= {
        "acme-admin",
        "acme-finance",
        "acme-viewer",
        "northwind-admin",
        "vendor-support",
        "vendor-finance",
        "vendor-operator",
    }
    reasons = set(Event.objects.exclude(non_billable_reason="").values_list("non_billable_reason", flat=True))
    assert set(engine.REASONS) <= reasons  # every reason of metering's decisions
    # Billing's, on the charges: cap_reached needs a demo large enough for brightpath to cross its
    # $600 month (20,000+ events); no demo account is suspended or churned while it posts events.
    charged = set(Charge.objects.exclude(reason__in=["", "included"]).values_list("reason", flat=True))
    assert set(BILLING_REASONS) - {"cap_reached", "account_suspended", "account_churned"} <= charged
    assert "demo-pass-2026" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("seed_demo", events=6000, workers=1, stdout=StringIO())
