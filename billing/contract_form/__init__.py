"""The contract editor: a contract document as a form (vendor operators, ``billing:contract``).

The fields only collect what was typed. The editor builds the document the API would receive —
amounts as the strings typed, counts as numbers, ticked boxes as true or false, an optional part
(platform fee, commitment, onboarding, price lock, guarantee) only when its box is ticked, a price
row with only the fields of the model it chose — and validates it with
:func:`billing.contracts.terms_parse`. So the page accepts and refuses exactly what
``PUT /api/v1/accounts/{id}/contract`` does, in the same words, and each :class:`TermsInvalid` field
path (``prices.2.bands.0.up_to``) is put back on the input that holds it.

The other way, :meth:`ContractEditor` with ``document=`` starts from a stored (normalised)
document; a document taken through the form comes back as ``terms_json`` wrote it
(tests/billing/test_contract_form.py). A pricing model's fields on the form are one small class
each (``ROW_MODELS``, ``rows.py``), as the models are one module each in
:mod:`billing.pricing.models`; the contract's own fields and optional parts are in ``parts.py``, the
editor that puts them together in ``editor.py``, the page's preview in ``preview.py``.
"""

from billing.contract_form.editor import (
    Catalogue,
    ContractEditor,
    blank_document,
    json_document,
    pasted_document,
)
from billing.contract_form.preview import contract_form_preview
from billing.contract_form.rows import BAND_ROWS, ROW_MODELS

__all__ = [
    "BAND_ROWS",
    "ROW_MODELS",
    "Catalogue",
    "ContractEditor",
    "blank_document",
    "contract_form_preview",
    "json_document",
    "pasted_document",
]
