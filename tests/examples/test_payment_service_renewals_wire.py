"""What the reference service's adapters send for a saved card, on each acquirer's
documented wire API: the first payment that saves it, the renewal with the acquirer's
token, and the renewal elsewhere with the raw card and the network transaction id."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from paysandbox.examples.payment_service.adapters.adyen import AdyenAdapter
from paysandbox.examples.payment_service.adapters.base import Card, Mit, PaymentRequest
from paysandbox.examples.payment_service.adapters.checkoutcom import CheckoutcomAdapter
from paysandbox.examples.payment_service.adapters.stripe import StripeAdapter

CARD = Card("4000056655665556", 12, 2031, "123")
NTI = "123456789012345"


class Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status, self._body = status, body

    async def text(self) -> str:
        return json.dumps(self._body)

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Session:
    """Keeps each request and answers from a table of paths."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        path = url.split("//", 1)[1].split("/", 1)[1]
        body = kwargs.get("json")
        if body is None:
            body = dict(parse_qsl("&".join(f"{k}={v}" for k, v in
                                           (kwargs.get("data") or {}).items())))
        self.sent.append((path, body))
        return Response(200, next(v for k, v in self.answers.items() if path.endswith(k)))


def first(save: bool = True, mit: Mit | None = None) -> PaymentRequest:
    return PaymentRequest(reference="ord-1", amount=999, currency="usd", card=CARD,
                          save_card=save and mit is None, customer_id="c-1",
                          email="c1@example.com", mit=mit)


async def test_stripe_saves_with_a_customer_and_setup_future_usage() -> None:
    session = Session({"customers": {"id": "cus_1"}, "payment_intents": {
        "id": "pi_1", "status": "succeeded", "payment_method": "pm_1", "latest_charge": {
            "payment_method_details": {"card": {"network_transaction_id": NTI}}}}})
    result = await StripeAdapter(session, "http://s/stripe", "sk_test_1").authorize(  # type: ignore[arg-type]
        first(), "k1")
    (_, customer), (_, pi) = session.sent
    assert customer["metadata[customer_id]"] == "c-1"
    assert (pi["customer"], pi["setup_future_usage"], pi["expand[]"]) == \
        ("cus_1", "off_session", "latest_charge")
    assert (result.token, result.customer, result.network_transaction_id) == \
        ("pm_1", "cus_1", NTI)


@pytest.mark.parametrize("own", [True, False])
async def test_stripe_renews_off_session(own: bool) -> None:
    session = Session({"payment_intents": {"id": "pi_2", "status": "succeeded"}})
    mit = Mit(NTI, "pm_1", "cus_1") if own else Mit(NTI)
    await StripeAdapter(session, "http://s/stripe", "sk_test_1").authorize(  # type: ignore[arg-type]
        first(mit=mit), "k2")
    [(_, pi)] = session.sent
    assert pi["off_session"] == "true" and "payment_method_data[card][cvc]" not in pi
    if own:
        assert (pi["payment_method"], pi["customer"]) == ("pm_1", "cus_1")
    else:
        assert pi["payment_method_data[card][number]"] == CARD.number
        assert pi["payment_method_options[card][mit_exemption][network_transaction_id]"] \
            == NTI


async def test_adyen_saves_with_store_payment_method_and_a_shopper_reference() -> None:
    session = Session({"payments": {"resultCode": "Authorised", "pspReference": "P1",
                                    "additionalData": {
                                        "tokenization.storedPaymentMethodId": "M1",
                                        "networkTxReference": NTI}}})
    result = await AdyenAdapter(session, "http://s/adyen/checkout", "AQE",  # type: ignore[arg-type]
                                merchant_account="Acc").authorize(first(), "k1")
    [(_, body)] = session.sent
    assert (body["storePaymentMethod"], body["shopperReference"],
            body["recurringProcessingModel"], body["shopperInteraction"]) == \
        (True, "c-1", "Subscription", "Ecommerce")
    assert (result.token, result.customer, result.network_transaction_id) == ("M1", "c-1", NTI)


@pytest.mark.parametrize("own", [True, False])
async def test_adyen_renews_as_cont_auth_subscription(own: bool) -> None:
    session = Session({"payments": {"resultCode": "Authorised", "pspReference": "P2"}})
    mit = Mit(NTI, "M1", "c-1") if own else Mit(NTI)
    await AdyenAdapter(session, "http://s/adyen/checkout", "AQE",  # type: ignore[arg-type]
                       merchant_account="Acc").authorize(first(mit=mit), "k2")
    [(_, body)] = session.sent
    assert (body["shopperInteraction"], body["recurringProcessingModel"]) == \
        ("ContAuth", "Subscription")
    assert "cvc" not in body["paymentMethod"]
    if own:
        assert body["paymentMethod"]["storedPaymentMethodId"] == "M1"
        assert body["shopperReference"] == "c-1"
    else:
        assert body["paymentMethod"]["number"] == CARD.number
        assert body["additionalData"]["networkTxReference"] == NTI


async def test_checkoutcom_saves_and_renews_as_a_recurring_merchant_initiated_payment() -> None:
    session = Session({"payments": {"id": "pay_1", "status": "Captured", "approved": True,
                                    "scheme_id": NTI, "source": {"id": "src_1"},
                                    "customer": {"id": "cus_1"}}})
    adapter = CheckoutcomAdapter(session, "http://s/checkoutcom", "sk_sbox_1")  # type: ignore[arg-type]
    saved = await adapter.authorize(first(), "k1")
    assert (saved.token, saved.customer, saved.network_transaction_id) == \
        ("src_1", "cus_1", NTI)
    await adapter.authorize(first(mit=Mit(NTI, "src_1", "cus_1")), "k2")
    await adapter.authorize(first(mit=Mit(NTI)), "k3")
    (_, cit), (_, own), (_, other) = session.sent
    assert cit["payment_type"] == "Recurring" and "merchant_initiated" not in cit
    assert own["source"] == {"type": "id", "id": "src_1"}
    for mit in (own, other):
        assert (mit["payment_type"], mit["merchant_initiated"], mit["previous_payment_id"]) \
            == ("Recurring", True, NTI)
    assert other["source"]["number"] == CARD.number and "cvv" not in other["source"]
