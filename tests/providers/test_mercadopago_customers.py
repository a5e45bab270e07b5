"""Mercado Pago customers and saved cards through the official SDK: customer CRUD and
search, a card saved from a token, payments with the saved card (a token from its
card_id), merchant-initiated recurring payments quoting a network transaction id, and
a deleted card."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mercadopago
import stripe

from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import ok
from tests.providers.stripe_support import first_payment_nti

CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123"}




def _customer(mp: mercadopago.SDK, email: str = "ana@testuser.com") -> dict[str, Any]:
    return ok(mp.customer().create({"email": email, "first_name": "Ana",
                                    "last_name": "Silva"}), 201)


def _saved_card(mp: mercadopago.SDK, customer_id: str, holder: str = "APRO",
                number: str = "5031433215406351") -> dict[str, Any]:
    token = ok(mp.card_token().create({**CARD, "card_number": number, "cardholder": {
        "name": holder, "identification": {"type": "CPF", "number": "12345678909"}}}), 201)
    return ok(mp.card().create(customer_id, {"token": token["id"]}), 201)  # type: ignore[no-any-return]


def _token_of(mp: mercadopago.SDK, card_id: str, cvv: str | None = "123") -> str:
    body = {"card_id": card_id, **({"security_code": cvv} if cvv else {})}
    return str(ok(mp.card_token().create(body), 201)["id"])


def _pay(mp: mercadopago.SDK, customer_id: str, token: str, **extra: Any) -> Any:
    return ok(mp.payment().create({
        "transaction_amount": 49.9, "token": token, "installments": 1,
        "payment_method_id": "master", "payer": {"type": "customer", "id": customer_id},
        **extra}, _expand()), 201)


def _expand() -> mercadopago.config.RequestOptions:
    """Asks for the network transaction id (a new one each call: the SDK fills in its
    access token on the options it is given)."""
    return mercadopago.config.RequestOptions(
        max_retries=0, custom_headers={"X-Expand-Responde-Nodes": "gateway.reference"})


def _renewal(first: dict[str, Any], nti: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"first_time_use": False, "subscription_id": "plan-gold-ana",
                            "subscription_sequence": {"number": 2, "total": 12},
                            "invoice_period": {"period": 1, "type": "monthly"},
                            "payment_reference": {"id": str(first["id"])}}
    out: dict[str, Any] = {"point_of_interaction": {"type": "SUBSCRIPTIONS",
                                                    "transaction_data": data}}
    if nti is not None:
        out["forward_data"] = {"network_transaction_data": {"network_transaction_id": nti}}
    return out


def test_customer_created_found_updated_and_deleted(mp: mercadopago.SDK) -> None:
    made = _customer(mp)
    assert made["email"] == "ana@testuser.com" and made["cards"] == []
    assert ok(mp.customer().get(made["id"]))["first_name"] == "Ana"
    found = ok(mp.customer().search({"email": "ana@testuser.com"}))
    assert found["paging"]["total"] == 1 and found["results"][0]["id"] == made["id"]
    again = mp.customer().create({"email": "ana@testuser.com"})
    assert again["status"] == 400 and again["response"]["cause"][0]["code"] == 101

    updated = ok(mp.customer().update(made["id"], {"last_name": "Souza",
                                                   "description": "gold plan"}))
    assert (updated["last_name"], updated["description"]) == ("Souza", "gold plan")
    ok(mp.customer().delete(made["id"]))
    gone = mp.customer().get(made["id"])
    assert gone["status"] == 404 and gone["response"]["cause"][0]["code"] == 2002
    assert ok(mp.customer().search({"email": "ana@testuser.com"}))["results"] == []


def test_a_saved_card_is_listed_and_becomes_the_default(mp: mercadopago.SDK) -> None:
    customer = _customer(mp)
    card = _saved_card(mp, customer["id"])
    assert (card["customer_id"], card["last_four_digits"], card["payment_method"]["id"]) \
        == (customer["id"], "6351", "master")
    assert [c["id"] for c in ok(mp.card().list_all(customer["id"]))] == [card["id"]]
    assert ok(mp.customer().get(customer["id"]))["default_card"] == card["id"]
    assert ok(mp.card().get(customer["id"], card["id"]))["first_six_digits"] == "503143"


def test_a_payment_with_the_saved_card_and_a_renewal_without_the_customer(
        mp: mercadopago.SDK) -> None:
    customer = _customer(mp)
    card = _saved_card(mp, customer["id"])
    first = _pay(mp, customer["id"], _token_of(mp, card["id"]), point_of_interaction={
        "type": "SUBSCRIPTIONS", "transaction_data": {"first_time_use": True}})
    assert (first["status"], first["card"]["id"]) == ("approved", card["id"])
    assert (first["payer"]["type"], first["payer"]["id"]) == ("customer", customer["id"])
    nti = first["expanded"]["gateway"]["reference"]["network_transaction_id"]
    assert len(nti) == 15 and nti.isdigit()

    renewal = _pay(mp, customer["id"], _token_of(mp, card["id"], cvv=None), **_renewal(first))
    assert (renewal["status"], renewal["status_detail"]) == ("approved", "accredited")
    assert renewal["expanded"]["gateway"]["reference"]["network_transaction_id"] != nti


def test_a_renewal_quoting_another_acquirers_id(payment_simulator: SimulatorServer,
                                                client: stripe.StripeClient,
                                                mp: mercadopago.SDK) -> None:
    customer = _customer(mp)
    card = _saved_card(mp, customer["id"])
    first = _pay(mp, customer["id"], _token_of(mp, card["id"]))

    # The same card's first payment at Stripe: the renewal fails over with its id.
    foreign = first_payment_nti(client, CARD["card_number"], "brl")
    accepted = _pay(mp, customer["id"], _token_of(mp, card["id"], cvv=None),
                    **_renewal(first, foreign))
    assert accepted["status"] == "approved"
    credential = payment_simulator.admin("GET", f"/payments/{accepted['id']}")["credential"]
    assert (credential["initiator"], credential["mit_type"],
            credential["original_network_transaction_id"]) == \
        ("merchant", "recurring", foreign)

    refused = _pay(mp, customer["id"], _token_of(mp, card["id"], cvv=None),
                   **_renewal(first, first_payment_nti(client, "4242424242424242", "brl")))
    assert (refused["status"], refused["status_detail"]) == \
        ("rejected", "cc_rejected_card_type_not_allowed")


def test_a_saved_card_without_its_security_code_is_charged_without_the_customer(
        payment_simulator: SimulatorServer, mp: mercadopago.SDK) -> None:
    """Without a security code the customer was not there: a card that has expired
    since it was saved is rejected, where the customer paying with it is not asked."""
    now = datetime.fromtimestamp(payment_simulator.admin("GET", "/clock")["now"], UTC)
    customer = _customer(mp)
    token = ok(mp.card_token().create({
        **CARD, "expiration_month": now.month, "expiration_year": now.year,
        "cardholder": {"name": "APRO"}}), 201)
    card = ok(mp.card().create(customer["id"], {"token": token["id"]}), 201)
    payment_simulator.advance_clock("40d")

    lapsed = _pay(mp, customer["id"], _token_of(mp, card["id"], cvv=None))
    assert (lapsed["status"], lapsed["status_detail"]) == \
        ("rejected", "cc_rejected_bad_filled_date")
    present = _pay(mp, customer["id"], _token_of(mp, card["id"]))
    assert present["status"] == "approved"


def test_a_deleted_card_answers_mercado_pagos_404(mp: mercadopago.SDK) -> None:
    customer = _customer(mp)
    card = _saved_card(mp, customer["id"])
    assert ok(mp.card().delete(customer["id"], card["id"]))["id"] == card["id"]
    for answer in (mp.card().get(customer["id"], card["id"]),
                   mp.card_token().create({"card_id": card["id"], "security_code": "123"})):
        assert answer["status"] == 404, answer
        assert answer["response"]["error"] == "not_found"
        assert answer["response"]["cause"][0]["code"] == 2000
    assert ok(mp.customer().get(customer["id"]))["default_card"] is None


def test_an_unknown_customer_is_refused_on_a_payment(mp: mercadopago.SDK) -> None:
    token = ok(mp.card_token().create({**CARD, "cardholder": {"name": "APRO"}}), 201)["id"]
    answer = mp.payment().create({
        "transaction_amount": 10, "token": token, "installments": 1,
        "payment_method_id": "master", "payer": {"type": "customer", "id": "1-nobody"}})
    assert answer["status"] == 400 and answer["response"]["cause"][0]["code"] == 2002


def test_bad_customer_and_card_requests_get_mercado_pagos_envelope(
        mp: mercadopago.SDK) -> None:
    no_email = mp.customer().create({"first_name": "Ana"})
    assert no_email["status"] == 400
    assert no_email["response"]["message"].startswith("email attribute can't be null")
    customer = _customer(mp)
    for body, code in (({}, 1), ({"token": "f" * 32}, 2006)):
        answer = mp.card().create(customer["id"], body)
        assert (answer["status"], answer["response"]["cause"][0]["code"]) == (400, code)
    answer = mp.customer().search({"limit": 0})
    assert answer["status"] == 400 and answer["response"]["error"] == "bad_request"
