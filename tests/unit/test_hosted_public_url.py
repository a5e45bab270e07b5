"""Hosted pages are linked from the public URL (`--public-url`) when one is set, whatever
address the API request came to: the shopper's browser reaches the simulator there."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient, TestServer

from paysandbox.app import create_app
from paysandbox.settings import Settings

PUBLIC = "https://sandbox.example.test"


async def test_mollie_checkout_and_mercadopago_ticket_links_start_with_the_public_url() -> None:
    app = create_app(Settings(providers=("mollie", "mercadopago"), public_url=PUBLIC))
    async with TestClient(TestServer(app)) as client:
        created = await client.post(
            "/mollie/v2/payments", headers={"Authorization": "Bearer test_public_url"},
            json={"amount": {"currency": "EUR", "value": "10.00"}, "description": "Order 1",
                  "redirectUrl": "https://shop.example/return", "method": "ideal"})
        assert created.status == 201, await created.text()
        checkout = (await created.json())["_links"]["checkout"]["href"]
        assert checkout.startswith(PUBLIC + "/__hosted/mollie/checkout/")
        page = await client.get(checkout.removeprefix(PUBLIC))
        assert page.status == 200
        assert f"action='{checkout}'" in await page.text()

        pix = await client.post(
            "/mercadopago/v1/payments",
            headers={"Authorization": "Bearer TEST-123-456",
                     "X-Idempotency-Key": str(uuid.uuid4())},
            json={"transaction_amount": 10, "payment_method_id": "pix",
                  "payer": {"email": "payer@example.com"}})
        assert pix.status == 201, await pix.text()
        ticket = (await pix.json())["point_of_interaction"]["transaction_data"]["ticket_url"]
        assert ticket.startswith(PUBLIC + "/__hosted/mercadopago/tickets/")
        shown = await client.get(ticket.removeprefix(PUBLIC))
        assert shown.status == 200
        assert f"action='{ticket}/pay'" in await shown.text()
