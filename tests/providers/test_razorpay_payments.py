"""Razorpay orders, S2S UPI collect payments, capture and refunds through the official
`razorpay` SDK."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import razorpay
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers.razorpay_helpers import collect, new_key_id, order, wait_status

pytest_plugins = ["tests.providers.razorpay_fixtures"]


def test_order_is_created_as_razorpay_shows_it(rzp: razorpay.Client) -> None:
    o = order(rzp, 50000, notes={"cart": "42"})
    assert o["id"].startswith("order_") and len(o["id"]) == len("order_") + 14
    assert (o["entity"], o["status"], o["amount_due"], o["amount_paid"], o["attempts"]) == \
        ("order", "created", 50000, 0, 0)
    assert rzp.order.fetch(o["id"])["notes"] == {"cart": "42"}


def test_success_vpa_authorizes_after_a_moment_and_the_order_is_paid(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    o = order(rzp)
    pid = collect(rzp, o)
    assert pid.startswith("pay_") and len(pid) == 18
    assert rzp.payment.fetch(pid)["status"] == "created"  # waiting for the customer
    payment_simulator.advance_clock(5)
    p = wait_status(rzp, pid, "captured")
    assert (p["status"], p["captured"], p["method"], p["vpa"], p["order_id"]) == \
        ("captured", True, "upi", "success@razorpay", o["id"])
    assert p["error_code"] is None and p["acquirer_data"]["rrn"]
    paid = rzp.order.fetch(o["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", 50000, 0)
    assert [x["id"] for x in rzp.order.payments(o["id"])["items"]] == [pid]


def test_manual_capture_order_waits_in_authorized_until_captured(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    o = order(rzp, 30000, payment_capture=False)
    pid = collect(rzp, o)
    payment_simulator.advance_clock(5)
    assert wait_status(rzp, pid, "authorized")["status"] == "authorized"
    with pytest.raises(razorpay.errors.BadRequestError, match="equal to the amount authorized"):
        rzp.payment.capture(pid, 100, {"currency": "INR"})
    captured = rzp.payment.capture(pid, 30000, {"currency": "INR"})
    assert (captured["status"], captured["captured"]) == ("captured", True)
    with pytest.raises(razorpay.errors.BadRequestError, match="already been captured"):
        rzp.payment.capture(pid, 30000, {"currency": "INR"})


def test_failure_vpa_fails_with_razorpays_error_fields(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = collect(rzp, order(rzp), vpa="failure@razorpay")
    payment_simulator.advance_clock(5)
    p = wait_status(rzp, pid, "failed")
    assert p["status"] == "failed"
    assert p["error_code"] == "BAD_REQUEST_ERROR"
    assert p["error_reason"] and p["error_description"] and p["error_source"]


@pytest.mark.parametrize(("amount", "code", "reason"), [
    (201, "GATEWAY_ERROR", "insufficient_funds"),
    (402, "GATEWAY_ERROR", "payment_declined"),
    (204, "BAD_REQUEST_ERROR", "incorrect_pin"),
    (302, "BAD_REQUEST_ERROR", "payment_cancelled"),
])
def test_documented_test_amounts_fail_with_their_reason(
        rzp: razorpay.Client, payment_simulator: SimulatorServer, amount: int, code: str,
        reason: str) -> None:
    pid = collect(rzp, order(rzp, amount))
    payment_simulator.advance_clock(5)
    p = wait_status(rzp, pid, "failed")
    assert (p["status"], p["error_code"], p["error_reason"]) == ("failed", code, reason)


def test_other_vpa_waits_until_the_collect_request_expires(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = collect(rzp, order(rzp), vpa="gaurav.kumar@exampleupi", expiry_time=10)
    payment_simulator.advance_clock(9 * 60)
    assert wait_status(rzp, pid, "failed", timeout=1.5)["status"] == "created"
    payment_simulator.advance_clock(2 * 60)
    p = wait_status(rzp, pid, "failed")
    assert (p["status"], p["error_reason"]) == ("failed", "payment_timed_out")


def test_admin_completes_a_waiting_collect_request(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    ok = collect(rzp, order(rzp), vpa="someone@okhdfcbank")
    payment_simulator.client.complete(ok, "success")
    assert rzp.payment.fetch(ok)["status"] == "captured"
    ko = collect(rzp, order(rzp), vpa="someone@okhdfcbank")
    payment_simulator.client.complete(ko, "failure", reason="insufficient_funds")
    p = rzp.payment.fetch(ko)
    assert (p["status"], p["error_code"], p["error_reason"]) == \
        ("failed", "GATEWAY_ERROR", "insufficient_funds")


def test_a_failed_attempt_can_be_retried_on_the_same_order(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    o = order(rzp)
    first = collect(rzp, o, vpa="failure@razorpay")
    payment_simulator.advance_clock(5)
    wait_status(rzp, first, "failed")
    second = collect(rzp, o)
    payment_simulator.advance_clock(5)
    assert wait_status(rzp, second, "captured")["status"] == "captured"
    assert rzp.order.fetch(o["id"])["attempts"] == 2
    with pytest.raises(razorpay.errors.BadRequestError, match="already been paid"):
        collect(rzp, o)


def test_refunds_partial_then_full(rzp: razorpay.Client,
                                   payment_simulator: SimulatorServer) -> None:
    pid = collect(rzp, order(rzp, 10000))
    payment_simulator.advance_clock(5)
    wait_status(rzp, pid, "captured")
    r1 = rzp.payment.refund(pid, {"amount": 4000, "notes": {"why": "damaged"}})
    assert r1["id"].startswith("rfnd_") and (r1["entity"], r1["status"], r1["amount"]) == \
        ("refund", "processed", 4000)
    p = rzp.payment.fetch(pid)
    assert (p["status"], p["refund_status"], p["amount_refunded"]) == ("captured", "partial", 4000)
    with pytest.raises(razorpay.errors.BadRequestError, match="greater than amount captured"):
        rzp.payment.refund(pid, {"amount": 7000})
    r2 = rzp.payment.refund(pid, {})
    assert r2["amount"] == 6000
    p = rzp.payment.fetch(pid)
    assert (p["status"], p["refund_status"]) == ("refunded", "full")
    assert rzp.refund.fetch(r1["id"])["payment_id"] == pid
    assert {r["id"] for r in rzp.payment.fetch_multiple_refund(pid)["items"]} == \
        {r1["id"], r2["id"]}
    assert rzp.payment.fetch_refund_id(pid, r2["id"])["amount"] == 6000
    with pytest.raises(razorpay.errors.BadRequestError, match="fully refunded"):
        rzp.payment.refund(pid, {})


def test_refund_idempotency_header_replays_and_refuses_another_body(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = collect(rzp, order(rzp, 10000))
    payment_simulator.advance_clock(5)
    wait_status(rzp, pid, "captured")
    headers = {"X-Refund-Idempotency": "7f2c1d9e-4b1a-4c5e-9d2f-0a1b2c3d4e5f"}
    first = rzp.payment.refund(pid, {"amount": 1000}, headers=dict(headers))
    again = rzp.payment.refund(pid, {"amount": 1000}, headers=dict(headers))
    assert again["id"] == first["id"]
    assert rzp.payment.fetch(pid)["amount_refunded"] == 1000
    with pytest.raises(razorpay.errors.BadRequestError, match="Different request"):
        rzp.payment.refund(pid, {"amount": 2000}, headers=dict(headers))
    with pytest.raises(razorpay.errors.BadRequestError, match="at least 10 characters"):
        rzp.payment.refund(pid, {"amount": 1000}, headers={"X-Refund-Idempotency": "short"})


def test_unique_receipt_refuses_a_second_order(rzp: razorpay.Client) -> None:
    first = rzp.order.create({"amount": 1000, "currency": "INR", "receipt": "rcpt-77",
                              "unique_receipt": True})
    with pytest.raises(razorpay.errors.BadRequestError, match="receipt should be unique"):
        rzp.order.create({"amount": 1000, "currency": "INR", "receipt": "rcpt-77",
                          "unique_receipt": True})
    found = rzp.order.all({"receipt": "rcpt-77"})
    assert [o["id"] for o in found["items"]] == [first["id"]]


def test_key_ids_are_namespaces(make_razorpay: Callable[..., razorpay.Client]) -> None:
    alice, bob = make_razorpay(new_key_id()), make_razorpay(new_key_id())
    o = order(alice)
    pid = collect(alice, o)
    for call in (lambda: bob.order.fetch(o["id"]), lambda: bob.payment.fetch(pid)):
        with pytest.raises(razorpay.errors.BadRequestError, match="does not exist"):
            call()
    assert bob.payment.all()["count"] == 0
    assert [p["id"] for p in alice.payment.all()["items"]] == [pid]


def test_list_payments_count_and_skip(rzp: razorpay.Client) -> None:
    ids = [collect(rzp, order(rzp), vpa="x.y@okicici") for _ in range(3)]
    page = rzp.payment.all({"count": 2})
    assert page["entity"] == "collection" and [p["id"] for p in page["items"]] == ids[::-1][:2]
    assert [p["id"] for p in rzp.payment.all({"count": 2, "skip": 2})["items"]] == [ids[0]]


@pytest.mark.payment_scenario("""
name: razorpay-declines
rules:
  - match: {provider: razorpay, operation: authorize}
    outcome: {decline: insufficient_funds}
""")
def test_scenario_decline_fails_the_upi_payment(rzp: razorpay.Client) -> None:
    pid = collect(rzp, order(rzp))
    p = rzp.payment.fetch(pid)
    assert (p["status"], p["error_code"], p["error_reason"]) == \
        ("failed", "GATEWAY_ERROR", "insufficient_funds")


@pytest.mark.payment_scenario("""
name: razorpay-outage
rules:
  - match: {provider: razorpay, operation: authorize}
    fault: {http: 503}
""")
def test_scenario_fault_answers_in_razorpays_envelope(rzp: razorpay.Client) -> None:
    with pytest.raises(razorpay.errors.ServerError):
        collect(rzp, order(rzp))


@pytest.mark.payment_scenario("""
name: razorpay-slow
rules:
  - match: {provider: razorpay, operation: retrieve}
    latency: 50ms
""")
def test_scenario_latency_is_journaled_on_reads(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    o = order(rzp)
    rzp.order.fetch(o["id"])
    entry = next(e for e in payment_simulator.journal(provider="razorpay")
                 if e["method"] == "GET")
    assert entry["duration_ms"] >= 50
    assert "razorpay-slow" in str(entry)


def test_unknown_url_names_close_routes(payment_simulator: SimulatorServer) -> None:
    r = requests.get(payment_simulator.url("razorpay") + "/v1/order",
                     auth=(new_key_id(), "s"), timeout=5)
    err = r.json()["error"]
    assert r.status_code == 404 and err["code"] == "BAD_REQUEST_ERROR"
    assert "GET /v1/orders" in err["description"]
