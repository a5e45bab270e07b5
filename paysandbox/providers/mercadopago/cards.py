"""A customer's saved card at Mercado Pago (customers.py keeps them): the record, read by
the card tokens made from it and the payments made with those."""

from __future__ import annotations

from typing import Any, TypedDict

from paysandbox.errors import ResourceMissing
from paysandbox.objects import Kind


class CardRecord(TypedDict):
    """A saved card as its API shows it, and (`_` keys) what paying with it needs."""

    id: str
    customer_id: str
    expiration_month: int
    expiration_year: int
    first_six_digits: str
    last_four_digits: str
    payment_method: dict[str, Any]
    security_code: dict[str, Any]
    issuer: dict[str, Any]
    cardholder: dict[str, Any]
    date_created: str | None
    date_last_updated: str | None
    user_id: str
    live_mode: bool
    _brand: str
    _fingerprint: str
    _nti: str | None  # the network transaction id of its first payment


CARDS: Kind[CardRecord] = Kind("mercadopago.card")


def card_missing() -> ResourceMissing:
    return ResourceMissing("Card not found", code="2000")
