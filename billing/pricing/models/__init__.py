"""The pricing models, one module each: a new model is a module with a ``MODEL`` and a line here."""

from __future__ import annotations

from billing.pricing.models import complexity, gain_share, graduated, helpdesk, unit, volume
from billing.pricing.models.base import PriceModel
from billing.pricing.terms import TypePrice

MODELS: dict[str, PriceModel] = {
    m.MODEL.code: m.MODEL for m in (unit, complexity, graduated, volume, helpdesk, gain_share)
}


def model_of(price: TypePrice) -> PriceModel:
    return MODELS[price.model]
