"""Razorpay's contracts (contracts_data/razorpay/): the official SDK through every operation,
with every webhook event delivered, breaks none of them; a request that breaks one gets
Razorpay's own 400 naming the field, which `/__admin/contracts` groups under the same
field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import razorpay
import requests

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.razorpay_helpers import collect, new_key_id, order, wait_status

pytest_plugins = ["tests.providers.razorpay_fixtures"]

UNKNOWN = "pay_00000000000000"  # bodies are checked before the payment is looked up
ORDER = {"amount": 50000, "currency": "INR", "receipt": "rcpt-1"}
UPI = {"amount": 50000, "currency": "INR", "order_id": "order_00000000000000",
       "method": "upi", "upi": {"flow": "collect", "vpa": "success@razorpay"}}


def test_the_sdk_through_every_operation_keeps_every_contract(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    payment_simulator.admin("PUT", "/webhooks/razorpay",
                            {"url": hook_server.url, "secret": "whsec"})
    receipt = uuid.uuid4().hex[:20]
    o = rzp.order.create({"amount": 30000, "currency": "INR", "receipt": receipt,
                          "notes": {"cart": "42"}, "payment": {"capture": "manual"}})
    assert [x["id"] for x in rzp.order.all({"receipt": receipt})["items"]] == [o["id"]]
    assert rzp.order.fetch(o["id"])["status"] == "created"
    pid = collect(rzp, o, expiry_time=10)
    payment_simulator.advance_clock(5)
    assert wait_status(rzp, pid, "authorized")["status"] == "authorized"
    assert [p["id"] for p in rzp.order.payments(o["id"])["items"]] == [pid]
    assert rzp.payment.all({"count": 5, "skip": 0})["items"][0]["id"] == pid
    assert rzp.payment.capture(pid, 30000, {"currency": "INR"})["captured"] is True
    refund = rzp.payment.refund(pid, {"amount": 1000, "notes": {"why": "damaged"},
                                      "receipt": "refund-1"})
    assert [r["id"] for r in rzp.payment.fetch_multiple_refund(pid)["items"]] == [refund["id"]]
    assert rzp.payment.fetch_refund_id(pid, refund["id"])["amount"] == 1000
    assert [r["id"] for r in rzp.refund.all({"count": 10})["items"]] == [refund["id"]]
    assert rzp.refund.fetch(refund["id"])["payment_id"] == pid
    assert rzp.payment.fetch(pid)["refund_status"] == "partial"
    failed = collect(rzp, order(rzp), vpa="failure@razorpay")
    payment_simulator.advance_clock(5)
    assert wait_status(rzp, failed, "failed")["error_reason"]
    with pytest.raises(razorpay.errors.BadRequestError, match="does not exist"):
        rzp.payment.fetch(UNKNOWN)  # the error envelope has a contract too

    expected = {"payment.authorized", "payment.captured", "order.paid", "refund.created",
                "refund.processed", "payment.failed"}
    assert hook_server.wait_for(
        lambda got: {r.json()["event"] for r in got} >= expected)
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


# (what, method, path below /v1, body, field, kind, words in the description)
WRONG: list[tuple[str, str, str, dict[str, Any], str, str, str, str]] = [
    ("missing required field", "POST", "/orders", {"amount": 50000}, "create_order",
     "currency", "missing", "currency: is required."),
    ("missing nested field", "POST", "/payments/create/upi",
     {**UPI, "upi": {"vpa": "success@razorpay"}}, "create_upi_payment", "upi.flow",
     "missing", "upi.flow: is required."),
    ("wrong type", "POST", "/orders", {**ORDER, "partial_payment": "yes"}, "create_order",
     "partial_payment", "type", "expected boolean but provided \"yes\""),
    ("notes of the wrong type", "POST", "/payments/create/upi", {**UPI, "notes": "gift"},
     "create_upi_payment", "notes", "type", "expected object"),
    ("unknown enum value", "POST", "/orders", {**ORDER, "payment": {"capture": "later"}},
     "create_order", "payment.capture", "enum", "must be one of automatic, manual"),
    ("unknown upi flow", "POST", "/payments/create/upi",
     {**UPI, "upi": {"flow": "qr", "vpa": "success@razorpay"}}, "create_upi_payment",
     "upi.flow", "enum", "must be one of collect, intent"),
    ("unknown refund speed", "POST", f"/payments/{UNKNOWN}/refund", {"speed": "instant"},
     "refund_payment", "speed", "enum", "must be one of normal, optimum"),
    ("amount as string", "POST", "/orders", {**ORDER, "amount": "50000"}, "create_order",
     "amount", "type", "The amount must be an integer."),
    ("upi amount as string", "POST", "/payments/create/upi", {**UPI, "amount": "50000"},
     "create_upi_payment", "amount", "type", "The amount must be an integer."),
    ("capture amount as string", "POST", f"/payments/{UNKNOWN}/capture",
     {"amount": "50000", "currency": "INR"}, "capture_payment", "amount", "type",
     "The amount must be an integer."),
    ("refund amount as string", "POST", f"/payments/{UNKNOWN}/refund", {"amount": "100"},
     "refund_payment", "amount", "type", "The amount must be an integer."),
    ("unknown field", "POST", "/orders", {**ORDER, "colour": "red"}, "create_order",
     "colour", "unknown", "should not be sent"),
    ("count out of range", "GET", "/payments?count=1000", {}, "list_payments", "count",
     "range", "less than or equal to 100"),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "operation", "field", "kind",
                          "words"), WRONG, ids=[w[0] for w in WRONG])
def test_a_request_breaking_its_contract_is_named_in_the_envelope_and_the_report(
        payment_simulator: SimulatorServer, what: str, method: str, path: str,
        body: dict[str, Any], operation: str, field: str, kind: str, words: str) -> None:
    answer = requests.request(method, payment_simulator.url("razorpay") + "/v1" + path,
                              json=body or None, auth=(new_key_id(), "secret"), timeout=10)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("BAD_REQUEST_ERROR", field)
    assert words in error["description"], error["description"]
    report = payment_simulator.admin("GET", "/contracts")
    assert [(g["provider"], g["operation"], g["source"], g["field"], g["kind"])
            for g in report["groups"]] == [("razorpay", operation, "request", field, kind)]
    assert report["total"] == 1


def test_the_sdk_sees_a_contract_violation_as_a_bad_request(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    with pytest.raises(razorpay.errors.BadRequestError, match="The amount must be an integer"):
        rzp.order.create({"amount": "500.00", "currency": "INR"})
    groups = payment_simulator.admin("GET", "/contracts")["groups"]
    assert [(g["operation"], g["field"], g["kind"]) for g in groups] == \
        [("create_order", "amount", "type")]


def test_report_mode_serves_what_it_can_and_records_each_violation(
        lenient: SimulatorServer) -> None:
    rzp = razorpay.Client(auth=(new_key_id(), "secret"), base_url=lenient.url("razorpay"))

    served = rzp.order.create({**ORDER, "colour": "red", "payment": {"capture": "later"}})
    assert served["status"] == "created"
    with pytest.raises(razorpay.errors.BadRequestError, match="must be an integer"):
        rzp.order.create({**ORDER, "amount": "50000"})  # cannot be served

    report = lenient.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert sorted((g["operation"], g["field"], g["kind"]) for g in report["groups"]) == [
        ("create_order", "amount", "type"),
        ("create_order", "colour", "unknown"),
        ("create_order", "payment.capture", "enum"),
    ]
