"""Malformed requests get Mercado Pago's own 4xx envelope naming the problem
(`message`, `error`, `status`, `cause[].code`): never a 500, never a traceback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import new_token, sdk

PIX = {"transaction_amount": 10, "payment_method_id": "pix",
       "payer": {"email": "buyer@testuser.com"}}
JSON = "application/json"

# (name, method, path, body bytes or JSON, content type, status, cause code, words in message)
CASES: list[tuple[str, str, str, Any, str, int, int | str, str]] = [
    ("non-JSON body", "POST", "/v1/payments", b"{not json", JSON, 400, 1, "not valid JSON"),
    ("non-UTF-8 body", "POST", "/v1/payments", b'{"a": "\xff"}', JSON, 400, 1, "UTF-8"),
    ("wrong content type", "POST", "/v1/payments", b"transaction_amount=10",
     "application/x-www-form-urlencoded", 400, 1, "JSON"),
    ("body not an object", "POST", "/v1/payments", [1, 2], JSON, 400, 1, "JSON object"),
    ("missing transaction_amount", "POST", "/v1/payments",
     {k: v for k, v in PIX.items() if k != "transaction_amount"}, JSON, 400, 1,
     "transaction_amount attribute can't be null"),
    ("missing payer.email", "POST", "/v1/payments", {**PIX, "payer": {}}, JSON, 400, 1,
     "payer.email attribute can't be null"),
    ("amount of the wrong type", "POST", "/v1/payments", {**PIX, "transaction_amount": "10"},
     JSON, 400, 4037, "transaction_amount"),
    ("negative amount", "POST", "/v1/payments", {**PIX, "transaction_amount": -5}, JSON,
     400, 4037, "transaction_amount"),
    ("amount with three decimals", "POST", "/v1/payments",
     {**PIX, "transaction_amount": 10.001}, JSON, 400, 4037, "at most 2 decimal places"),
    ("unknown currency", "POST", "/v1/payments", {**PIX, "currency_id": "XYZ"}, JSON, 400, 1,
     "currency_id"),
    ("currency the method does not take", "POST", "/v1/payments",
     {**PIX, "currency_id": "MXN"}, JSON, 400, 1, "pix payments are in BRL"),
    ("unknown payment method", "POST", "/v1/payments", {**PIX, "payment_method_id": "bitcoin"},
     JSON, 400, 1, "Invalid payment_method_id"),
    ("unknown parameter", "POST", "/v1/payments", {**PIX, "colour": "red"}, JSON, 400, 8,
     "[colour]"),
    ("bad notification_url", "POST", "/v1/payments", {**PIX, "notification_url": "not a url"},
     JSON, 400, 4020, "notificaction_url attribute must be url valid"),
    ("bad date_of_expiration", "POST", "/v1/payments", {**PIX, "date_of_expiration": "soon"},
     JSON, 400, 23, "date_of_expiration"),
    ("PIX expiring too soon", "POST", "/v1/payments",
     {**PIX, "date_of_expiration": "2020-01-01T00:00:00.000-04:00"}, JSON, 400, 23, "past"),
    ("card without token", "POST", "/v1/payments", {**PIX, "payment_method_id": "visa"},
     JSON, 400, 1, "token"),
    ("unknown card token", "POST", "/v1/payments",
     {**PIX, "payment_method_id": "visa", "token": "ff" * 16}, JSON, 400, 2006,
     "Card Token not found"),
    ("oversized body", "POST", "/v1/payments", b'{"description": "' + b"x" * 3_000_000 + b'"}',
     JSON, 413, 1, "exceeds"),
    ("unknown payment id", "GET", "/v1/payments/12345678901", None, JSON, 404, 2000,
     "Payment not found"),
    ("non-numeric payment id", "GET", "/v1/payments/abc", None, JSON, 400, 1, "are numbers"),
    ("refund of an unknown payment", "POST", "/v1/payments/12345678901/refunds", {}, JSON,
     404, 2000, "Payment not found"),
    ("negative refund", "POST", "/v1/payments/12345678901/refunds", {"amount": -1}, JSON,
     400, 4037, "amount"),
    ("update of an unknown payment", "PUT", "/v1/payments/12345678901", {"capture": False}, JSON,
     404, 2000, "Payment not found"),
    ("update with an unknown status", "PUT", "/v1/payments/12345678901",
     {"status": "approved"}, JSON, 400, 1, "cancelled"),
    ("search limit out of range", "GET", "/v1/payments/search?limit=5000", None, JSON, 400, 1,
     "limit"),
    ("search by date range", "GET", "/v1/payments/search?range=date_created", None, JSON, 400,
     1, "range"),
    ("card token failing Luhn", "POST", "/v1/card_tokens",
     {"card_number": "4111111111111112", "expiration_month": 1, "expiration_year": 2030},
     JSON, 400, "E301", "Luhn"),
    ("card token with a bad month", "POST", "/v1/card_tokens",
     {"card_number": "5031433215406351", "expiration_month": 13, "expiration_year": 2030},
     JSON, 400, 325, "expiration_month"),
    ("unknown route", "GET", "/v1/paymnts", None, JSON, 404, 404, "Did you mean"),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "ctype", "status", "cause",
                          "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_mercado_pago_s_envelope(
        payment_simulator: SimulatorServer, name: str, method: str, path: str, body: Any,
        ctype: str, status: int, cause: int | str, words: str) -> None:
    data = body if isinstance(body, bytes) or body is None else __import__("json").dumps(
        body).encode()
    r = requests.request(method, payment_simulator.url("mercadopago") + path, data=data,
                         headers={"Authorization": f"Bearer {new_token()}",
                                  "Content-Type": ctype,
                                  "X-Idempotency-Key": str(uuid.uuid4())}, timeout=30)

    assert r.status_code == status, r.text
    got = r.json()
    assert got["status"] == status
    assert got["error"] == {400: "bad_request", 404: "not_found",
                            413: "request_entity_too_large"}[status]
    assert got["cause"][0]["code"] == cause
    assert words in got["message"]


@pytest.mark.parametrize(("header", "words"), [
    (None, "no access token"),
    ("Bearer ", "no access token"),
    ("Basic dXNlcjpwYXNz", "no access token"),
    ("Bearer sk_test_123", "invalid access token"),
    ("Bearer APP_USR-1234-5678", "never production credentials"),
])
def test_bad_credentials_get_a_401(payment_simulator: SimulatorServer, header: str | None,
                                   words: str) -> None:
    headers = {"Authorization": header} if header is not None else {}

    r = requests.get(payment_simulator.url("mercadopago") + "/v1/payments/search",
                     headers=headers, timeout=10)

    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert words in r.json()["message"]


def test_the_sdk_gets_the_envelope_for_what_it_lets_through(
        payment_simulator: SimulatorServer) -> None:
    mp = sdk(payment_simulator.url("mercadopago"))

    result = mp.payment().create({**PIX, "transaction_amount": 0})

    assert result["status"] == 400
    assert result["response"]["cause"][0]["code"] == 4037
    assert mp.payment().get("999").status_code == 404
