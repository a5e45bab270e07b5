"""The Mercado Pago PIX page (`ticket_url`), clicked in headless Chromium as a payer
would: the official SDK creates and reads the payment, only the browser pays it, and
the notification arrives signed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from paysandbox.settings import default_secret
from tests.conftest import WebhookReceiver
from tests.providers.mercadopago_sdk import sdk, verify

if TYPE_CHECKING:
    from playwright.async_api import Page

    from paysandbox.testing.server import SimulatorServer

# The browser lives on the session's loop (see conftest.py).
pytestmark = [pytest.mark.asyncio(loop_scope="session"),
              pytest.mark.filterwarnings("ignore:notification_url is deprecated")]


def create(simulator: SimulatorServer, method: str, **extra: Any) -> tuple[Any, dict[str, Any]]:
    mp = sdk(simulator.url("mercadopago"))
    result = mp.payment().create({"transaction_amount": 42.5, "payment_method_id": method,
                                  "payer": {"email": "buyer@testuser.com"}, **extra})
    assert result["status"] == 201, result
    return mp, result["response"]


async def test_simulate_payment_approves_a_pix_and_notifies(
        page: Page, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    mp, p = create(payment_simulator, "pix", notification_url=hook_server.url)
    data = p["point_of_interaction"]["transaction_data"]

    await page.goto(data["ticket_url"])
    assert await page.text_content("#amount") == "42.50 BRL"
    assert await page.input_value("#qr_code") == data["qr_code"]
    assert await page.get_attribute("#qr", "src") == \
        f"data:image/png;base64,{data['qr_code_base64']}"
    await page.click("#simulate")
    await page.wait_for_selector("#status")

    assert await page.text_content("#status") == f"Payment {p['id']} is approved."
    assert await page.query_selector("#simulate") is None
    after = mp.payment().get(p["id"])["response"]
    assert (after["status"], after["status_detail"]) == ("approved", "accredited")
    assert hook_server.wait_for(
        lambda got: [r.json()["action"] for r in got] == ["payment.created",
                                                         "payment.updated"])
    last = hook_server.received[-1]
    assert verify(last.headers, last.path, default_secret("mercadopago")) == str(p["id"])


async def test_a_boleto_page_shows_the_digitable_line(
        page: Page, payment_simulator: SimulatorServer) -> None:
    mp, p = create(payment_simulator, "bolbradesco")
    line = p["transaction_details"]["digitable_line"]

    await page.goto(p["transaction_details"]["external_resource_url"])

    shown = await page.text_content("#digitable_line") or ""
    assert shown.replace(".", "").replace(" ", "") == line
    await page.click("#simulate")
    await page.wait_for_selector("#status")
    assert mp.payment().get(p["id"])["response"]["status"] == "approved"


async def test_an_expired_pix_page_offers_no_payment(
        page: Page, payment_simulator: SimulatorServer) -> None:
    _, p = create(payment_simulator, "pix")
    payment_simulator.client.complete(str(p["id"]), "expired")

    await page.goto(p["point_of_interaction"]["transaction_data"]["ticket_url"])

    assert await page.text_content("#status") == f"Payment {p['id']} is cancelled."
    assert await page.query_selector("#simulate") is None
