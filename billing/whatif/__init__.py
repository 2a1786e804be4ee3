"""What-if repricing: an account's closed months priced again under a candidate contract.

* :mod:`billing.whatif.preview` — the repricing (nothing stored), and the candidate document's
  parsing;
* :mod:`billing.whatif.api` — ``POST /api/v1/accounts/{id}/contract/preview``.

The finance area's page (``finance.views.whatif``) shows the same preview.
"""
