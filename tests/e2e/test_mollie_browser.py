"""Mollie's hosted test checkout, clicked in headless Chromium as a tester would.

The official SDK creates and fetches the payments; only the browser touches the
checkout. After the click the shopper lands on the shop's redirectUrl, and the shop's
webhook receives `id=tr_…` and fetches the status, as a payment service does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.providers import mollie_support as support

if TYPE_CHECKING:
    from playwright.async_api import Page

    from paysandbox.testing.server import SimulatorServer
    from tests.conftest import WebhookReceiver

    from .conftest import ReturnReceiver

# The browser lives on the session's loop (see conftest.py).
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def pay_at_checkout(page: Page, checkout: str, button: str,
                          receiver: ReturnReceiver) -> None:
    """Open the checkout link, click a status, follow the 303 back to the shop."""
    await page.goto(checkout)
    async with page.expect_navigation(url=lambda u: u.startswith(receiver.url)):
        await page.click(button)
    assert await page.text_content("#shop") == "Back at the shop"


@pytest.mark.parametrize("status", ["paid", "failed", "canceled", "expired"])
async def test_the_tester_picks_the_status_and_the_webhook_reports_it(
        page: Page, payment_simulator: SimulatorServer, return_receiver: ReturnReceiver,
        hook_server: WebhookReceiver, status: str) -> None:
    mollie = support.client(payment_simulator)
    p = support.create(mollie, amount={"currency": "EUR", "value": "12.34"},
                       issuer="ideal_RABONL2U", redirectUrl=return_receiver.url,
                       webhookUrl=hook_server.url)

    await page.goto(p.checkout_url)
    assert await page.text_content("#amount") == "12.34 EUR"
    assert await page.text_content("#method") == "iDEAL"
    assert await page.text_content("#issuer") == "Rabobank"
    await pay_at_checkout(page, p.checkout_url, f"#{status}", return_receiver)

    assert return_receiver.hits == [{}]  # Mollie adds nothing to the redirectUrl
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert support.webhook_id(hook_server.received[0]) == p.id
    assert support.refetched_statuses(mollie, hook_server) == [status]


async def test_a_card_failure_reason_chosen_on_the_page_reaches_the_api(
        page: Page, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    mollie = support.client(payment_simulator)
    p = support.create(mollie, method="creditcard", redirectUrl=return_receiver.url)

    await page.goto(p.checkout_url)
    await page.select_option("#reason", "insufficient_funds")
    async with page.expect_navigation(url=lambda u: u.startswith(return_receiver.url)):
        await page.click("#failed")

    failed = mollie.payments.get(p.id)
    assert failed.status == "failed"
    assert failed.details["failureReason"] == "insufficient_funds"


async def test_the_link_shows_the_outcome_once_the_payment_is_finished(
        page: Page, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    mollie = support.client(payment_simulator)
    p = support.create(mollie, redirectUrl=return_receiver.url)
    await pay_at_checkout(page, p.checkout_url, "#paid", return_receiver)

    await page.goto(p.checkout_url)
    assert await page.query_selector("#failed") is None
    assert await page.text_content("#status") == f"Payment {p.id} is paid."
    assert mollie.payments.get(p.id).status == "paid"
