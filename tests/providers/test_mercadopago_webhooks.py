"""Mercado Pago notifications: sent to the payment's notification_url or the configured
endpoint with `?data.id=…&type=payment`, signed with `x-signature` and verified by the
SDK's own WebhookSignatureValidator, retried on the virtual clock."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import mercadopago
import pytest
from mercadopago.webhook import InvalidWebhookSignatureError

from paysandbox.settings import default_secret
from paysandbox.testing.client import wait_until
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.mercadopago_sdk import verify

# The SDK warns that notification_url is deprecated in favour of dashboard webhooks;
# both are imitated, so both are tested.
pytestmark = pytest.mark.filterwarnings("ignore:notification_url is deprecated")

PAYER = {"email": "buyer@testuser.com"}
SECRET = "a-secret-signature-from-your-integrations"



def pix(mp: mercadopago.SDK, **extra: Any) -> dict[str, Any]:
    result = mp.payment().create({"transaction_amount": 25, "payment_method_id": "pix",
                                  "payer": PAYER, **extra})
    assert result["status"] == 201, result
    body: dict[str, Any] = result["response"]
    return body


def actions(rx: WebhookReceiver) -> list[str]:
    return [r.json()["action"] for r in rx.received]


def test_notification_url_gets_signed_created_and_updated(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    p = pix(mp, notification_url=hook_server.url + "?shop=7")
    assert hook_server.wait_for(lambda got: len(got) >= 1)

    payment_simulator.client.complete(str(p["id"]), "success")

    assert hook_server.wait_for(lambda got: len(got) >= 2)
    assert actions(hook_server) == ["payment.created", "payment.updated"]
    secret = default_secret("mercadopago")  # nothing configured: the default secret
    for r in hook_server.received:
        assert verify(r.headers, r.path, secret) == str(p["id"])
        query = parse_qs(urlsplit(r.path).query)
        assert query["type"] == ["payment"] and query["shop"] == ["7"]
        body = r.json()
        assert body["type"] == "payment" and body["api_version"] == "v1"
        assert body["data"] == {"id": str(p["id"])}
        assert body["live_mode"] is False
        assert body["user_id"] == p["collector_id"]
    ids = [r.json()["id"] for r in hook_server.received]
    assert len(set(ids)) == 2
    request_ids = {r.headers["x-request-id"] for r in hook_server.received}
    assert len(request_ids) == 2


def test_the_configured_endpoint_gets_notifications_signed_with_its_secret(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    payment_simulator.admin("PUT", "/webhooks/mercadopago",
                            {"url": hook_server.url, "secret": SECRET})
    p = pix(mp)

    assert hook_server.wait_for(lambda got: len(got) >= 1)
    received = hook_server.received[0]
    assert verify(received.headers, received.path, SECRET) == str(p["id"])
    with pytest.raises(InvalidWebhookSignatureError):
        verify(received.headers, received.path, "not-the-secret")


def test_an_expiry_is_notified_as_payment_updated(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    p = pix(mp, notification_url=hook_server.url)
    assert hook_server.wait_for(lambda got: len(got) >= 1)

    payment_simulator.advance_clock("24h")

    assert hook_server.wait_for(lambda got: len(got) >= 2)
    assert actions(hook_server) == ["payment.created", "payment.updated"]
    assert mp.payment().get(p["id"])["response"]["status_detail"] == "expired"


def test_a_refused_delivery_is_retried_after_15_virtual_minutes(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    hook_server.fail_first = 1
    pix(mp, notification_url=hook_server.url)

    def delivery() -> dict[str, Any] | None:
        found = payment_simulator.admin("GET", "/webhooks/deliveries?provider=mercadopago")
        d = found["deliveries"]
        return d[0] if d and d[0]["attempts"] else None

    first = wait_until(delivery, 10, "no delivery attempt")
    assert first["state"] == "pending"
    assert first["attempts"][0]["status"] == 500
    payment_simulator.advance_clock("14m")
    assert not hook_server.received

    payment_simulator.advance_clock("1m")

    assert hook_server.wait_for(lambda got: len(got) == 1)
    done = wait_until(lambda: (d := delivery()) and d["state"] == "delivered" and d, 10,
                      "never delivered")
    assert [a["status"] for a in done["attempts"]] == [500, 200]
    r = hook_server.received[0]
    verify(r.headers, r.path, default_secret("mercadopago"))
