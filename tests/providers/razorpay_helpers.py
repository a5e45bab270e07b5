"""Helpers shared by the Razorpay provider tests (fixtures: razorpay_fixtures.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import razorpay


def new_key_id() -> str:
    return "rzp_test_" + uuid.uuid4().hex[:14]


def order(client: razorpay.Client, amount: int = 50000, **extra: Any) -> dict[str, Any]:
    created: dict[str, Any] = client.order.create({"amount": amount, "currency": "INR",
                                                   "receipt": uuid.uuid4().hex[:20], **extra})
    return created


def collect(client: razorpay.Client, order_: dict[str, Any], vpa: str = "success@razorpay",
            **upi: Any) -> str:
    """Start a server-to-server UPI collect payment on an order; its payment id."""
    answer = client.payment.createUpi({
        "amount": order_["amount"], "currency": "INR", "order_id": order_["id"],
        "email": "gaurav.kumar@example.com", "contact": "9000090000", "method": "upi",
        "upi": {"flow": "collect", "vpa": vpa, **upi}})
    if set(answer) != {"razorpay_payment_id"}:
        raise AssertionError(f"create/upi answered {answer!r}, not a razorpay_payment_id")
    pid: str = answer["razorpay_payment_id"]
    return pid


def wait_status(client: razorpay.Client, payment_id: str, *statuses: str,
                timeout: float = 5) -> dict[str, Any]:
    """Poll the payment, as an S2S UPI integration does, until it reaches a status."""
    deadline = time.monotonic() + timeout
    while True:
        p: dict[str, Any] = client.payment.fetch(payment_id)
        if p["status"] in statuses or time.monotonic() > deadline:
            return p
        time.sleep(0.05)
