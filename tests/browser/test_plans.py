"""Plans in a real browser: an operator creates a plan and moves two accounts onto it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from accounts.models import Role
from billing.invoices.models import ContractVersion
from billing.plans.models import PlanMember
from tests import factories
from tests.browser.conftest import CHROMIUM
from tests.browser.site import open_menu
from tests.browser.test_portal import _login, _shot

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]

GROWTH = {
    "platform_fee": {"amount": "1500.00", "included_outcomes": 1000},
    "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
}


def test_an_operator_creates_a_plan_and_moves_two_accounts_onto_it(live_server, browser, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False  # vendor staff sign in with the password (docs/security.md)
    factories.make_outcome_type()
    for external_id, name in (("acme", "Acme Support"), ("globex", "Globex"), ("initech", "Initech")):
        factories.make_account(external_id, name=name)
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server.url, "olga")

    open_menu(page, "Setup")
    page.get_by_role("link", name="Plans", exact=True).click()
    page.get_by_label("Code").fill("growth")
    page.get_by_label("Name").fill("Growth")
    page.get_by_label("Price book (contract document, JSON)").fill(json.dumps(GROWTH))
    page.get_by_role("button", name="Create the plan").click()
    page.wait_for_load_state("networkidle")
    assert "Plan Growth created at version 1" in page.content()
    assert "Platform fee: $1,500.00 a month" in page.content()

    page.get_by_label("Acme Support").check()
    page.get_by_label("Globex").check()
    page.get_by_role("button", name="Move onto Growth").click()
    page.wait_for_load_state("networkidle")
    assert "Acme Support, Globex follow Growth from" in page.content()
    members = page.get_by_role("region", name="Accounts on this plan")
    assert members.get_by_role("link", name="Acme Support").is_visible()
    assert members.get_by_role("link", name="Globex").is_visible()
    _shot(page, "plan")
    assert sorted(PlanMember.objects.values_list("account__external_id", flat=True)) == ["acme", "globex"]
    assert ContractVersion.objects.filter(created_by="plan growth v1 · olga").count() == 2
    assert errors == []
