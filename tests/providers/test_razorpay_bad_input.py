"""Every malformed Razorpay request gets Razorpay's 4xx envelope naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
import razorpay
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers.razorpay_helpers import collect, new_key_id, order

pytest_plugins = ["tests.providers.razorpay_fixtures"]

JSON = {"Content-Type": "application/json"}
AUTH = (new_key_id(), "secret")

CASES: list[tuple[str, str, dict[str, Any], int, str | None, str]] = [
    # (name, path, request kwargs, status, field, text in description)
    ("non-JSON", "/v1/orders", {"data": b"{amount:", "headers": JSON}, 400, None,
     "not valid JSON"),
    ("non-UTF-8", "/v1/orders", {"data": b"\xff\xfe{", "headers": JSON}, 400, None, "UTF-8"),
    ("not an object", "/v1/orders", {"data": b"[1]", "headers": JSON}, 400, None,
     "JSON object"),
    ("wrong content type", "/v1/orders",
     {"data": b"amount=100", "headers": {"Content-Type": "text/plain"}}, 400, None,
     "Content-Type: application/json"),
    ("missing amount", "/v1/orders", {"json": {"currency": "INR"}}, 400, "amount",
     "amount: is required."),
    ("string amount", "/v1/orders", {"json": {"amount": "100", "currency": "INR"}}, 400,
     "amount", "The amount must be an integer."),
    ("decimal amount", "/v1/orders", {"json": {"amount": 100.5, "currency": "INR"}}, 400,
     "amount", "The amount must be an integer."),
    ("negative amount", "/v1/orders", {"json": {"amount": -100, "currency": "INR"}}, 400,
     "amount", "atleast"),
    ("below minimum", "/v1/orders", {"json": {"amount": 99, "currency": "INR"}}, 400,
     "amount", "less than minimum"),
    ("currency type", "/v1/orders", {"json": {"amount": 100, "currency": 1}}, 400,
     "currency", "expected string but provided 1"),
    ("unknown currency", "/v1/orders", {"json": {"amount": 100, "currency": "XYZ"}}, 400,
     "currency", "not supported"),
    ("unknown field", "/v1/orders",
     {"json": {"amount": 100, "currency": "INR", "colour": "red"}}, 400, "colour",
     "should not be sent"),
    ("too many notes", "/v1/orders",
     {"json": {"amount": 100, "currency": "INR", "notes": {str(i): "x" for i in range(16)}}},
     400, "notes", "at most 15"),
    ("oversized body", "/v1/orders",
     {"data": b'{"receipt": "' + b"x" * 3_000_000 + b'"}', "headers": JSON}, 413, None,
     "exceeds the limit"),
    ("unknown order", "/v1/orders/order_00000000000000", {"method": "GET"}, 400, "id",
     "does not exist"),
    ("unknown payment", "/v1/payments/pay_00000000000000", {"method": "GET"}, 400, "id",
     "does not exist"),
    ("unknown refund", "/v1/refunds/rfnd_00000000000000", {"method": "GET"}, 400, "id",
     "does not exist"),
    ("bad count", "/v1/payments?count=ten", {"method": "GET"}, 400, "count",
     "must be an integer"),
    ("count too large", "/v1/payments?count=1000", {"method": "GET"}, 400, "count",
     "less than or equal to 100"),
    ("upi without order", "/v1/payments/create/upi",
     {"json": {"amount": 100, "currency": "INR", "method": "upi",
               "upi": {"flow": "collect", "vpa": "success@razorpay"}}}, 400, "order_id",
     "order_id: is required."),
    ("upi unknown order", "/v1/payments/create/upi",
     {"json": {"amount": 100, "currency": "INR", "method": "upi", "order_id": "order_x",
               "upi": {"flow": "collect", "vpa": "success@razorpay"}}}, 400, "order_id",
     "does not exist"),
    ("upi wrong method", "/v1/payments/create/upi",
     {"json": {"amount": 100, "currency": "INR", "method": "card", "order_id": "order_x",
               "upi": {"flow": "collect", "vpa": "success@razorpay"}}}, 400, "method",
     "must be one of upi"),
]


@pytest.mark.parametrize(("name", "path", "kwargs", "status", "field", "text"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_request_table(payment_simulator: SimulatorServer, name: str, path: str,
                           kwargs: dict[str, Any], status: int, field: str | None,
                           text: str) -> None:
    kwargs = dict(kwargs)
    method = kwargs.pop("method", "POST")
    r = requests.request(method, payment_simulator.url("razorpay") + path, auth=AUTH,
                         timeout=10, **kwargs)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == "BAD_REQUEST_ERROR"
    assert set(err) >= {"code", "description", "source", "step", "reason", "metadata"}
    assert text in err["description"]
    assert err.get("field") == field


@pytest.mark.parametrize("auth", [None, ("rzp_live_abcdefabcdefab", "s"), ("sk_test_1", "s"),
                                  ("rzp_test_abc", "")], ids=["none", "live", "other", "empty"])
def test_bad_auth_is_401_in_razorpays_envelope(payment_simulator: SimulatorServer,
                                               auth: tuple[str, str] | None) -> None:
    r = requests.get(payment_simulator.url("razorpay") + "/v1/orders", auth=auth, timeout=5)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "BAD_REQUEST_ERROR"
    assert err["description"].startswith("Authentication failed")


def test_sdk_surfaces_bad_input_as_bad_request_error(rzp: razorpay.Client,
                                                     payment_simulator: SimulatorServer) -> None:
    with pytest.raises(razorpay.errors.BadRequestError, match="Invalid VPA"):
        collect(rzp, order(rzp), vpa="not-a-vpa")
    with pytest.raises(razorpay.errors.BadRequestError, match="expiry_time"):
        collect(rzp, order(rzp), expiry_time=2)
    with pytest.raises(razorpay.errors.BadRequestError, match="order amount due"):
        rzp.payment.createUpi({"amount": 100, "currency": "INR", "order_id": order(rzp)["id"],
                               "method": "upi",
                               "upi": {"flow": "collect", "vpa": "success@razorpay"}})
    with pytest.raises(razorpay.errors.BadRequestError, match="collect flow"):
        collect(rzp, order(rzp), flow="intent")
    pid = collect(rzp, order(rzp), vpa="payer@okaxis")
    with pytest.raises(razorpay.errors.BadRequestError, match="Only captured payments"):
        rzp.payment.refund(pid, {})
    with pytest.raises(razorpay.errors.BadRequestError, match="authorized and not yet captured"):
        rzp.payment.capture(pid, 50000, {"currency": "INR"})
