"""Malformed requests get Adyen's own error envelope and a 4xx naming the problem:
raw HTTP for what the SDK would never send, the SDK for what it lets through."""

from __future__ import annotations

import json
from typing import Any

import Adyen
import pytest
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import Checkout, card

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen


KEY = "AQE_bad_input_key"
GOOD: dict[str, Any] = {"amount": {"currency": "EUR", "value": 1000}, "reference": "r-1",
                        "merchantAccount": "TestMerchantECOM",
                        "returnUrl": "http://127.0.0.1:9/r", "paymentMethod": card()}


def _with(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {k: v for k, v in body.items() if v is not None}


# (name, path, headers, body (bytes or JSON), status, errorCode, words in the message)
CASES: list[tuple[str, str, dict[str, str], Any, int, str, str]] = [
    ("non-json", "/payments", {}, b"{not json", 400, "702", "JSON"),
    ("non-utf8", "/payments", {}, b'{"reference": "\xff\xfe"}', 400, "702", "UTF-8"),
    ("empty body", "/payments", {}, b"", 400, "702", "Empty input"),
    ("json array", "/payments", {}, [1, 2], 400, "702", "JSON object"),
    ("wrong content type", "/payments", {"Content-Type": "text/plain"}, b"amount=1", 400,
     "702", "application/json"),
    ("missing amount", "/payments", {}, _with(amount=None), 422, "100", "'amount'"),
    ("missing amount.value", "/payments", {}, _with(amount={"currency": "EUR"}), 422, "100",
     "amount.value"),
    ("missing reference", "/payments", {}, _with(reference=None), 422, "130", "reference"),
    ("missing returnUrl", "/payments", {}, _with(returnUrl=None), 422, "14_030", "Return URL"),
    ("missing merchantAccount", "/payments", {}, _with(merchantAccount=None), 422, "702",
     "merchantAccount"),
    ("amount as string", "/payments", {}, _with(amount={"currency": "EUR", "value": "10"}),
     400, "702", "amount.value"),
    ("fractional amount", "/payments", {}, _with(amount={"currency": "EUR", "value": 10.5}),
     400, "702", "amount.value"),
    ("negative amount", "/payments", {}, _with(amount={"currency": "EUR", "value": -1}), 422,
     "137", "Invalid amount"),
    ("unknown currency", "/payments", {}, _with(amount={"currency": "XYZ", "value": 1}), 422,
     "138", "Unsupported currency"),
    ("unknown field", "/payments", {}, _with(colour="blue"), 400, "702",
     "unknown fields: [colour]"),
    ("bad card number", "/payments", {}, _with(paymentMethod=card("4111111111111121")), 422,
     "101", "Invalid card number"),
    ("bad expiry month", "/payments", {}, _with(paymentMethod=card(month="13")), 422, "129",
     "Expiry Date Invalid"),
    ("three-digit expiry year", "/payments", {}, _with(paymentMethod=card(year="203")), 422,
     "129", "Expiry Date Invalid"),
    ("bad cvc", "/payments", {}, _with(paymentMethod=card(cvc="12345")), 422, "103", "CVC"),
    ("not a card", "/payments", {}, _with(paymentMethod={"type": "ideal"}), 422, "905",
     "scheme"),
    ("oversized body", "/payments", {}, b'{"reference": "' + b"x" * 3_000_000 + b'"}', 413,
     "702", "exceeds"),
    ("unknown pspReference", "/payments/ABCDEFGHIJKLMNOP/captures", {},
     {"amount": {"currency": "EUR", "value": 1}, "merchantAccount": "TestMerchantECOM"},
     422, "167", "ABCDEFGHIJKLMNOP"),
    ("details without details", "/payments/details", {}, {"paymentData": "x"}, 422, "702",
     "details"),
    ("unknown route", "/payouts", {}, {}, 404, "000", "Unrecognized request URL"),
    ("no api key", "/payments", {"X-API-Key": ""}, GOOD, 401, "000", "Unauthorized"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_adyens_envelope(payment_simulator: SimulatorServer, case: tuple):
    _, path, headers, body, status, code, words = case
    url = payment_simulator.url("adyen") + "/checkout/v71" + path
    sent = {"X-API-Key": KEY, "Content-Type": "application/json", **headers}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = requests.post(url, data=data, headers=sent, timeout=30)
    assert r.status_code == status, r.text
    envelope = r.json()
    assert envelope["status"] == status
    assert envelope["errorCode"] == code
    assert words in envelope["message"]
    assert envelope["errorType"] in ("validation", "security", "configuration")
    assert len(envelope["pspReference"]) == 16


def test_an_error_s_psp_reference_is_in_its_header_where_the_sdk_reads_it(adyen: Checkout):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(value=-5)
    assert err.value.psp == err.value.message["pspReference"]


def test_sdk_surfaces_validation_errors(adyen: Checkout):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(value=-5)
    assert err.value.message["errorCode"] == "137"
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(currency="ABC")
    assert err.value.message["errorCode"] == "138"
    with pytest.raises(Adyen.AdyenAPIValidationError) as err2:  # the SDK's 400
        adyen.payments.payments({**GOOD, "merchantAccount": adyen.merchant, "bogus": True})
    assert err2.value.message["errorCode"] == "702"
    assert "[bogus]" in err2.value.message["message"]


def test_get_on_a_post_route_is_an_envelope_not_a_405_page(payment_simulator: SimulatorServer):
    r = requests.get(payment_simulator.url("adyen") + "/checkout/v71/payments",
                     headers={"X-API-Key": KEY}, timeout=10)
    assert r.status_code == 404
    assert r.json()["errorType"] == "validation"
    assert "POST /checkout/v{version}/payments" in r.json()["message"]
