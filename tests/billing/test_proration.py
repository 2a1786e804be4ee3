"""A contract change inside a month, with immediate effect: the month's fees prorated by days, to the
cent, stated on the invoice; every figure of the month the invoice's (one money truth)."""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from pypdf import PdfReader

from billing import pdf
from billing.charges import period_charges
from billing.contracts import TermsInvalid, terms_json, terms_load, terms_parse
from billing.ingestion import outcomes_settle
from billing.invoices.models import ContractVersion
from billing.pricing.proration import ProrationRefused, prorated_terms
from billing.services import invoice_draft_refresh, invoice_finalize
from billing.spend.services import account_spend_status
from tests import factories
from tests.billing.helpers import contract, post

RES = "resolved_conversation"
GROWTH = {
    "effective_from": "2026-11-01",
    "prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
    "platform_fee": {"name": "Growth plan", "amount": "1500.00", "included_outcomes": 1000},
}
SCALE = {
    "effective_from": "2026-12-15",
    "mid_period": "prorate",
    "prices": [{"outcome_type": RES, "model": "unit", "price": "0.75"}],
    "platform_fee": {"name": "Scale plan", "amount": "3000.00", "included_outcomes": 2000},
}
DEC_20 = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)


def _terms(doc: dict):
    return terms_parse({k: v for k, v in doc.items() if k != "mid_period"})


def test_the_fees_and_the_allowance_are_prorated_by_days_to_the_cent():
    month = prorated_terms(_terms(GROWTH), _terms(SCALE), changed_on=date(2026, 12, 15), currency="USD")
    pr = month.proration
    assert (pr.days_in_period, pr.before.days, pr.after.days) == (31, 14, 17)
    assert pr.before.amount == D("677.42")  # 1,500 × 14 / 31 = 677.419…
    assert pr.after.amount == D("1645.16")  # 3,000 × 17 / 31 = 1,645.161…
    assert month.platform_fee.amount == D("2322.58")  # the two lines add up to the fee
    # 1,000 × 14/31 + 2,000 × 17/31 = 1,548.39 → 1,548; the earlier share 451.6 → 452, the later the rest
    assert (pr.before.included_outcomes, pr.after.included_outcomes) == (452, 1096)
    assert month.platform_fee.included_outcomes == 1548
    assert month.effective_from == date(2026, 12, 1) and month.prices == _terms(SCALE).prices
    assert terms_load(terms_json(month)) == month  # the stored document reads back the same


def test_yen_shares_round_to_whole_yen_and_credits_to_four_places():
    yen = prorated_terms(_terms(GROWTH), _terms(SCALE), changed_on=date(2027, 2, 11), currency="JPY")
    assert (yen.proration.before.amount, yen.proration.after.amount) == (D("536"), D("1929"))  # 10 and 18 of 28 days
    credits = {"effective_from": "2026-11-01", "unit": "credits", "credit_price": "0.02",
               "prices": [{"outcome_type": RES, "model": "unit", "price": "50"}],
               "platform_fee": {"amount": "20.00", "included_credits": "300"}}  # fmt: skip
    more = {**credits, "effective_from": "2026-12-10", "platform_fee": {"amount": "40.00", "included_credits": "1000"}}
    month = prorated_terms(_terms(credits), _terms(more), changed_on=date(2026, 12, 10), currency="USD")
    # 300 × 9/31 + 1,000 × 22/31 = 87.0968 + 709.6774 = 796.7742
    assert (month.proration.before.included_credits, month.proration.after.included_credits) == (
        D("87.0968"), D("709.6774"))  # fmt: skip
    assert month.platform_fee.included_credits == D("796.7742")
    to_credits = _terms(credits | {"effective_from": "2026-12-10"})
    with pytest.raises(ProrationRefused):
        prorated_terms(_terms(GROWTH), to_credits, changed_on=date(2026, 12, 10), currency="USD")


def test_a_document_whose_shares_do_not_add_up_is_refused():
    month = prorated_terms(_terms(GROWTH), _terms(SCALE), changed_on=date(2026, 12, 15), currency="USD")
    doc = terms_json(month)
    doc["proration"]["after"]["amount"] = "1645.17"
    with pytest.raises(TermsInvalid) as refused:
        terms_parse(doc)
    assert "proration" in refused.value.fields
    doc = terms_json(month) | {"effective_from": "2026-12-02"}
    with pytest.raises(TermsInvalid) as refused:
        terms_parse(doc)
    assert "proration.changed_on" in refused.value.fields


@pytest.mark.django_db
def test_a_prorated_change_writes_the_month_and_the_next_and_the_invoice_states_both_shares():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    contract(account, **GROWTH)
    post(account, 1600, at=datetime(2026, 12, 2, tzinfo=UTC), step=timedelta(minutes=5))
    month = contract(account, **SCALE)
    outcomes_settle(now=DEC_20)

    versions = list(ContractVersion.objects.filter(account=account).order_by("version"))
    assert [(v.version, v.effective_from) for v in versions] == [
        (1, date(2026, 11, 1)), (2, date(2026, 12, 1)), (3, date(2027, 1, 1))]  # fmt: skip
    assert month == versions[1] and versions[1].terms["proration"]["changed_on"] == "2026-12-15"
    assert "proration" not in versions[2].terms
    assert versions[2].terms["platform_fee"]["amount"] == "3000.00"

    draft = invoice_draft_refresh(account=account, period="2026-12", now=DEC_20)
    fees = {ln.description: ln.amount for ln in draft.lines.all() if ln.kind == "platform_fee"}
    assert sorted(fees.values()) == [D("677.42"), D("1645.16")]
    assert any("Growth plan, before the change of 15 Dec 2026: 1–14 Dec 2026, 14 of 31 days" in d for d in fees)
    assert any("Scale plan, from the change: 15–31 Dec 2026, 17 of 31 days" in d for d in fees)
    # 1,600 outcomes: 1,548 included, 52 at the new price 0.75 = 39.00
    outcome_lines = [ln for ln in draft.lines.all() if ln.kind != "platform_fee"]
    assert sum((ln.amount for ln in outcome_lines), D(0)) == D("39.00")
    assert draft.total == D("2361.58")
    status = account_spend_status(account=account, now=DEC_20)
    assert period_charges(account=account, period="2026-12").total == draft.total == status.invoice_total
    assert status.period_spend == D("2361.58") and status.pending_spend == 0

    final = invoice_finalize(account=account, period="2026-12", now=datetime(2027, 1, 5, tzinfo=UTC)).invoice
    assert final.total == D("2361.58")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.invoice_pdf(final))).pages)
    assert "14 of 31 days" in text and "677.42" in text and "1,645.16" in text  # the PDF states both shares
    if os.environ.get("PRORATION_PDF"):  # to look at it: PRORATION_PDF=path.pdf pytest -k states_both_shares
        Path(os.environ["PRORATION_PDF"]).write_bytes(pdf.invoice_pdf(final))


@pytest.mark.django_db
def test_a_prorated_change_is_refused_where_it_cannot_apply():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    with pytest.raises(TermsInvalid) as refused:
        contract(account, **SCALE)  # no contract governs December from its first day
    assert "mid_period" in refused.value.fields
    contract(account, **GROWTH)
    with pytest.raises(TermsInvalid) as refused:
        contract(account, **(SCALE | {"mid_period": "at_once"}))
    assert "mid_period" in refused.value.fields
    invoice_finalize(account=account, period="2026-11", now=datetime(2026, 12, 3, tzinfo=UTC))
    with pytest.raises(TermsInvalid) as refused:
        contract(account, **(SCALE | {"effective_from": "2026-11-20"}))  # November's invoice is final
    assert "effective_from" in refused.value.fields
    assert ContractVersion.objects.filter(account=account).count() == 1  # nothing written by a refusal
    contract(account, **(SCALE | {"effective_from": "2027-01-01"}))  # a month's first day: a plain version
    assert ContractVersion.objects.filter(account=account).count() == 2
