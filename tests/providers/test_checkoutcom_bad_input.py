"""Malformed requests get Checkout.com's own answers: 422 `request_invalid` naming the
field in `error_codes`, 401 with an empty body and WWW-Authenticate, 404 with an empty
body; a Cko-Request-Id on every one; never a 500."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from checkout_sdk.exception import CheckoutApiException

from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import card_payment, new_key, sdk

KEY = new_key()
CARD = {"type": "card", "number": "4242424242424242", "expiry_month": 12,
        "expiry_year": 2035, "cvv": "100"}
GOOD = {"source": CARD, "amount": 1000, "currency": "USD"}


def _with(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {k: v for k, v in body.items() if v is not None}


def _card(**changes: Any) -> dict[str, Any]:
    card = {**CARD, **changes}
    return _with(source={k: v for k, v in card.items() if v is not None})


CASES: list[tuple[str, dict[str, Any], int, list[str] | None]] = [
    # (what, request, status, error_codes or None for an empty body)
    ("no source", {"json": _with(source=None)}, 422, ["payment_source_required"]),
    ("no currency", {"json": _with(currency=None)}, 422, ["currency_required"]),
    ("unknown currency", {"json": _with(currency="XYZ")}, 422, ["currency_invalid"]),
    ("negative amount", {"json": _with(amount=-1)}, 422, ["amount_invalid"]),
    ("fractional amount", {"json": _with(amount=10.5)}, 422, ["amount_invalid"]),
    ("amount as text", {"json": _with(amount="1000")}, 422, ["amount_invalid"]),
    ("no card number", {"json": _card(number=None)}, 422, ["card_number_required"]),
    ("card number fails Luhn", {"json": _card(number="4242424242424241")}, 422,
     ["card_number_invalid"]),
    ("expiry month 13", {"json": _card(expiry_month=13)}, 422, ["card_expiry_month_invalid"]),
    ("expiry month as text", {"json": _card(expiry_month="12")}, 422,
     ["card_expiry_month_invalid"]),
    ("no expiry year", {"json": _card(expiry_year=None)}, 422, ["card_expiry_year_required"]),
    ("expired card", {"json": _card(expiry_year=2020)}, 422, ["card_expired"]),
    ("cvv letters", {"json": _card(cvv="abc")}, 422, ["cvv_invalid"]),
    ("token source", {"json": _with(source={"type": "token", "token": "tok_abc"})}, 422,
     ["token_invalid"]),
    ("unsupported source", {"json": _with(source={"type": "network_token",
                                                  "token": "4543474002249996"})}, 422,
     ["payment_source_type_invalid"]),
    ("unknown instrument", {"json": _with(source={"type": "id", "id": "src_x"})}, 422,
     ["payment_source_id_invalid"]),
    ("customer source without id", {"json": _with(source={"type": "customer"})}, 422,
     ["customer_id_required"]),
    ("two problems at once", {"json": _with(currency="XYZ", source={
        **CARD, "number": "4242424242424241"})}, 422, ["currency_invalid", "card_number_invalid"]),
    ("bad success_url", {"json": _with(success_url="shop/ok")}, 422, ["success_url_invalid"]),
    ("capture not a boolean", {"json": _with(capture="yes")}, 422, ["capture_invalid"]),
    ("body is a list", {"json": [GOOD]}, 422, ["request_body_malformed"]),
    ("not JSON", {"data": b"{amount: 1000", "headers": {"Content-Type": "application/json"}},
     422, ["request_body_malformed"]),
    ("not UTF-8", {"data": b'{"currency": "\xff\xfe"}',
                   "headers": {"Content-Type": "application/json"}},
     422, ["request_body_malformed"]),
    ("form-encoded", {"data": b"amount=1000&currency=USD",
                      "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     415, ["content_type_unsupported"]),
    ("oversized body", {"json": _with(description="x" * 3_000_000)}, 413,
     ["request_too_large"]),
]


@pytest.mark.parametrize(("what", "request_args", "status", "codes"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_payment_requests(payment_simulator: SimulatorServer, what: str,
                              request_args: dict[str, Any], status: int,
                              codes: list[str] | None) -> None:
    headers = {"Authorization": f"Bearer {KEY}", **request_args.pop("headers", {})}
    answer = requests.post(payment_simulator.url("checkoutcom") + "/payments",
                           headers=headers, timeout=30, **request_args)
    assert answer.status_code == status, answer.text
    assert answer.headers["Cko-Request-Id"]
    body = answer.json()
    assert body["error_type"] == "request_invalid"
    assert body["error_codes"] == codes
    assert body["request_id"] == answer.headers["Cko-Request-Id"]


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer sk_live_abc", "Bearer pk_sbox_abcdefghijklmnopqrstuvwxyz2",
    "Basic c2tfc2JveF94Og==", "sk_garbage"])
def test_bad_credentials_are_401_with_an_empty_body(payment_simulator: SimulatorServer,
                                                    authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = requests.post(payment_simulator.url("checkoutcom") + "/payments", json=GOOD,
                           headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.content == b""
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.headers["Cko-Request-Id"]


@pytest.mark.parametrize("path", ["/payments/pay_doesnotexistdoesnotexist12",
                                  "/payments/pay_doesnotexistdoesnotexist12/actions",
                                  "/payments/sid_doesnotexistdoesnotexist12",
                                  "/no/such/route"])
def test_unknown_ids_and_routes_are_404_with_an_empty_body(
        payment_simulator: SimulatorServer, path: str) -> None:
    answer = requests.get(payment_simulator.url("checkoutcom") + path,
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 404 and answer.content == b""
    assert answer.headers["Cko-Request-Id"]


def test_the_sdk_surfaces_the_envelope(payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.request_payment(card_payment("4242424242424241", amount=-5))
    err = caught.value
    assert err.http_metadata.status_code == 422
    assert err.error_type == "request_invalid"
    assert err.error_details == ["amount_invalid"]
    assert err.request_id == err.http_metadata.headers["Cko-Request-Id"]
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.get_payment_details("pay_doesnotexistdoesnotexist12")
    assert caught.value.http_metadata.status_code == 404
    assert caught.value.request_id  # from the Cko-Request-Id header


def test_bad_action_bodies(payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"), KEY)
    held = api.payments.request_payment(card_payment(capture=False))
    url = payment_simulator.url("checkoutcom") + f"/payments/{held.id}"
    for suffix, body, code in (("/captures", {"amount": 0}, "amount_invalid"),
                               ("/refunds", {"amount": "10"}, "amount_invalid"),
                               ("/voids", {"reference": 7}, "reference_invalid")):
        answer = requests.post(url + suffix, json=body, timeout=10,
                               headers={"Authorization": f"Bearer {KEY}"})
        assert answer.status_code == 422
        assert answer.json()["error_codes"] == [code]
    assert api.payments.get_payment_details(held.id).status == "Authorized"
