"""What the Mollie tests share: SDK clients on a fresh test key, a payment with sensible
defaults, and reading Mollie's form-encoded webhooks the way a payment service does
(take `id`, fetch the payment with the SDK)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from mollie.api.client import Client
from mollie.api.objects.payment import Payment

from paysandbox.testing.client import wait_until
from paysandbox.testing.server import SimulatorServer
from tests.conftest import Received, WebhookReceiver

REDIRECT = "https://webshop.example.org/order/12345/"


def new_key() -> str:
    """A fresh test key: its own namespace in the simulator."""
    return f"test_{uuid.uuid4().hex}"


def client(simulator: SimulatorServer, key: str | None = None) -> Client:
    """The official SDK pointed at the simulator: it appends /v2 itself."""
    c = Client()
    c.set_api_endpoint(simulator.url("mollie"))
    c.set_api_key(key or new_key())
    return c


def create(c: Client, *, idempotency_key: str = "", **params: Any) -> Payment:
    body: dict[str, Any] = {
        "amount": {"currency": "EUR", "value": "10.00"},
        "description": "Order #12345",
        "redirectUrl": REDIRECT,
        "method": "ideal",
        **params,
    }
    return c.payments.create({k: v for k, v in body.items() if v is not None},
                             idempotency_key=idempotency_key)


def wait(check: Callable[[], bool], timeout: float = 10) -> None:
    """Scheduled work (an expiry, a retry) runs within a second of the clock reaching it."""
    wait_until(check, timeout, "the simulator did not get there in time")


def webhook_id(received: Received) -> str:
    """The one thing Mollie posts: `id=tr_…`, form-encoded."""
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(received.body.decode(), strict_parsing=True)
    assert list(form) == ["id"], f"Mollie posts only the id, got {form}"
    return form["id"][0]


def refetched_statuses(c: Client, rx: WebhookReceiver) -> list[str]:
    """What a payment service learns from its webhooks: the status it fetches for each."""
    return [c.payments.get(webhook_id(r)).status for r in rx.received]
